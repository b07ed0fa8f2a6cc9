//! kith-webrtc: libp2p's `/webrtc` transport (browser to browser), written for Kith because
//! rust-libp2p has none (issue #4389).
//!
//! How the parts cooperate:
//!
//! - [`addr`]: which addresses are `/webrtc` ones (`…/p2p-circuit/webrtc/p2p/<peer>`), the
//!   circuit under each, and what a browser advertises for a relay reservation.
//! - [`proto`]: the two wire messages (a data channel's `flag`/`message`, and a signalling
//!   `type`/`data`), with length prefixes and limits.
//! - [`signal`]: reading and writing signalling messages on a libp2p stream.
//! - [`stream`]: one libp2p stream over one data channel as a state machine without I/O:
//!   framing, the bounded receive buffer, half-close with `FIN`/`FIN_ACK`, `STOP_SENDING` and
//!   `RESET_STREAM`.
//! - `browser` (wasm32 only), the thin shell around the browser's WebRTC:
//!   - `Transport` (a libp2p [`Transport`](libp2p::core::Transport)): a dial of a `/webrtc`
//!     address opens a signalling stream to the peer over the connection the swarm already
//!     has to it (through [`libp2p_stream::Control`]), and a listen on `/webrtc` accepts the
//!     peer's signalling streams;
//!   - the handshake: `RTCPeerConnection`, offer and answer, trickle ICE, the `init` channel;
//!   - `Connection`, the stream muxer: one data channel per libp2p stream, no Noise and no
//!     yamux (the DTLS fingerprints travel in the SDPs over the authenticated connection, and
//!     the browser checks them), failure noticed from the connection state;
//!   - `Stream`: `AsyncRead`/`AsyncWrite` over a data channel, driving [`stream`].
//!
//! In the swarm, this transport must come before the relay client's: the relay transport
//! would take `/p2p-circuit/webrtc/…` dials too. Signalling needs a
//! [`libp2p_stream::Behaviour`] in the swarm, whose control the transport holds.
//!
//! Every queue fed by the peer is bounded: signalling messages per handshake
//! ([`signal::MAX_SIGNALS`]) and their size ([`proto::MAX_SIGNAL`]), unread bytes per stream
//! ([`Config::max_buffered`]), streams the peer opened and we have not taken
//! ([`Config::max_pending_inbound`]) and streams alive at once ([`Config::max_inbound_streams`]);
//! and the peer connections a peer can make us create ([`budget`]).

pub mod addr;
pub mod budget;
pub mod proto;
pub mod signal;
pub mod stream;

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
pub use browser::{Connection, Stream, Transport};

use std::fmt;
use std::time::Duration;

/// A STUN or TURN server for ICE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    /// `stun:…` or `turn:…` URLs.
    pub urls: Vec<String>,
    /// The TURN user name, if any.
    pub username: Option<String>,
    /// The TURN credential, if any.
    pub credential: Option<String>,
}

/// How the transport behaves; the defaults suit a browser tab.
#[derive(Debug, Clone)]
pub struct Config {
    /// ICE servers; none by default (host candidates only: loopback and LAN).
    pub ice_servers: Vec<IceServer>,
    /// How long a handshake (signalling until the connection is up) may take.
    pub handshake_timeout: Duration,
    /// How long a connection may stay `disconnected` before it counts as lost.
    pub disconnected_grace: Duration,
    /// How long closing a stream waits for the peer's `FIN_ACK`.
    pub fin_ack_timeout: Duration,
    /// Unread bytes per stream before the peer's stream is reset.
    pub max_buffered: usize,
    /// Streams the peer opened that the swarm has not taken yet; more are refused.
    pub max_pending_inbound: usize,
    /// Streams the peer opened that are alive at once; more are refused.
    pub max_inbound_streams: usize,
    /// `RTCPeerConnection`s the transport may create over its life (Chrome allows about
    /// 500 per tab); see [`budget`].
    pub max_peer_connections: usize,
    /// How often one peer may be answered over the transport's life.
    pub max_answers_per_peer: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            disconnected_grace: Duration::from_secs(5),
            fin_ack_timeout: Duration::from_secs(10),
            max_buffered: stream::MAX_BUFFERED,
            max_pending_inbound: 32,
            max_inbound_streams: 256,
            max_peer_connections: 400,
            max_answers_per_peer: 16,
        }
    }
}

/// Why a `/webrtc` connection could not be made or was lost.
#[derive(Debug)]
pub enum Error {
    /// The signalling stream failed (it could not be opened, or broke).
    Signaling(String),
    /// The peer broke the protocol.
    Protocol(String),
    /// The browser's WebRTC refused an operation.
    Js(String),
    /// The handshake took longer than [`Config::handshake_timeout`].
    Timeout,
    /// The connection failed or closed.
    ConnectionLost(String),
    /// The transport's [`budget`] refused the handshake.
    Refused(String),
}

impl Error {
    /// A failed read or write on the signalling stream.
    pub fn signaling_io(e: std::io::Error) -> Self {
        Self::Signaling(e.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signaling(e) => write!(f, "webrtc signalling failed: {e}"),
            Self::Protocol(e) => write!(f, "webrtc peer broke the protocol: {e}"),
            Self::Js(e) => write!(f, "the browser's WebRTC refused: {e}"),
            Self::Timeout => write!(f, "the webrtc handshake timed out"),
            Self::ConnectionLost(e) => write!(f, "the webrtc connection was lost: {e}"),
            Self::Refused(e) => write!(f, "webrtc handshake refused: {e}"),
        }
    }
}

impl std::error::Error for Error {}
