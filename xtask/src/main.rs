//! `cargo xtask`: the project's set-up, run, test and bench commands.
//!
//! - `cargo xtask run`: installs what is missing, builds the app (release) and serves it with
//!   kith-node at http://127.0.0.1:8080.
//! - `cargo xtask test [all|lint|native|wasm|e2e]`: the whole suite, or one part of it.
//! - `cargo xtask bench [app|search|soak|backfill|bytes|start|scale] [--scale-nodes N] [--scale-clients M]`:
//!   measures and writes `target/bench/report.json` (all, or one part alone); the flags size
//!   the scale bench (8 kith-nodes and 1,000 people by default).
//! - `cargo xtask setup`: only installs the tools.
//!
//! [`setup`] installs tools idempotently (each step first checks what is there), [`proc`]
//! runs commands and owns background processes (stopped by PID when dropped), and [`tasks`]
//! strings them together.

mod proc;
mod setup;
mod tasks;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <run | test [all|lint|native|wasm|e2e] | bench [app|search|soak|backfill|bytes|start|scale] [--scale-nodes N] [--scale-clients M] | setup>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (args, scale) = match tasks::Scale::from_args(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("xtask: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match args.as_slice() {
        ["run"] => tasks::run(),
        ["test"] | ["test", "all"] => tasks::test(&["lint", "native", "wasm", "e2e"]),
        ["test", parts @ ..] if parts.iter().all(|p| tasks::TEST_PARTS.contains(p)) => {
            tasks::test(parts)
        }
        ["bench"] => tasks::bench(scale),
        ["bench", "scale"] => tasks::bench_scale(scale),
        ["bench", "backfill"] => tasks::bench_backfill(),
        ["bench", "bytes"] => tasks::bench_bytes(),
        ["bench", "start"] => tasks::bench_start(),
        ["bench", "app"] => tasks::bench_app(),
        ["bench", "search"] => tasks::bench_search(),
        ["bench", "soak"] => tasks::bench_soak(),
        ["setup"] => setup::Tools::for_everything().map(|_| ()),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
