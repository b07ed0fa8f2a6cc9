//! Installs what the project needs, idempotently: each step checks first and does nothing if
//! the right version is already there. Nothing here downloads at build time; these are the
//! only installs, and they use the package registries (crates.io, npm, Debian).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::proc::{cmd, output, root, run, step};

/// Trunk's version: 0.22 needs a newer rustc than the one this project targets.
pub(crate) const TRUNK_VERSION: &str = "0.21.14";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// What a task needs installed.
pub(crate) struct Tools;

impl Tools {
    /// What building the app needs: the wasm target, trunk, wasm-bindgen and wasm-opt.
    pub(crate) fn for_build() -> Result<Tools> {
        step("set up: build tools", || {
            wasm_target()?;
            npm_packages()?;
            trunk()?;
            wasm_bindgen()?;
            run(cmd("cargo", &["fetch", "--locked"]))
        })?;
        Ok(Tools)
    }

    /// Everything, including the browser for tests.
    pub(crate) fn for_everything() -> Result<Tools> {
        let tools = Tools::for_build()?;
        step("set up: chromium", chromium)?;
        Ok(tools)
    }
}

fn wasm_target() -> Result<()> {
    let installed = output(cmd("rustup", &["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    run(cmd("rustup", &["target", "add", WASM_TARGET]))
}

fn as_root(args: &[&str]) -> Command {
    let is_root = output(Command::new("id").arg("-u")).as_deref() == Some("0");
    if is_root {
        cmd(args[0], &args[1..])
    } else {
        cmd("sudo", args)
    }
}

/// Where Debian's colour emoji font lands; without it reactions render as empty boxes in
/// screenshots (a fresh Debian has no emoji font).
const EMOJI_FONT: &str = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf";

fn chromium() -> Result<()> {
    if Path::new("/usr/bin/chromium").exists()
        && Path::new("/usr/bin/chromedriver").exists()
        && Path::new(EMOJI_FONT).exists()
    {
        return Ok(());
    }
    run(&mut as_root(&["apt-get", "update"]))?;
    run(as_root(&[
        "apt-get",
        "install",
        "-y",
        "chromium",
        "chromium-driver",
        "fonts-noto-color-emoji",
    ])
    .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Playwright (for the browser tests) and binaryen's wasm-opt (for Trunk), from e2e/'s lock.
fn npm_packages() -> Result<()> {
    if output(Command::new("node").arg("--version")).is_none() {
        run(&mut as_root(&["apt-get", "update"]))?;
        run(as_root(&["apt-get", "install", "-y", "nodejs", "npm"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let lock = std::fs::read(root().join("e2e/package-lock.json"))
        .context("e2e/package-lock.json is missing")?;
    let stamp_path = root().join("e2e/node_modules/.kith-lock-stamp");
    let stamp = format!("{:x}", fnv1a(&lock));
    if std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(());
    }
    run(cmd("npm", &["ci", "--no-audit", "--no-fund"]).current_dir(root().join("e2e")))?;
    std::fs::write(&stamp_path, stamp).context("cannot write the npm stamp")
}

/// A small stable hash, enough to notice that a lock file changed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn trunk() -> Result<()> {
    let want = format!("trunk {TRUNK_VERSION}");
    if output(&mut cmd("trunk", &["--version"])).as_deref() == Some(want.as_str()) {
        return Ok(());
    }
    eprintln!("installing trunk {TRUNK_VERSION} (about 10 to 16 minutes on 2 cores, once)");
    run(cmd(
        "cargo",
        &["install", "--locked", "trunk", "--version", TRUNK_VERSION],
    )
    // Trunk's own release profile uses fat LTO; thin codegen halves the install time.
    .env("CARGO_PROFILE_RELEASE_LTO", "false")
    .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
    .env_remove("CARGO_TARGET_DIR"))
}

/// The wasm-bindgen version in Cargo.lock; the CLI must match it exactly.
pub(crate) fn locked_wasm_bindgen() -> Result<String> {
    let lock =
        std::fs::read_to_string(root().join("Cargo.lock")).context("Cargo.lock is missing")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_owned());
        }
    }
    bail!("Cargo.lock has no wasm-bindgen")
}

fn wasm_bindgen() -> Result<()> {
    let version = locked_wasm_bindgen()?;
    let trunk_toml = std::fs::read_to_string(root().join("Trunk.toml")).context("Trunk.toml")?;
    if !trunk_toml.contains(&format!("wasm_bindgen = \"{version}\"")) {
        bail!("Trunk.toml must pin wasm_bindgen = \"{version}\", the version in Cargo.lock");
    }
    let want = format!("wasm-bindgen {version}");
    if output(&mut cmd("wasm-bindgen", &["--version"])).as_deref() == Some(want.as_str()) {
        return Ok(());
    }
    eprintln!("installing wasm-bindgen-cli {version} (about 5 minutes, once)");
    // Not --locked: its own lock wants a webpki-roots newer than the registry serves.
    run(cmd(
        "cargo",
        &[
            "install",
            "wasm-bindgen-cli",
            "--version",
            &version,
            "--force",
        ],
    )
    .env_remove("CARGO_TARGET_DIR"))
}
