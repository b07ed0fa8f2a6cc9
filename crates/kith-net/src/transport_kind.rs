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
    /// Browser to browser over `/webrtc` (kith-webrtc): direct, after signalling through a
    /// relayed connection.
    WebRtc,
    /// Anything else.
    Other,
}

impl TransportKind {
    /// Classifies an address; a relayed address wins over the transport to the relay.
    pub fn of(addr: &Multiaddr) -> Self {
        if kith_webrtc::addr::is_listen_addr(addr)
            || addr
                .iter()
                .collect::<Vec<_>>()
                .windows(2)
                .any(|w| matches!(w, [Protocol::P2pCircuit, Protocol::WebRTC]))
        {
            return TransportKind::WebRtc;
        }
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

    /// Classifies a connection: by the remote address when we dialed; when we listened, by
    /// our own address, which says relayed or `/webrtc` (the remote one is bare there,
    /// `/p2p/<peer>` for a relayed connection).
    pub fn of_endpoint(endpoint: &libp2p::core::ConnectedPoint) -> Self {
        match endpoint {
            libp2p::core::ConnectedPoint::Dialer { address, .. } => Self::of(address),
            libp2p::core::ConnectedPoint::Listener {
                local_addr,
                send_back_addr,
            } => match Self::of(local_addr) {
                kind @ (TransportKind::Relayed | TransportKind::WebRtc) => kind,
                _ => Self::of(send_back_addr),
            },
        }
    }

    /// The short name shown in the UI and used in URLs (`?transport=`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::WebRtcDirect => "webrtc-direct",
            TransportKind::WebSocket => "websocket",
            TransportKind::Tcp => "tcp",
            TransportKind::Relayed => "relayed",
            TransportKind::WebRtc => "webrtc",
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
        let relay =
            "/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
        let peer = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq";
        // A dialer's address, a listener's view of the dialer, the listen address.
        assert_eq!(
            kind(&format!("{relay}/p2p-circuit/webrtc/p2p/{peer}")),
            TransportKind::WebRtc
        );
        assert_eq!(
            kind(&format!("/p2p-circuit/webrtc/p2p/{peer}")),
            TransportKind::WebRtc
        );
        assert_eq!(kind("/webrtc"), TransportKind::WebRtc);
        // Inbound: our own address tells.
        let listener = |local: &str, remote: &str| libp2p::core::ConnectedPoint::Listener {
            local_addr: local.parse().expect("addr"),
            send_back_addr: remote.parse().expect("addr"),
        };
        assert_eq!(
            TransportKind::of_endpoint(&listener(
                &format!("{relay}/p2p-circuit"),
                &format!("/p2p/{peer}")
            )),
            TransportKind::Relayed
        );
        assert_eq!(
            TransportKind::of_endpoint(&listener(
                "/webrtc",
                &format!("/p2p-circuit/webrtc/p2p/{peer}")
            )),
            TransportKind::WebRtc
        );
        assert_eq!(
            TransportKind::of_endpoint(&listener(
                "/ip4/127.0.0.1/tcp/9090/ws",
                "/ip4/127.0.0.1/tcp/5555/ws"
            )),
            TransportKind::WebSocket
        );
    }
}
