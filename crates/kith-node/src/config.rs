//! The command line: every address, file and limit the node uses, with defaults that work on
//! one machine (everything on 127.0.0.1) and flags for a public host.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use libp2p::Multiaddr;

/// kith-node: bootstraps Kith's DHT, relays encrypted traffic between browsers and serves the
/// app. It never stores posts.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Prints the Content-Security-Policy for the built app's `index.html` at this path, as a
    /// `<meta>` element carries it (for other hosts; `cargo xtask` writes it into the page),
    /// and exits.
    #[arg(long, value_name = "INDEX_HTML")]
    pub print_csp: Option<PathBuf>,

    /// Where the app and /bootstrap.json are served over HTTP.
    #[arg(long, env = "KITH_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,

    /// The IP address libp2p listens on (0.0.0.0 on a public host).
    #[arg(long, env = "KITH_LISTEN_IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub listen_ip: IpAddr,

    /// TCP port for libp2p over WebSocket (0 picks a free port).
    #[arg(long, env = "KITH_WS_PORT", default_value_t = 9090)]
    pub ws_port: u16,

    /// UDP port for libp2p over WebRTC-direct (0 picks a free port).
    #[arg(long, env = "KITH_WEBRTC_PORT", default_value_t = 9091)]
    pub webrtc_port: u16,

    /// The node's Ed25519 identity; created on first start, reused after.
    #[arg(
        long,
        env = "KITH_KEY_FILE",
        default_value = "kith-node-data/identity.key"
    )]
    pub key_file: PathBuf,

    /// The WebRTC certificate (PEM); kept so the certhash, and so the address, survives restarts.
    #[arg(
        long,
        env = "KITH_CERT_FILE",
        default_value = "kith-node-data/webrtc-cert.pem"
    )]
    pub cert_file: PathBuf,

    /// Where the node keeps its DHT across restarts (records, provider records and the other
    /// kith-nodes it knew: pointers and signed claims, never posts). Defaults to `dht.bin`
    /// beside --key-file.
    #[arg(long, env = "KITH_DHT_FILE")]
    pub dht_file: Option<PathBuf>,

    /// The built app to serve (Trunk's output).
    #[arg(long, env = "KITH_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Another kith-node to join, as a multiaddr ending in /p2p/<peer id>. Repeatable.
    #[arg(long = "bootstrap", value_name = "MULTIADDR", value_parser = parse_peer_addr)]
    pub bootstrap: Vec<Multiaddr>,

    /// An address browsers should dial, for a node behind a reverse proxy or NAT, e.g.
    /// /dns4/p2p.example.org/tcp/443/wss or /ip4/203.0.113.7/udp/9091/webrtc-direct. It replaces
    /// the listen addresses of its transport; WebRTC-direct gets the certhash added. Repeatable.
    #[arg(long = "announce", value_name = "MULTIADDR", value_parser = parse_addr)]
    pub announce: Vec<Multiaddr>,

    /// Most relay reservations held at once.
    #[arg(long, default_value_t = 4096)]
    pub max_reservations: usize,

    /// Most relayed circuits open at once.
    #[arg(long, default_value_t = 4096)]
    pub max_circuits: usize,

    /// Most relayed circuits per peer.
    #[arg(long, default_value_t = 64)]
    pub max_circuits_per_peer: usize,

    /// How long one relayed circuit may last, in seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_circuit_secs: u32,

    /// Bytes one relayed circuit may carry; 0 for no cap. The default (256 MiB) fits the
    /// backfill of a feed of several hundred thousand posts; a sync cut short by it keeps what
    /// it verified and goes on over a new circuit.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    pub max_circuit_bytes: u64,

    /// Most connections open at once, all peers together.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: u32,

    /// Most connections from one peer.
    #[arg(long, default_value_t = 8)]
    pub max_connections_per_peer: u32,

    /// Invalid entries a peer may forward before it is disconnected.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_invalid_entries: u32,

    /// Most DHT records (signed name claims) held.
    #[arg(long, default_value_t = 65_536)]
    pub dht_max_records: usize,

    /// Most peers remembered as holders of one key (feed or handle).
    #[arg(long, default_value_t = 20)]
    pub dht_max_providers_per_key: usize,

    /// Most keys (feeds and handles) with holders remembered, in all.
    #[arg(long, default_value_t = 65_536)]
    pub dht_max_provider_keys: usize,

    /// Most keys one peer may be remembered as holding (a client announces at most as many).
    #[arg(long, default_value_t = kith_net::behaviour::MAX_PROVIDED_KEYS)]
    pub dht_max_keys_per_provider: usize,
}

fn parse_addr(s: &str) -> Result<Multiaddr, String> {
    s.parse::<Multiaddr>()
        .map_err(|e| format!("{s:?} is not a multiaddr ({e})"))
}

fn parse_peer_addr(s: &str) -> Result<Multiaddr, String> {
    let addr = parse_addr(s)?;
    match addr.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(_)) => Ok(addr),
        _ => Err(format!(
            "{s:?} does not end in /p2p/<peer id>; copy the address a node prints at start"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_needs_a_peer_id() {
        assert!(parse_peer_addr("/ip4/127.0.0.1/tcp/9090/ws").is_err());
        assert!(parse_peer_addr("not an address").is_err());
        let ok =
            "/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
        assert!(parse_peer_addr(ok).is_ok());
    }

    #[test]
    fn circuits_are_capped_unless_the_operator_says_otherwise() {
        use clap::Parser;
        let cli = Cli::try_parse_from(["kith-node"]).expect("defaults");
        assert_eq!(cli.max_circuit_bytes, 256 * 1024 * 1024);
        let uncapped =
            Cli::try_parse_from(["kith-node", "--max-circuit-bytes", "0"]).expect("parse");
        assert_eq!(uncapped.max_circuit_bytes, 0);
    }
}
