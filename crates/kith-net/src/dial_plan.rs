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
}
