//! Helpers shared by the node's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use clap::Parser;
use kith_node::Cli;

/// A temporary directory with a minimal built app in `dist/`.
pub fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("dist")).expect("mkdir dist");
    std::fs::write(
        dir.path().join("dist/index.html"),
        "<!doctype html><title>kith</title>",
    )
    .expect("write index.html");
    dir
}

/// Flags for a node on free ports with its files in `dir`, except those `extra` gives, then
/// `extra`.
pub fn args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let d = |p: &str| dir.join(p).display().to_string();
    let defaults = [
        ("--http", "127.0.0.1:0".to_owned()),
        ("--ws-port", "0".to_owned()),
        ("--webrtc-port", "0".to_owned()),
        ("--key-file", d("identity.key")),
        ("--cert-file", d("cert.pem")),
        ("--dist", d("dist")),
    ];
    let mut args = Vec::new();
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag.to_owned(), value]);
        }
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The parsed flags of [`args`].
pub fn cli(dir: &Path, extra: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("kith-node".to_owned()).chain(args(dir, extra)))
        .expect("valid flags")
}
