//! Running commands, and background processes that are always stopped.

use std::borrow::BorrowMut;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    // The checkout `cargo xtask` was started in: two checkouts sharing one target directory
    // share this binary too, so the directory it was built from may be the other one.
    let here = std::env::current_dir().ok();
    let found = here.as_deref().and_then(|d| {
        d.ancestors()
            .find(|a| a.join("xtask/Cargo.toml").is_file() && a.join("Cargo.toml").is_file())
            .map(Path::to_path_buf)
    });
    found.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    })
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `target/` in the workspace.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

/// PATH with cargo's bin directory and the npm tools (wasm-opt) in front.
pub(crate) fn path_env() -> std::ffi::OsString {
    let mut dirs = vec![root().join("e2e/node_modules/.bin")];
    if let Some(home) = std::env::var_os("CARGO_HOME").or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo").into_os_string())
    }) {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// A command in the workspace root with the project's PATH.
pub(crate) fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args).current_dir(root()).env("PATH", path_env());
    c
}

/// Runs `c`, failing with its command line if it exits non-zero.
pub(crate) fn run(mut c: impl BorrowMut<Command>) -> Result<()> {
    let c = c.borrow_mut();
    let shown = format!("{c:?}");
    let status = c
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Runs `c` and returns its stdout, or `None` if it cannot start or fails.
pub(crate) fn output(mut c: impl BorrowMut<Command>) -> Option<String> {
    let c = c.borrow_mut();
    let out = c.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs one named step and prints how long it took.
pub(crate) fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<Duration> {
    eprintln!("\n==> {name}");
    let start = Instant::now();
    f().with_context(|| format!("step '{name}' failed"))?;
    let took = start.elapsed();
    eprintln!("<== {name}: {:.1} s", took.as_secs_f64());
    Ok(took)
}

/// A background process, stopped (by its own PID) when dropped.
pub(crate) struct Background {
    child: Child,
    name: String,
}

impl Background {
    /// Starts `c` and waits until a line of its stdout contains `ready`.
    pub(crate) fn start(
        mut c: Command,
        name: &str,
        ready: &str,
        timeout: Duration,
    ) -> Result<Self> {
        let mut child = c
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        let ready = ready.to_owned();
        let label = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[{label}] {line}");
                if line.contains(&ready) {
                    let _ = tx.send(());
                }
            }
        });
        let mut bg = Background {
            child,
            name: name.to_owned(),
        };
        let deadline = Instant::now() + timeout;
        loop {
            if rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                return Ok(bg);
            }
            if let Some(status) = bg.child.try_wait()? {
                bail!("{name} exited during start-up ({status})");
            }
            if Instant::now() > deadline {
                bail!("{name} did not become ready within {timeout:?}");
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // SIGTERM first, so the node shuts down cleanly; SIGKILL if it does not.
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("stopped {}", self.name);
    }
}
