//! Writes a backup file of a fresh identity with N posts, for the app benchmarks
//! (`cargo xtask bench` restores it in the browser to measure a warm start).
//!
//! `make_backup <out-file> <passphrase> <posts>`

use std::process::ExitCode;

use kith_core::{Feed, Identity, KdfParams, Payload};
use kith_store::{MemoryStore, Store, backup};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(pass), Some(n)) = (
        args.get(1),
        args.get(2),
        args.get(3).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: make_backup <out-file> <passphrase> <posts>");
        return ExitCode::FAILURE;
    };
    match futures::executor::block_on(make(pass, n)) {
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

async fn make(pass: &str, n: u64) -> Result<Vec<u8>, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as u64;
    let mut secret = [0u8; 32];
    for (i, b) in secret.iter_mut().enumerate() {
        *b = (now >> (i % 8)) as u8 ^ i as u8;
    }
    let identity = Identity::from_secret(secret);
    let mut feed = Feed::new(identity.author());
    let store = MemoryStore::new();
    let profile = Payload::Profile {
        name: "Bench".into(),
        bio: "A thousand posts.".into(),
        avatar: None,
    };
    // Posts spaced a second apart, ending a minute ago.
    let start = now - 60_000 - n * 1000;
    let mut entries = vec![
        feed.append(&identity, &profile, start)
            .map_err(|e| e.to_string())?
            .clone(),
    ];
    for i in 1..=n {
        let p = Payload::post(format!(
            "Post number {i} of {n}: the quick brown fox jumps over the lazy dog."
        ));
        entries.push(
            feed.append(&identity, &p, start + i * 1000)
                .map_err(|e| e.to_string())?
                .clone(),
        );
    }
    store.insert(&entries).await.map_err(|e| e.to_string())?;
    store
        .update_meta(&identity.author(), &|m| m.followed = true)
        .await
        .map_err(|e| e.to_string())?;
    backup::export(
        &store,
        &identity,
        pass,
        KdfParams::RECOMMENDED,
        [7; 16],
        [9; 12],
        now,
    )
    .await
    .map_err(|e| e.to_string())
}
