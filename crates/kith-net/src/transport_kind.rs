//! Which transport a connection runs over, read from its multiaddr.

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use serde::{Deserialize, Serialize};

/// The transport of a connection, as shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TransportKind {
    /// WebRTC-direct (browser to a node with a certhash address).
    WebRtcDirect,
    /// WebSocket, plain or TLS.
    WebSocket,
    /// Plain TCP (native only).
    Tcp,
    /// Through a circuit relay; end-to-end encrypted, the relay sees ciphertext.
    Relayed,
    /// Anything else.
    Other,
}

impl TransportKind {
    /// Classifies an address; a relayed address wins over the transport to the relay.
    pub fn of(addr: &Multiaddr) -> Self {
        let mut kind = TransportKind::Other;
        for p in addr.iter() {
            kind = match p {
                Protocol::P2pCircuit => return TransportKind::Relayed,
                Protocol::WebRTCDirect => TransportKind::WebRtcDirect,
                Protocol::Ws(_) | Protocol::Wss(_) => TransportKind::WebSocket,
                Protocol::Tcp(_) if kind == TransportKind::Other => TransportKind::Tcp,
                _ => kind,
            };
        }
        kind
    }

    /// The short name shown in the UI and used in URLs (`?transport=`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::WebRtcDirect => "webrtc-direct",
            TransportKind::WebSocket => "websocket",
            TransportKind::Tcp => "tcp",
            TransportKind::Relayed => "relayed",
            TransportKind::Other => "other",
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> TransportKind {
        TransportKind::of(&s.parse().expect("multiaddr"))
    }

    #[test]
    fn classifies_each_transport() {
        assert_eq!(kind("/ip4/127.0.0.1/tcp/9090/ws"), TransportKind::WebSocket);
        assert_eq!(
            kind("/dns4/kith.example/tcp/443/wss"),
            TransportKind::WebSocket
        );
        assert_eq!(kind("/ip4/127.0.0.1/tcp/9090"), TransportKind::Tcp);
        assert_eq!(
            kind("/ip4/127.0.0.1/udp/9091/webrtc-direct"),
            TransportKind::WebRtcDirect
        );
        assert_eq!(
            kind(
                "/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp/p2p-circuit"
            ),
            TransportKind::Relayed
        );
        assert_eq!(kind("/ip4/127.0.0.1/udp/1/quic-v1"), TransportKind::Other);
    }
}
