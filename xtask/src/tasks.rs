//! The commands: run, test and bench.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::proc::{Background, cmd, make_room, root, run as run_cmd, step, target_dir};
use crate::setup::Tools;

/// The parts `cargo xtask test` can run on their own.
pub(crate) const TEST_PARTS: &[&str] = &["lint", "native", "wasm", "e2e"];

/// Crates that compile for the browser.
const WASM_CRATES: &[&str] = &[
    "kith-core",
    "kith-store",
    "kith-net",
    "kith-webrtc",
    "kith-web",
];

/// Where the kith-node for the browser backfill bench serves.
const BACKFILL_NODE_HTTP: &str = "127.0.0.1:28280";
/// Where the kith-node for the wasm tests serves; the tests read it at build time.
const WASM_TEST_NODE_HTTP: &str = "127.0.0.1:18080";

fn cargo(args: &[&str]) -> Command {
    cmd("cargo", args)
}

/// Builds the app into `dist` with Trunk, then writes its Content-Security-Policy into
/// `index.html` as a `<meta>` element (for hosts other than kith-node, which sends it as a
/// header), computed by `node` (a kith-node binary, built first: `--print-csp`). `release`
/// uses the size-optimised wasm profile.
fn build_app(_: &Tools, dist: &Path, release: bool, node: &Path) -> Result<()> {
    let out = dist.to_string_lossy().into_owned();
    let mut args = vec!["build", "index.html", "--dist", out.as_str()];
    if release {
        args.push("--release");
    }
    run_cmd(cmd("trunk", &args).env("TRUNK_SKIP_VERSION_CHECK", "true"))?;
    let index = dist.join("index.html");
    let policy = Command::new(node).arg("--print-csp").arg(&index).output()?;
    if !policy.status.success() {
        bail!(
            "kith-node --print-csp failed: {}",
            String::from_utf8_lossy(&policy.stderr)
        );
    }
    let policy = String::from_utf8(policy.stdout)?;
    let html = std::fs::read_to_string(&index)?;
    let meta = format!(
        "<head>\n    <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        policy.trim()
    );
    if !html.contains("<head>") {
        bail!("{} has no <head> to put the policy in", index.display());
    }
    std::fs::write(&index, html.replacen("<head>", &meta, 1))?;
    Ok(())
}

fn node_bin(profile: &str) -> PathBuf {
    target_dir().join(profile).join("kith-node")
}

/// Builds what `run` serves: the app into `dist/` and kith-node, both release.
fn build_release(tools: &Tools) -> Result<PathBuf> {
    let dist = root().join("dist");
    step("build kith-node (release)", build_node_release)?;
    step("build the app (release)", || {
        build_app(tools, &dist, true, &node_bin("release"))
    })?;
    Ok(dist)
}

fn build_node_release() -> Result<()> {
    run_cmd(&mut cargo(&[
        "build",
        "--locked",
        "--release",
        "-p",
        "kith-node",
    ]))
}

/// `cargo xtask run`.
pub(crate) fn run() -> Result<()> {
    let tools = Tools::for_build()?;
    let dist = build_release(&tools)?;
    eprintln!("\nStarting kith-node; Ctrl-C stops it.");
    let mut node = Command::new(node_bin("release"));
    node.current_dir(root())
        .args(["--http", "127.0.0.1:8080", "--dist"])
        .arg(&dist);
    run_cmd(&mut node)
}

/// `cargo xtask test [parts]`.
pub(crate) fn test(parts: &[&str]) -> Result<()> {
    make_room()?;
    let tools = if parts.iter().any(|p| *p == "wasm" || *p == "e2e") {
        Some(Tools::for_everything()?)
    } else {
        None
    };
    let mut times = Vec::new();
    for part in parts {
        let took = match *part {
            "lint" => lint()?,
            "native" => step("native tests", || {
                run_cmd(&mut cargo(&[
                    "test",
                    "--locked",
                    "--workspace",
                    "--exclude",
                    "kith-web",
                ]))
            })?,
            "wasm" => wasm_tests(tools.as_ref().context("tools")?)?,
            "e2e" => e2e(tools.as_ref().context("tools")?)?,
            other => bail!("unknown test part {other}"),
        };
        times.push((*part, took));
    }
    eprintln!("\nAll requested tests passed.");
    for (part, took) in times {
        eprintln!("  {part:<7} {:>7.1} s", took.as_secs_f64());
    }
    Ok(())
}

fn lint() -> Result<Duration> {
    step("lint: fmt, clippy native, clippy wasm32", || {
        run_cmd(&mut cargo(&["fmt", "--all", "--", "--check"]))?;
        run_cmd(&mut cargo(&[
            "clippy",
            "--locked",
            "--workspace",
            "--exclude",
            "kith-web",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
        let mut args = vec![
            "clippy",
            "--locked",
            "--target",
            "wasm32-unknown-unknown",
            "--all-targets",
        ];
        // kith-app's rules are tested natively; here it is linted for the browser too.
        for c in WASM_CRATES.iter().chain(&["kith-app"]) {
            args.extend(["-p", c]);
        }
        args.extend(["--", "-D", "warnings"]);
        run_cmd(&mut cargo(&args))
    })
}

/// Starts a debug kith-node with its own data directory for a test run.
fn test_node(http: &str, ws: &str, webrtc: &str, dist: &Path) -> Result<Background> {
    let data = target_dir().join("test-node-data");
    // Each run starts with an empty DHT: records of earlier runs point at peers long gone.
    let _ = std::fs::remove_file(data.join("dht.bin"));
    let mut c = Command::new(node_bin("debug"));
    c.current_dir(root())
        .args(["--http", http, "--ws-port", ws, "--webrtc-port", webrtc])
        .arg("--key-file")
        .arg(data.join("identity.key"))
        .arg("--cert-file")
        .arg(data.join("cert.pem"))
        .arg("--dist")
        .arg(dist);
    Background::start(c, "kith-node", "Open http://", Duration::from_secs(30))
}

/// A debug kith-node serving a one-page dist: browser tests and benches that only need its
/// `bootstrap.json` stay independent of the app build.
fn page_less_node(http: &str, ws: &str, webrtc: &str) -> Result<Background> {
    build_node_debug()?;
    let dist = target_dir().join("wasm-test-dist");
    std::fs::create_dir_all(&dist)?;
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>kith test node</title>",
    )?;
    test_node(http, ws, webrtc, &dist)
}

/// Builds the native echo peer (`crates/kith-node/examples/echo_peer.rs`); returns its path.
fn build_echo_peer(release: bool) -> Result<PathBuf> {
    let mut args = vec![
        "build",
        "--locked",
        "-p",
        "kith-node",
        "--example",
        "echo_peer",
    ];
    if release {
        args.push("--release");
    }
    run_cmd(&mut cargo(&args))?;
    let profile = if release { "release" } else { "debug" };
    Ok(target_dir().join(profile).join("examples/echo_peer"))
}

fn build_node_debug() -> Result<()> {
    run_cmd(&mut cargo(&["build", "--locked", "-p", "kith-node"]))
}

fn wasm_tests(_: &Tools) -> Result<Duration> {
    step("wasm tests in headless Chromium", || {
        ensure_free(WASM_TEST_NODE_HTTP, "wasm tests")?;
        let _node = page_less_node(WASM_TEST_NODE_HTTP, "19090", "19091")?;
        // A native peer for the browser-to-native delivery test.
        let mut echo = Command::new(build_echo_peer(false)?);
        echo.arg(WASM_TEST_NODE_HTTP).env("KITH_LOG", "warn");
        let _echo = Background::start(echo, "echo peer", "ready", Duration::from_secs(30))?;
        let mut args = vec!["test", "--locked", "--target", "wasm32-unknown-unknown"];
        for c in WASM_CRATES {
            args.extend(["-p", c]);
        }
        run_cmd(
            cargo(&args)
                .env("CHROMEDRIVER", "/usr/bin/chromedriver")
                .env("WASM_BINDGEN_TEST_TIMEOUT", "180")
                .env("KITH_TEST_NODE", format!("http://{WASM_TEST_NODE_HTTP}")),
        )
    })
}

/// Fails with a plain message when a port the tests need is taken.
fn ensure_free(addr: &str, what: &str) -> Result<()> {
    if std::net::TcpListener::bind(addr).is_err() {
        bail!(
            "{addr} is in use, and the {what} need it: stop whatever holds it (a running `cargo xtask run`?)"
        );
    }
    Ok(())
}

fn e2e(tools: &Tools) -> Result<Duration> {
    step("end-to-end tests in headless Chromium", || {
        let http = std::env::var("KITH_E2E_HTTP").unwrap_or_else(|_| "127.0.0.1:8080".into());
        ensure_free(&http, "end-to-end tests")?;
        ensure_free("127.0.0.1:9090", "end-to-end tests")?;
        build_node_debug()?;
        let dist = target_dir().join("e2e-dist");
        build_app(tools, &dist, false, &node_bin("debug"))?;
        run_cmd(
            cmd("node", &["--test", "--test-concurrency=1", "e2e/"])
                .env("KITH_NODE_BIN", node_bin("debug"))
                .env("KITH_DIST", &dist)
                .env("KITH_E2E_OUT", root().join("target/e2e")),
        )
    })
}

/// The scale bench's sizes (`--scale-nodes`, `--scale-clients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scale {
    nodes: usize,
    clients: usize,
}

impl Scale {
    /// People measured first in the same run, for the `scale100_` figures.
    const SMALL: usize = 100;

    /// Takes `--scale-nodes N` and `--scale-clients M` out of `args` (defaults 8 and 1,000).
    pub(crate) fn from_args<'a>(args: &[&'a str]) -> Result<(Vec<&'a str>, Scale)> {
        let mut scale = Scale {
            nodes: 8,
            clients: 1000,
        };
        let mut rest = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let slot = match *a {
                "--scale-nodes" => &mut scale.nodes,
                "--scale-clients" => &mut scale.clients,
                other => {
                    rest.push(other);
                    continue;
                }
            };
            *slot = it
                .next()
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{a} needs a number"))?;
        }
        if scale.nodes < 2 || scale.clients <= Scale::SMALL {
            bail!("the scale bench needs 2 kith-nodes or more and more than 100 people");
        }
        Ok((rest, scale))
    }
}

/// `cargo xtask bench scale`: only the scale bench; the report then holds its figures alone.
pub(crate) fn bench_scale(scale: Scale) -> Result<()> {
    Tools::for_everything()?;
    step("build kith-node (release)", build_node_release)?;
    let mut figures = BTreeMap::new();
    scale_step(scale, &mut figures)?;
    write_report(&figures)
}

/// Many people on several kith-nodes (`bench_scale`): 100 people, then `scale.clients`.
fn scale_step(scale: Scale, figures: &mut BTreeMap<String, serde_json::Value>) -> Result<()> {
    step(
        &format!(
            "scale: {} people on {} kith-nodes (and {} first)",
            scale.clients,
            scale.nodes,
            Scale::SMALL
        ),
        || {
            for i in 0..scale.nodes {
                ensure_free(&format!("127.0.0.1:{}", 28500 + i), "scale bench")?;
            }
            let mut c = release_example("kith-node", "bench_scale");
            c.env("KITH_NODE_BIN", node_bin("release"))
                .env("KITH_SCALE_NODES", scale.nodes.to_string())
                .env("KITH_SCALE_CLIENTS", scale.clients.to_string())
                .env("KITH_SCALE_ALSO", Scale::SMALL.to_string());
            figures.extend(figures_from(c, "scale bench")?);
            Ok(())
        },
    )?;
    Ok(())
}

/// `cargo xtask bench`: measures, merges into target/bench/report.json, prints a table.
pub(crate) fn bench(scale: Scale) -> Result<()> {
    make_room()?;
    let tools = Tools::for_everything()?;
    let dist = build_release(&tools)?;
    let mut figures = BTreeMap::new();
    step("kith-core natively: sign, verify, timeline merge", || {
        figures.extend(figures_from(
            release_example("kith-core", "bench"),
            "kith-core bench",
        )?);
        Ok(())
    })?;
    search_step(&mut figures)?;
    backfill_steps(&mut figures)?;
    scale_step(scale, &mut figures)?;
    step("failover: a person's node when its kith-node goes", || {
        ensure_free("127.0.0.1:28380", "failover bench")?;
        ensure_free("127.0.0.1:28381", "failover bench")?;
        let mut c = release_example("kith-node", "bench_failover");
        c.env("KITH_NODE_BIN", node_bin("release"));
        figures.extend(figures_from(c, "failover bench")?);
        Ok(())
    })?;
    step("kith-core in headless Chromium: verify", || {
        figures.extend(browser_bench("kith-core", "bench_wasm", &[])?);
        Ok(())
    })?;
    step("kith-store in headless Chromium: IndexedDB", || {
        figures.extend(browser_bench("kith-store", "bench_idb", &[])?);
        Ok(())
    })?;
    app_step(&dist, &mut figures)?;
    bytes_step(&dist, &mut figures)?;
    start_step(&dist, &mut figures)?;
    step("browser: bundle size and page load to connected", || {
        let mut c = cmd("node", &["e2e/bench-connect.mjs"]);
        c.env("KITH_NODE_BIN", node_bin("release"))
            .env("KITH_DIST", &dist);
        figures.extend(figures_from(c, "browser bench (e2e/bench-connect.mjs)")?);
        Ok(())
    })?;
    write_report(&figures)
}

fn search_step(figures: &mut BTreeMap<String, serde_json::Value>) -> Result<()> {
    step("kith-app natively: search of 10,000 held posts", || {
        figures.extend(figures_from(
            release_example("kith-app", "bench_search"),
            "search bench",
        )?);
        Ok(())
    })?;
    step("search across the network: two hops on loopback", || {
        figures.extend(figures_from(
            release_example("kith-node", "bench_search_network"),
            "network search bench",
        )?);
        Ok(())
    })
    .map(|_| ())
}

fn app_step(dist: &Path, figures: &mut BTreeMap<String, serde_json::Value>) -> Result<()> {
    step(
        "browser: first post on a warm start, delivery between two screens, notifications",
        || {
            let c = app_bench("e2e/bench-app.mjs", dist, 1000)?;
            figures.extend(figures_from(c, "app bench (e2e/bench-app.mjs)")?);
            Ok(())
        },
    )
    .map(|_| ())
}

/// `cargo xtask bench app`: only the app bench in headless Chromium (first post, delivery
/// between screens, notifications, direct connections); the report then holds these alone.
pub(crate) fn bench_app() -> Result<()> {
    make_room()?;
    let tools = Tools::for_everything()?;
    let dist = build_release(&tools)?;
    let mut figures = BTreeMap::new();
    app_step(&dist, &mut figures)?;
    write_report(&figures)
}

/// `cargo xtask bench search`: only the search benches (held posts, and across the network).
pub(crate) fn bench_search() -> Result<()> {
    let mut figures = BTreeMap::new();
    search_step(&mut figures)?;
    write_report(&figures)
}

/// `cargo xtask bench bytes`: only what crosses kith-node while two browsers are directly
/// connected (a few minutes); the report then holds these figures alone.
pub(crate) fn bench_bytes() -> Result<()> {
    let tools = Tools::for_everything()?;
    let dist = build_release(&tools)?;
    let mut figures = BTreeMap::new();
    bytes_step(&dist, &mut figures)?;
    write_report(&figures)
}

/// `cargo xtask bench start`: only the cold starts (a few minutes); the report then holds
/// these figures alone.
pub(crate) fn bench_start() -> Result<()> {
    let tools = Tools::for_everything()?;
    let dist = build_release(&tools)?;
    let mut figures = BTreeMap::new();
    start_step(&dist, &mut figures)?;
    write_report(&figures)
}

/// Cold starts of a browser holding 100 feeds of 100 posts and of one holding one feed of 10
/// posts, in the same run (e2e/bench-start.mjs).
fn start_step(dist: &Path, figures: &mut BTreeMap<String, serde_json::Value>) -> Result<()> {
    step(
        "browser: first post on a cold start, large and small",
        || {
            let pass = "kith bench passphrase";
            let backup = |name: &str, args: &[&str]| -> Result<PathBuf> {
                let file = target_dir().join(format!("bench-start-{name}.kith"));
                let mut make = release_example("kith-store", "make_backup");
                make.arg(&file).arg(pass).args(args);
                run_cmd(&mut make)?;
                Ok(file)
            };
            let large = backup("large", &["100", "99", "100"])?;
            let small = backup("small", &["10"])?;
            let mut c = cmd("node", &["e2e/bench-start.mjs"]);
            c.env("KITH_NODE_BIN", node_bin("release"))
                .env("KITH_DIST", dist)
                .env("KITH_BENCH_BACKUP_LARGE", &large)
                .env("KITH_BENCH_BACKUP_SMALL", &small)
                .env("KITH_BENCH_BACKUP_PASS", pass);
            figures.extend(figures_from(c, "start bench (e2e/bench-start.mjs)")?);
            Ok(())
        },
    )?;
    Ok(())
}

/// A backfills 10,000 entries to B and posts 1,000 live, with A and B directly connected;
/// kith-node's own counters say what crossed it (e2e/bench-bytes.mjs).
fn bytes_step(dist: &Path, figures: &mut BTreeMap<String, serde_json::Value>) -> Result<()> {
    step(
        "browser: bytes through kith-node while A and B are directly connected",
        || {
            let mut c = app_bench("e2e/bench-bytes.mjs", dist, 10_000)?;
            c.env("KITH_BENCH_LIVE_POSTS", "1000");
            figures.extend(figures_from(c, "bytes bench (e2e/bench-bytes.mjs)")?);
            Ok(())
        },
    )?;
    Ok(())
}

/// A browser bench script run with the release kith-node and app, and a backup of an
/// identity with `posts` posts to restore (written first by the `make_backup` example).
fn app_bench(script: &str, dist: &Path, posts: u32) -> Result<Command> {
    let backup = target_dir().join(format!("bench-{posts}-posts.kith"));
    let pass = "kith bench passphrase";
    let mut make = release_example("kith-store", "make_backup");
    make.args([backup.to_string_lossy().as_ref(), pass, &posts.to_string()]);
    run_cmd(&mut make)?;
    let mut c = cmd("node", &[script]);
    c.env("KITH_NODE_BIN", node_bin("release"))
        .env("KITH_DIST", dist)
        .env("KITH_BENCH_BACKUP", &backup)
        .env("KITH_BENCH_BACKUP_PASS", pass)
        .env("KITH_BENCH_BACKUP_POSTS", posts.to_string());
    Ok(c)
}

/// `cargo run --release` of an example.
fn release_example(package: &str, example: &str) -> Command {
    let args = [
        "run",
        "--locked",
        "--release",
        "-q",
        "-p",
        package,
        "--example",
        example,
    ];
    cargo(&args)
}

/// `cargo xtask bench soak`: only kith-node's memory over sessions of two people (a few
/// minutes): its growth per session once warm, and the sessions' text left in it.
pub(crate) fn bench_soak() -> Result<()> {
    Tools::for_everything()?;
    step("build kith-node (release)", build_node_release)?;
    let mut figures = BTreeMap::new();
    step("kith-node's memory over sessions (the soak)", || {
        ensure_free("127.0.0.1:28080", "network bench")?;
        let mut c = release_example("kith-node", "bench_net");
        c.env("KITH_NODE_BIN", node_bin("release"))
            .env("KITH_SOAK_ONLY", "1");
        figures.extend(figures_from(c, "soak (network bench)")?);
        Ok(())
    })?;
    write_report(&figures)
}

/// `cargo xtask bench backfill`: only the native and the browser backfill (with the network
/// bench they belong to), in one run, so their ratio can be measured in a few minutes.
pub(crate) fn bench_backfill() -> Result<()> {
    Tools::for_everything()?;
    // The network bench starts the release kith-node (the full bench builds it with the app).
    step("build kith-node (release)", build_node_release)?;
    let mut figures = BTreeMap::new();
    backfill_steps(&mut figures)?;
    write_report(&figures)
}

/// The network bench through kith-node (native backfill among it) and the browser backfill.
fn backfill_steps(figures: &mut BTreeMap<String, serde_json::Value>) -> Result<()> {
    step(
        "network through kith-node: delivery, backfill, lookup, memory",
        || {
            ensure_free("127.0.0.1:28080", "network bench")?;
            let mut c = release_example("kith-node", "bench_net");
            c.env("KITH_NODE_BIN", node_bin("release"));
            figures.extend(figures_from(c, "network bench")?);
            Ok(())
        },
    )?;
    step(
        "browser: backfill 10,000 entries from a native peer into IndexedDB",
        || {
            ensure_free(BACKFILL_NODE_HTTP, "backfill bench")?;
            let _node = page_less_node(BACKFILL_NODE_HTTP, "28290", "28291")?;
            let mut holder = Command::new(build_echo_peer(true)?);
            holder
                .args([BACKFILL_NODE_HTTP, "--hold", "10000"])
                .env("KITH_LOG", "warn");
            let _holder =
                Background::start(holder, "holder peer", "ready", Duration::from_secs(60))?;
            let node = format!("http://{BACKFILL_NODE_HTTP}");
            figures.extend(browser_bench(
                "kith-net",
                "bench_backfill",
                &[("KITH_TEST_NODE", node)],
            )?);
            Ok(())
        },
    )?;
    Ok(())
}

/// Runs a bench program that prints its figures as a JSON object on its last line.
fn figures_from(mut c: Command, what: &str) -> Result<BTreeMap<String, serde_json::Value>> {
    let out = c
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run the {what}"))?;
    if !out.status.success() {
        bail!("the {what} failed ({})", out.status);
    }
    parse_figures(&out.stdout)
}

/// Runs a browser benchmark (a wasm-bindgen test behind the crate's `bench` feature, built
/// with the app's own `wasm-release` profile, so it times the code people run) and returns the
/// figures it posts.
fn browser_bench(
    package: &str,
    test: &str,
    envs: &[(&str, String)],
) -> Result<BTreeMap<String, serde_json::Value>> {
    let (url, rx) = bench_sink()?;
    let mut c = cargo(&[
        "test",
        "--locked",
        "--profile",
        "wasm-release",
        "--features",
        "bench",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        package,
        "--test",
        test,
    ]);
    c.envs(envs.iter().map(|(k, v)| (*k, v.as_str())));
    run_cmd(
        c.env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env("WASM_BINDGEN_TEST_TIMEOUT", "300")
            .env("KITH_BENCH_SINK", url),
    )?;
    let body = rx
        .recv_timeout(Duration::from_secs(5))
        .with_context(|| format!("{package}/{test} posted no figures"))?;
    parse_figures(body.as_bytes())
}

/// The flat JSON object on the last line of a bench's output.
fn parse_figures(out: &[u8]) -> Result<BTreeMap<String, serde_json::Value>> {
    let text = String::from_utf8_lossy(out);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("bench output is not a JSON object: {line}"))
}

/// A one-shot HTTP endpoint on 127.0.0.1 that a browser bench posts its figures to
/// (wasm-bindgen-test shows a passing test's console output to no one).
fn bench_sink() -> Result<(String, std::sync::mpsc::Receiver<String>)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/", listener.local_addr()?);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(&stream);
            let mut len = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0).min(64 * 1024);
                }
                line.clear();
            }
            let mut body = vec![0; len];
            let ok = reader.read_exact(&mut body).is_ok();
            let _ = (&stream).write_all(
                b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
            );
            if ok && len > 0 {
                let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
            }
        }
    });
    Ok((url, rx))
}

fn write_report(figures: &BTreeMap<String, serde_json::Value>) -> Result<()> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("report.json");
    // Written anew: the report holds what this run measured, never a figure left over from
    // an earlier run (or from code since changed).
    let report = figures;
    std::fs::write(&path, serde_json::to_vec_pretty(report)?)?;
    let width = report.keys().map(String::len).max().unwrap_or(0);
    let mut table = String::new();
    for (k, v) in report {
        table.push_str(&format!("  {k:<width$}  {v}\n"));
    }
    eprintln!("\nFigures (written to {}):\n{table}", path.display());
    Ok(())
}
