//! `kith-node`: parse the flags, start the node, print where it is, wait for Ctrl-C.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use kith_node::{Cli, Node};

/// Every heap block is zeroed as it is freed (1Password's `zeroizing-alloc` over the system
/// allocator): the node routes posts but must not keep them, and without this a post's text
/// stayed readable in freed memory long after gossip let go of it (`tests/memory.rs`).
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("bad arguments");
            eprintln!("kith-node: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    if let Some(index) = &cli.print_csp {
        return match std::fs::read_to_string(index) {
            Ok(html) => {
                let policy = kith_node::http::meta_policy(&html);
                match writeln!(std::io::stdout().lock(), "{policy}") {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(_) => ExitCode::FAILURE,
                }
            }
            Err(e) => {
                eprintln!("kith-node: reading {}: {e}", index.display());
                ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KITH_LOG")
                .unwrap_or_else(|_| "info,libp2p_webrtc=warn,webrtc=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kith-node: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kith-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let node = Node::start(cli).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "kith-node {} is up", node.peer_id)?;
    for addr in node.addrs() {
        writeln!(out, "  libp2p: {addr}")?;
    }
    writeln!(out, "Open http://{}/ in a browser.", node.http_addr)?;
    out.flush()?;
    drop(out);
    shutdown_signal().await;
    tracing::info!("shutting down");
    node.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
