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

/// Flags for a node in `dir` on free ports, plus `extra`.
pub fn cli(dir: &Path, extra: &[&str]) -> Cli {
    let mut args: Vec<String> = vec!["kith-node".into()];
    let d = |p: &str| dir.join(p).display().to_string();
    for (flag, value) in [
        ("--http", "127.0.0.1:0".to_owned()),
        ("--ws-port", "0".to_owned()),
        ("--webrtc-port", "0".to_owned()),
        ("--key-file", d("identity.key")),
        ("--cert-file", d("cert.pem")),
        ("--dist", d("dist")),
    ] {
        args.push(flag.into());
        args.push(value);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    Cli::try_parse_from(args).expect("valid flags")
}
