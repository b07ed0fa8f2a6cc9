//! Writes a backup file of a fresh identity with N posts, and optionally F followed feeds of
//! M posts each, for the app benchmarks (`cargo xtask bench` restores it in the browser to
//! measure a start).
//!
//! `make_backup <out-file> <passphrase> <posts> [<feeds> <posts-per-feed>]`

use std::process::ExitCode;

use kith_core::{Feed, Identity, KdfParams, Payload};
use kith_store::{MemoryStore, Store, backup};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let number = |i: usize| args.get(i).and_then(|n| n.parse::<u64>().ok());
    let (Some(out), Some(pass), Some(n)) = (args.get(1), args.get(2), number(3)) else {
        eprintln!("usage: make_backup <out-file> <passphrase> <posts> [<feeds> <posts-per-feed>]");
        return ExitCode::FAILURE;
    };
    let (feeds, per_feed) = (number(4).unwrap_or(0), number(5).unwrap_or(0));
    match futures::executor::block_on(make(pass, n, feeds, per_feed)) {
        Ok(bytes) => match std::fs::write(out, bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("make_backup: writing {out}: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("make_backup: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A feed of `posts` posts by `identity` after a profile named `name`, one every `step` ms
/// from `start`.
fn feed_of(
    identity: &Identity,
    name: &str,
    posts: u64,
    start: u64,
    step: u64,
) -> Result<Vec<kith_core::VerifiedEntry>, String> {
    let mut feed = Feed::new(identity.author());
    let profile = Payload::Profile {
        name: name.into(),
        bio: format!("{posts} posts."),
        avatar: None,
    };
    let mut entries = vec![
        feed.append(identity, &profile, start)
            .map_err(|e| e.to_string())?
            .clone(),
    ];
    for i in 1..=posts {
        let p = Payload::post(format!(
            "Post number {i} of {posts} by {name}: the quick brown fox jumps over the lazy dog."
        ));
        entries.push(
            feed.append(identity, &p, start + i * step)
                .map_err(|e| e.to_string())?
                .clone(),
        );
    }
    Ok(entries)
}

async fn make(pass: &str, n: u64, feeds: u64, per_feed: u64) -> Result<Vec<u8>, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as u64;
    let mut secret = [0u8; 32];
    for (i, b) in secret.iter_mut().enumerate() {
        *b = (now >> (i % 8)) as u8 ^ i as u8;
    }
    let identity = Identity::from_secret(secret);
    let store = MemoryStore::new();
    // Posts spaced a second apart, ending a minute ago.
    let start = now - 60_000 - n * 1000;
    let entries = feed_of(&identity, "Bench", n, start, 1000)?;
    store.insert(&entries).await.map_err(|e| e.to_string())?;
    store
        .update_meta(&identity.author(), &|m| m.followed = true)
        .await
        .map_err(|e| e.to_string())?;
    // The followed feeds' posts interleave over the same hours, each feed's a little apart.
    for f in 0..feeds {
        let mut key = secret;
        key[..8].copy_from_slice(&(f + 1).to_be_bytes());
        let other = Identity::from_secret(key);
        let span = (n.max(per_feed) + 1) * 1000;
        let entries = feed_of(
            &other,
            &format!("Friend {f}"),
            per_feed,
            now - 60_000 - span + f * 7,
            span / (per_feed + 1),
        )?;
        store.insert(&entries).await.map_err(|e| e.to_string())?;
        store
            .update_meta(&other.author(), &|m| m.followed = true)
            .await
            .map_err(|e| e.to_string())?;
    }
    backup::export(
        &store,
        &identity,
        pass,
        KdfParams::RECOMMENDED,
        backup::Randomness {
            salt: [7; 16],
            nonce: [9; 12],
            // A bench fixture with no messages: nothing is sealed with it.
            dms_seed: [11; 32],
        },
        now,
    )
    .await
    .map_err(|e| e.to_string())
}
