//! From a node's bootstrap document to what to dial.

use kith_core::BootstrapDoc;
use libp2p::{Multiaddr, PeerId};

use crate::{NetError, TransportKind};

/// The peer and addresses to dial, parsed from a [`BootstrapDoc`], keeping only addresses of
/// `only` when given and only transports this target can dial.
pub fn dial_plan(
    doc: &BootstrapDoc,
    only: Option<TransportKind>,
) -> Result<(PeerId, Vec<Multiaddr>), NetError> {
    let peer: PeerId = doc
        .peer_id
        .parse()
        .map_err(|e| NetError::Setup(format!("bootstrap peer id {:?}: {e}", doc.peer_id)))?;
    let addrs: Vec<Multiaddr> = doc
        .addrs
        .iter()
        .filter_map(|a| a.parse::<Multiaddr>().ok())
        .filter(|a| crate::platform::can_dial(TransportKind::of(a)))
        .filter(|a| only.is_none_or(|k| TransportKind::of(a) == k))
        .collect();
    if addrs.is_empty() {
        return Err(NetError::NoAddress(peer));
    }
    Ok((peer, addrs))
}

/// What a person's node dials to reach its kith-node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    /// The node.
    pub peer: PeerId,
    /// Dialled first.
    pub main: Vec<Multiaddr>,
    /// Dialled when none of `main` answers.
    pub fallback: Vec<Multiaddr>,
}

/// Which of kith-node's addresses to dial: its WebSocket addresses first and the others
/// (WebRTC-direct) only when those fail, unless `only` asks for one transport. A WebRTC-direct
/// connection is a little faster to set up, but streams that kith-node opens towards the
/// browser right after it can be lost (rust-libp2p #3665), and gossipsub announces its
/// subscriptions on exactly such a stream; over WebSocket (yamux) they always arrive.
pub fn node_plan(doc: &BootstrapDoc, only: Option<TransportKind>) -> Result<NodePlan, NetError> {
    let (peer, all) = dial_plan(doc, only)?;
    let (ws, rest): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|a| TransportKind::of(a) == TransportKind::WebSocket);
    Ok(if only.is_some() || ws.is_empty() {
        NodePlan {
            peer,
            main: if ws.is_empty() { rest } else { ws },
            fallback: Vec::new(),
        }
    } else {
        NodePlan {
            peer,
            main: ws,
            fallback: rest,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

    #[test]
    fn filters_by_transport_and_skips_unparsable() {
        let doc = BootstrapDoc {
            peer_id: PEER.into(),
            addrs: vec![
                format!("/ip4/127.0.0.1/tcp/9090/ws/p2p/{PEER}"),
                format!("/ip4/127.0.0.1/udp/9091/webrtc-direct/p2p/{PEER}"),
                "/garbage".into(),
            ],
            version: String::new(),
            nodes: Vec::new(),
        };
        let (peer, all) = dial_plan(&doc, None).expect("plan");
        assert_eq!(peer.to_string(), PEER);
        assert!(!all.is_empty());
        let (_, ws) = dial_plan(&doc, Some(TransportKind::WebSocket)).expect("ws plan");
        assert_eq!(ws.len(), 1);
        assert!(matches!(
            dial_plan(&doc, Some(TransportKind::Relayed)),
            Err(NetError::NoAddress(_))
        ));
    }

    fn doc(peer: PeerId, addrs: &[&str]) -> BootstrapDoc {
        BootstrapDoc {
            peer_id: peer.to_string(),
            addrs: addrs.iter().map(|a| format!("{a}/p2p/{peer}")).collect(),
            version: String::new(),
            nodes: Vec::new(),
        }
    }

    #[test]
    fn websocket_first_and_one_transport_when_asked() {
        let peer = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let d = doc(
            peer,
            &["/ip4/127.0.0.1/tcp/8081/ws", "/ip4/127.0.0.1/tcp/8082/ws"],
        );
        let plan = node_plan(&d, None).expect("plan");
        assert_eq!(plan.peer, peer);
        assert_eq!(plan.main.len(), 2);
        assert!(plan.fallback.is_empty());
        let only = node_plan(&d, Some(TransportKind::WebSocket)).expect("plan");
        assert_eq!(only.main, plan.main);
        // Nothing this target can dial: an error that names the node.
        let none = node_plan(&d, Some(TransportKind::WebRtcDirect));
        assert!(matches!(none, Err(NetError::NoAddress(p)) if p == peer));
        assert!(node_plan(&doc(peer, &[]), None).is_err());
    }
}
