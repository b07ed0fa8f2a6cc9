//! Local search figures for `cargo xtask bench`: 10,000 posts held (100 followed feeds of 100
//! posts, words drawn from a 3,000-word vocabulary, common words far more often, with
//! `#tags` and `@handles`), read into the app at start as the browser does, then searched
//! as a person types.
//!
//! - `search_local_ms_p50` / `_p99`: one [`Command::SearchText`] through [`App::handle`],
//!   from the command to the update handed to the UI (the index lookup, the ranking and the
//!   post views), for every keystroke of 40 queries (words, two-word phrases, tags,
//!   handles); natively, over a `MemoryStore` (the search never reads the store);
//! - `search_local_hits_p50`: posts found per query, so the figure is not timing empty
//!   answers;
//! - `search_start_ms`: `App::load` of the 10,000 posts, index included (the index is built
//!   as posts enter the library; compare `first_post_ms` for the browser's start).
//!
//! Prints one JSON object. Run: `cargo run --release -p kith-app --example bench_search`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use futures::FutureExt;
use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use kith_app::route::Route;
use kith_app::{App, Command, Env, Update};
use kith_core::{Feed, Identity, Payload};
use kith_store::{MemoryStore, Store};

const FEEDS: u64 = 100;
const POSTS: u64 = 100;
const VOCABULARY: usize = 3_000;
const QUERIES: usize = 40;

/// A small deterministic generator (xorshift), so every run searches the same posts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// An index below `n`, small ones far more likely (roughly as words are used).
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((u * u * u) * n as f64) as usize
    }
}

fn vocabulary(rng: &mut Rng) -> Vec<String> {
    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "ne", "ru", "st", "ta", "ve", "ri", "on", "el", "am", "po", "qu", "si",
        "th", "ar", "en", "dy", "ch", "ol", "be", "na", "ux",
    ];
    let mut words = Vec::with_capacity(VOCABULARY);
    while words.len() < VOCABULARY {
        let n = 2 + (rng.next() % 3) as usize;
        let w: String = (0..n)
            .map(|_| SYLLABLES[(rng.next() % 24) as usize])
            .collect();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

fn median(xs: &mut [f64], q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

#[allow(clippy::print_stdout)] // the JSON line on stdout is this program's output
fn main() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let words = vocabulary(&mut rng);
    let mut pool = LocalPool::new();
    let store = Rc::new(MemoryStore::new());
    let me = Identity::from_secret([1; 32]);
    let now = kith_app::now_ms();
    pool.run_until(async {
        store.set_identity(&me.secret()).await.expect("identity");
        for f in 0..FEEDS {
            let mut seed = [9u8; 32];
            seed[..8].copy_from_slice(&f.to_be_bytes());
            let id = Identity::from_secret(seed);
            let mut feed = Feed::new(id.author());
            for p in 0..POSTS {
                let n = 8 + (rng.next() % 23) as usize;
                let mut text: Vec<String> = (0..n)
                    .map(|_| words[rng.skewed(VOCABULARY)].clone())
                    .collect();
                if p % 5 == 0 {
                    text.push(format!("#{}", words[rng.skewed(200)]));
                }
                if p % 7 == 0 {
                    text.push(format!("@person{}", rng.next() % FEEDS));
                }
                let ts = now - (FEEDS * POSTS - (f * POSTS + p)) * 1_000;
                feed.append(&id, &Payload::post(text.join(" ")), ts)
                    .expect("append");
            }
            store.insert(feed.entries()).await.expect("store");
            store
                .update_meta(&id.author(), &|m| m.followed = true)
                .await
                .expect("follow");
        }
    });

    let updates: Rc<RefCell<Vec<Update>>> = Rc::default();
    let out = updates.clone();
    let spawner = pool.spawner();
    let env = Env {
        out: Rc::new(move |u| out.borrow_mut().push(u)),
        spawn: Rc::new(move |task| spawner.spawn_local(task).expect("spawn")),
        random: Rc::new(|buf: &mut [u8]| {
            buf.fill(7);
            Ok(())
        }),
        persist: Rc::new(|_| futures::future::ready(Ok(true)).boxed_local()),
        origin: "http://127.0.0.1:8080".into(),
    };
    let app = App::new(store.clone(), me, env);
    let t = Instant::now();
    pool.run_until(app.load(Route::Discover));
    pool.run_until_stalled();
    let start_ms = t.elapsed().as_secs_f64() * 1000.0;

    // Queries: common and rare words, two-word phrases, tags and handles, each typed a
    // character at a time (every keystroke is a search, as in the app).
    let mut queries = Vec::new();
    for i in 0..QUERIES {
        let q = match i % 4 {
            0 => words[rng.skewed(VOCABULARY)].clone(),
            1 => format!(
                "{} {}",
                words[rng.skewed(300)],
                words[rng.skewed(VOCABULARY)]
            ),
            2 => format!("#{}", words[rng.skewed(200)]),
            _ => format!("@person{}", rng.next() % FEEDS),
        };
        queries.push(q);
    }
    let mut times = Vec::new();
    let mut hits = Vec::new();
    for q in &queries {
        for end in q.char_indices().map(|(i, c)| i + c.len_utf8()) {
            updates.borrow_mut().clear();
            let t = Instant::now();
            pool.run_until(app.handle(Command::SearchText(q[..end].to_owned())));
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            let total = updates.borrow().iter().find_map(|u| match u {
                Update::TextSearch(s) => Some(s.total),
                _ => None,
            });
            hits.push(total.expect("a search answers") as f64);
        }
    }
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut out = serde_json::Map::new();
    out.insert(
        "search_local_ms_p50".into(),
        round(median(&mut times.clone(), 0.5)).into(),
    );
    out.insert(
        "search_local_ms_p99".into(),
        round(median(&mut times, 0.99)).into(),
    );
    out.insert(
        "search_local_hits_p50".into(),
        median(&mut hits, 0.5).into(),
    );
    out.insert("search_start_ms".into(), round(start_ms).into());
    out.insert("search_posts_held".into(), (FEEDS * POSTS).into());
    println!("{}", serde_json::Value::Object(out));
}
