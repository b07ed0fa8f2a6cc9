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

/// Free bytes on the file system that holds `path`, from `df` (coreutils), or `None` when
/// `df` cannot tell.
pub(crate) fn free_bytes(path: &Path) -> Option<u64> {
    let out = output(Command::new("df").args(["-P", "-k"]).arg(path))?;
    let line = out.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

/// Below this much free space, the test and bench commands make room first. Chromium refuses
/// Cache Storage and IndexedDB writes on a nearly full disk (the app's offline start then
/// fails in the end-to-end tests), and rustc's incremental caches grow by gigabytes a day.
const ROOM_WANTED: u64 = 12 << 30;
/// Below this much, even after making room, the tests would fail for want of space: stop with
/// a clear error instead.
const ROOM_NEEDED: u64 = 3 << 30;

/// Makes sure the target directory's disk has room for a test or bench run: when it is short
/// of [`ROOM_WANTED`], deletes rustc's incremental caches under the target directory (they only
/// speed up rebuilds after small edits; nothing else is lost) and says how much that freed.
pub(crate) fn make_room() -> Result<()> {
    let target = target_dir();
    let probe = if target.exists() {
        target.clone()
    } else {
        root()
    };
    let Some(free) = free_bytes(&probe) else {
        return Ok(());
    };
    if free >= ROOM_WANTED {
        return Ok(());
    }
    let mut caches = Vec::new();
    for profile in ["debug", "release"] {
        caches.push(target.join(profile).join("incremental"));
        caches.push(
            target
                .join("wasm32-unknown-unknown")
                .join(profile)
                .join("incremental"),
        );
    }
    for cache in caches.iter().filter(|c| c.is_dir()) {
        std::fs::remove_dir_all(cache)
            .with_context(|| format!("cannot delete {}", cache.display()))?;
    }
    let after = free_bytes(&probe).unwrap_or(free);
    eprintln!(
        "xtask: {:.1} GiB free on the target directory's disk; deleted rustc's incremental \
         caches in {}: {:.1} GiB free now",
        free as f64 / f64::from(1 << 30),
        target.display(),
        after as f64 / f64::from(1 << 30),
    );
    if after < ROOM_NEEDED {
        bail!(
            "only {:.1} GiB free on the disk of {}: the browser tests need about {} GiB \
             (Chromium refuses storage on a full disk); free some space and run again",
            after as f64 / f64::from(1 << 30),
            target.display(),
            ROOM_NEEDED >> 30
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_reports_the_free_space_of_a_real_directory() {
        let free = free_bytes(&std::env::temp_dir()).expect("df answers");
        assert!(free > 0);
        assert_eq!(free_bytes(Path::new("/no/such/directory")), None);
    }
}
