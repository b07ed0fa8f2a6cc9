//! Which addresses are `/webrtc` (browser-to-browser) addresses, and what they name.
//!
//! A browser reserved on a relay advertises `<relay-addr>/p2p/<R>/p2p-circuit/webrtc/p2p/<B>`
//! (libp2p/specs `webrtc/webrtc.md`). Dialing it means: over a connection to `B` (usually the
//! relayed circuit `<relay-addr>/p2p/<R>/p2p-circuit/p2p/<B>`), signal, then connect directly.

use libp2p::core::multiaddr::{Multiaddr, Protocol};
use libp2p::identity::PeerId;

/// The address a browser listens on for `/webrtc`, as js-libp2p does: `/webrtc`.
pub fn listen_addr() -> Multiaddr {
    Multiaddr::empty().with(Protocol::WebRTC)
}

/// Whether `addr` is one this transport listens on.
pub fn is_listen_addr(addr: &Multiaddr) -> bool {
    *addr == listen_addr()
}

/// The peer a `/webrtc` dial address names: `…/p2p-circuit/webrtc/p2p/<peer>`. `None` for
/// any other address (so WebRTC-direct, `/webrtc-direct/certhash/…`, is left to its
/// transport, and a bare circuit to the relay client).
pub fn dial_target(addr: &Multiaddr) -> Option<PeerId> {
    let protos: Vec<Protocol<'_>> = addr.iter().collect();
    let webrtc = protos.iter().position(|p| matches!(p, Protocol::WebRTC))?;
    if webrtc == 0 || !matches!(protos[webrtc - 1], Protocol::P2pCircuit) {
        return None;
    }
    match &protos[webrtc + 1..] {
        [Protocol::P2p(peer)] => Some(*peer),
        _ => None,
    }
}

/// The relayed circuit to the same peer: the dial address without `/webrtc`.
pub fn circuit_of(addr: &Multiaddr) -> Option<Multiaddr> {
    dial_target(addr)?;
    Some(
        addr.iter()
            .filter(|p| !matches!(p, Protocol::WebRTC))
            .collect(),
    )
}

/// The address to advertise for a relay reservation's listen address
/// (`<relay-addr>/p2p/<R>/p2p-circuit`, which rust-libp2p reports with `/p2p/<self>` after
/// it): `<relay-addr>/p2p/<R>/p2p-circuit/webrtc`, without our own id, as external addresses
/// are kept.
pub fn advertised(circuit_listen_addr: &Multiaddr) -> Option<Multiaddr> {
    let mut addr = circuit_listen_addr.clone();
    if matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
        addr.pop();
    }
    matches!(addr.iter().last(), Some(Protocol::P2pCircuit)).then(|| addr.with(Protocol::WebRTC))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELAY: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
    const PEER: &str = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq";

    fn ma(s: &str) -> Multiaddr {
        s.parse().expect("valid")
    }

    #[test]
    fn a_js_style_dial_address_names_its_peer_and_circuit() {
        let addr = ma(&format!(
            "/ip4/127.0.0.1/tcp/9090/ws/p2p/{RELAY}/p2p-circuit/webrtc/p2p/{PEER}"
        ));
        assert_eq!(dial_target(&addr), Some(PEER.parse().expect("valid")));
        assert_eq!(
            circuit_of(&addr),
            Some(ma(&format!(
                "/ip4/127.0.0.1/tcp/9090/ws/p2p/{RELAY}/p2p-circuit/p2p/{PEER}"
            )))
        );
    }

    #[test]
    fn other_addresses_are_not_ours() {
        for s in [
            format!("/ip4/127.0.0.1/tcp/9090/ws/p2p/{RELAY}/p2p-circuit/p2p/{PEER}"),
            format!("/ip4/127.0.0.1/udp/9091/webrtc-direct/p2p/{RELAY}"),
            format!("/ip4/127.0.0.1/tcp/9090/ws/p2p/{RELAY}/p2p-circuit/webrtc"),
            format!("/webrtc/p2p/{PEER}"),
            format!("/ip4/127.0.0.1/tcp/9090/ws/p2p/{RELAY}/webrtc/p2p/{PEER}"),
        ] {
            assert_eq!(dial_target(&ma(&s)), None, "{s}");
        }
        assert!(is_listen_addr(&ma("/webrtc")));
        assert!(!is_listen_addr(&ma("/p2p-circuit")));
    }

    #[test]
    fn a_reservation_is_advertised_with_webrtc_after_it() {
        let circuit = ma(&format!(
            "/ip4/127.0.0.1/tcp/9090/ws/p2p/{RELAY}/p2p-circuit"
        ));
        let adv = advertised(&circuit).expect("valid");
        assert_eq!(adv.to_string(), format!("{circuit}/webrtc"));
        assert_eq!(
            dial_target(
                &adv.clone()
                    .with(Protocol::P2p(PEER.parse().expect("valid")))
            ),
            Some(PEER.parse().expect("valid"))
        );
        assert_eq!(advertised(&ma("/ip4/127.0.0.1/tcp/1")), None);
        assert_eq!(advertised(&ma(&format!("{circuit}/p2p/{PEER}"))), Some(adv));
        assert_eq!(
            advertised(&ma(&format!("/ip4/127.0.0.1/tcp/1/p2p/{PEER}"))),
            None
        );
    }
}
