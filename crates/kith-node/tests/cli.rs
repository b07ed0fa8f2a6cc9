//! Bad input to the binary: one plain line on stderr, a non-zero exit, never a panic.

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary with `extra` flags; free ports and files in `dir` for every flag not given.
fn run(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kith-node"))
        .args(common::args(dir, extra))
        .env("KITH_LOG", "off")
        .output()
        .expect("run kith-node")
}

fn assert_one_line_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exited 0; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("kith-node: "), "{stderr}");
    assert!(
        lines[0].contains(needle),
        "expected {needle:?} in: {stderr}"
    );
}

#[test]
fn malformed_bootstrap_address() {
    let dir = common::workdir();
    assert_one_line_error(
        &run(dir.path(), &["--bootstrap", "nonsense"]),
        "not a multiaddr",
    );
    assert_one_line_error(
        &run(dir.path(), &["--bootstrap", "/ip4/127.0.0.1/tcp/9090/ws"]),
        "/p2p/<peer id>",
    );
}

#[test]
fn port_already_in_use() {
    let dir = common::workdir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let http = format!("127.0.0.1:{port}");
    assert_one_line_error(&run(dir.path(), &["--http", &http]), "cannot serve HTTP");
    assert_one_line_error(&run(dir.path(), &["--ws-port", &port]), "--ws-port");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    let udp_port = udp.local_addr().expect("addr").port().to_string();
    assert_one_line_error(
        &run(dir.path(), &["--webrtc-port", &udp_port]),
        "--webrtc-port",
    );
}

#[test]
fn corrupt_key_file() {
    let dir = common::workdir();
    std::fs::write(dir.path().join("identity.key"), b"\x00not a key").expect("write");
    assert_one_line_error(&run(dir.path(), &[]), "is corrupt");
    // The corrupt file is left as it was, never replaced by a new identity.
    assert_eq!(
        std::fs::read(dir.path().join("identity.key")).expect("read"),
        b"\x00not a key"
    );
}

#[test]
fn missing_dist() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_one_line_error(&run(dir.path(), &[]), "the app is not built");
}

/// `--print-csp` prints the policy a `<meta>` element carries for other hosts: the header's
/// policy (the same script hashes) without `frame-ancestors`, which a `<meta>` cannot set;
/// a missing file is one plain error.
#[test]
fn print_csp_gives_the_meta_policy_for_other_hosts() {
    let dir = common::workdir();
    let index = dir.path().join("index.html");
    std::fs::write(
        &index,
        "<!doctype html><title>kith</title><script>var a = 1;</script>",
    )
    .expect("index.html");
    let out = Command::new(env!("CARGO_BIN_EXE_kith-node"))
        .arg("--print-csp")
        .arg(&index)
        .output()
        .expect("run kith-node");
    assert!(out.status.success());
    let policy = String::from_utf8(out.stdout).expect("utf-8");
    let html = std::fs::read_to_string(&index).expect("read");
    assert_eq!(policy.trim(), kith_node::http::meta_policy(&html));
    assert!(policy.contains("'sha256-+dZ6udsWxNVoGfScAq7t5IIF5UJb4F6RhjbN6oe1p4w='"));
    assert!(!policy.contains("frame-ancestors"));
    assert_eq!(
        kith_node::http::content_security_policy(&html),
        format!("{}; frame-ancestors 'none'", policy.trim())
    );
    assert_one_line_error(
        &Command::new(env!("CARGO_BIN_EXE_kith-node"))
            .arg("--print-csp")
            .arg(dir.path().join("missing.html"))
            .output()
            .expect("run kith-node"),
        "missing.html",
    );
}
