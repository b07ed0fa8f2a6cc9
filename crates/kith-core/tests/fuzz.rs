//! A coverage-free fuzz harness for the two decoders that take bytes from peers: entries and
//! sync messages. It mutates valid inputs (bit flips, random bytes, truncation, extension,
//! splices) for a fixed budget of executions, and fails on any panic, or on a mutated entry
//! that is accepted with a different identity or content than its seed.
//!
//! Budget: `KITH_FUZZ_EXECS` executions per decoder (default 50,000, a few seconds each).
//! `cargo test -p kith-core --release --test fuzz -- --nocapture` prints the counts.
#![cfg(not(target_arch = "wasm32"))]

use std::panic::{AssertUnwindSafe, catch_unwind};

use kith_core::sync::{self, Message};
use kith_core::{Feed, Identity, Payload, validate_detached};

const NOW: u64 = 1_767_225_600_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => v.truncate(rng.below(v.len() + 1)),
            3 => v.extend((0..rng.below(16)).map(|_| rng.next() as u8)),
            4 if !v.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let at = rng.below(v.len());
                let from = rng.below(other.len());
                let len = rng.below(other.len() - from + 1);
                v.splice(at..at, other[from..from + len].iter().copied());
            }
            _ if !v.is_empty() => {
                // Overwrite a varint-sized run with large values: lengths and counts.
                let i = rng.below(v.len());
                for b in v.iter_mut().skip(i).take(4) {
                    *b = 0xff;
                }
            }
            _ => {}
        }
    }
    v
}

fn execs() -> usize {
    std::env::var("KITH_FUZZ_EXECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000)
}

fn seeds() -> (Feed, Vec<Vec<u8>>) {
    let me = Identity::from_secret([42; 32]);
    let mut f = Feed::new(me.author());
    let first = f
        .append(&me, &Payload::post("hello, world"), NOW)
        .expect("post")
        .entry_ref();
    let payloads = [
        Payload::Post {
            text: "a reply ✨".into(),
            reply_to: Some(first),
            mentions: vec![me.author()],
            images: vec![
                kith_core::ImageRef::of(
                    &kith_core::image::samples::png(32, 16, 2, 0),
                    kith_core::image::MAX_IMAGE_SIDE,
                )
                .expect("an image"),
            ],
        },
        Payload::Profile {
            name: "Ada".into(),
            bio: "bio".into(),
            avatar: Some(
                kith_core::ImageRef::of(
                    &kith_core::image::samples::png(64, 64, 1, 0),
                    kith_core::image::MAX_AVATAR_SIDE,
                )
                .expect("an avatar")
                .to_avatar(),
            ),
        },
        Payload::Follow {
            author: Identity::from_secret([1; 32]).author(),
        },
        Payload::Unfollow {
            author: Identity::from_secret([1; 32]).author(),
        },
        Payload::Reaction {
            target: first,
            emoji: "👍".into(),
        },
        Payload::Delete { target: first },
    ];
    for p in &payloads {
        f.append(&me, p, NOW).expect("append");
    }
    let corpus = f.entries().iter().map(|e| e.encode()).collect();
    (f, corpus)
}

#[test]
fn entry_decoder_survives_mutations() {
    let (feed, corpus) = seeds();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut accepted, mut crashes) = (0usize, Vec::new());
    let n = execs();
    for _ in 0..n {
        let i = rng.below(corpus.len());
        let input = mutate(&mut rng, &corpus[i], &corpus);
        match catch_unwind(AssertUnwindSafe(|| validate_detached(&input, NOW))) {
            Err(_) => crashes.push(input),
            Ok(Ok(e)) => {
                accepted += 1;
                // Only the framing or the payload's presence can change without the key.
                let seed = &feed.entries()[i];
                let same = e.hash() == seed.hash()
                    && (e.payload().is_none() || e.payload() == seed.payload());
                assert!(
                    same,
                    "a mutated entry was accepted as something else: {input:02x?}"
                );
            }
            Ok(Err(_)) => {}
        }
    }
    eprintln!(
        "fuzz entry decoder: {n} execs, {accepted} accepted unchanged, {} crashes",
        crashes.len()
    );
    assert!(
        crashes.is_empty(),
        "decoder panicked on {:02x?}",
        crashes[0]
    );
}

#[test]
fn sync_decoder_survives_mutations() {
    let (feed, entries) = seeds();
    let author = feed.author();
    let messages = [
        Message::Frontier {
            heads: vec![(author, 7), (Identity::from_secret([3; 32]).author(), 2)],
            reply: false,
        },
        Message::Request {
            author,
            from: 2,
            limit: 32,
        },
        Message::Entries {
            author,
            from: 1,
            entries: entries.clone(),
            deletes: vec![],
        },
    ];
    let corpus: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| sync::encode(m).expect("encode"))
        .collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut decoded, mut crashes) = (0usize, Vec::new());
    let n = execs();
    for _ in 0..n {
        let i = rng.below(corpus.len());
        let input = mutate(&mut rng, &corpus[i], &corpus);
        match catch_unwind(AssertUnwindSafe(|| {
            // Decode, and feed the result to a session as a peer would.
            let ok = sync::decode(&input).is_ok();
            let mut s = sync::Session::new(sync::Config::default(), [], [author].into(), NOW);
            s.handle(
                Message::Frontier {
                    heads: vec![(author, 7)],
                    reply: true,
                },
                NOW,
            );
            s.handle_bytes(&input, NOW);
            while s.poll_event().is_some() {}
            ok
        })) {
            Err(_) => crashes.push(input),
            Ok(true) => decoded += 1,
            Ok(false) => {}
        }
    }
    eprintln!(
        "fuzz sync decoder: {n} execs, {decoded} decoded, {} crashes",
        crashes.len()
    );
    assert!(
        crashes.is_empty(),
        "sync decoder panicked on {:02x?}",
        crashes[0]
    );
}
