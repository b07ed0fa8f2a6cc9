//! "Where to reach me": a person's node on other kith-nodes than yours is reached through them.
//!
//! A browser cannot be dialed; peers reach it through a relayed circuit on a kith-node where
//! it holds a reservation. The DHT's provider records say *who* holds a feed, but rust-libp2p
//! hands out only the holders' peer ids, not the addresses in the records, so a holder reserved
//! on another node than the syncing browser's could not be reached. Each node therefore
//! publishes, whenever its circuits change, a libp2p signed peer record (an envelope signed by
//! its own key, in the format rust-libp2p's identify uses; a format of Kith's own, tried,
//! made the bundle larger) listing its circuit addresses, under
//! [`reach_key`] of its peer id. kith-node stores only records that [`open`] accepts (signed by
//! the peer whose key they are stored under, circuit addresses only, bounded), and keeps the
//! newest of a peer's records. A sync that cannot reach a holder through its own nodes asks
//! for the record ([`crate::Client::reach_of`]) and dials the holder through the holder's
//! nodes.

use libp2p::core::{PeerRecord, SignedEnvelope};
use libp2p::identity::Keypair;
use libp2p::kad::RecordKey;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

/// The most addresses in one record (a node keeps two circuits: primary and standby).
pub const MAX_REACH_ADDRS: usize = 4;
/// The largest record accepted, in bytes.
pub const MAX_REACH_BYTES: usize = 2048;

/// The DHT key of `peer`'s record.
pub fn reach_key(peer: &PeerId) -> RecordKey {
    RecordKey::new(&kith_core::Hash::of(&[b"kith-reach", &peer.to_bytes()]).0)
}

/// Where a peer says it can be reached, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// The peer that signed it.
    pub peer: PeerId,
    /// Its sequence number (the time it was made, in seconds: newer records have higher ones).
    pub seq: u64,
    /// Its circuit addresses, each ending in `/p2p-circuit/p2p/<peer>`, ready to dial.
    pub addrs: Vec<Multiaddr>,
}

/// The record for `addrs` (circuit addresses; at most [`MAX_REACH_ADDRS`] are kept), signed
/// with `key`.
pub fn sign(key: &Keypair, addrs: &[Multiaddr]) -> Result<Vec<u8>, String> {
    let addrs = addrs
        .iter()
        .filter(|a| is_circuit(a))
        .take(MAX_REACH_ADDRS)
        .cloned()
        .collect();
    PeerRecord::new(key, addrs)
        .map(|r| r.into_signed_envelope().into_protobuf_encoding())
        .map_err(|e| format!("cannot sign the record: {e}"))
}

/// The relay a circuit address goes through (the peer id before `/p2p-circuit`).
pub fn relay_of(a: &Multiaddr) -> Option<PeerId> {
    let mut relay = None;
    for p in a.iter() {
        match p {
            Protocol::P2p(peer) => relay = Some(peer),
            Protocol::P2pCircuit => return relay,
            _ => {}
        }
    }
    None
}

fn is_circuit(a: &Multiaddr) -> bool {
    a.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// The record `value` stored under `key`, if it is one Kith accepts: a peer record signed by
/// the peer `key` belongs to, with at most [`MAX_REACH_ADDRS`] circuit addresses.
pub fn open(key: &[u8], value: &[u8]) -> Option<Reach> {
    if value.len() > MAX_REACH_BYTES {
        return None;
    }
    let envelope = SignedEnvelope::from_protobuf_encoding(value).ok()?;
    let record = PeerRecord::from_signed_envelope(envelope).ok()?;
    let peer = record.peer_id();
    if reach_key(&peer).as_ref() != key
        || record.addresses().len() > MAX_REACH_ADDRS
        || !record.addresses().iter().all(is_circuit)
    {
        return None;
    }
    let addrs = record
        .addresses()
        .iter()
        .map(|a| {
            let mut a = a.clone();
            if !matches!(a.iter().last(), Some(Protocol::P2p(p)) if p == peer) {
                a.push(Protocol::P2p(peer));
            }
            a
        })
        .collect();
    Some(Reach {
        peer,
        seq: record.seq(),
        addrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circuit(relay: u8) -> Multiaddr {
        format!(
            "/ip4/10.0.0.{relay}/tcp/9090/ws/p2p/{}/p2p-circuit",
            PeerId::random()
        )
        .parse()
        .expect("addr")
    }

    #[test]
    fn a_signed_record_opens_under_its_own_key_only() {
        let key = Keypair::generate_ed25519();
        let me = key.public().to_peer_id();
        let addrs = [circuit(1), circuit(2)];
        let bytes = sign(&key, &addrs).expect("sign");
        let reach = open(reach_key(&me).as_ref(), &bytes).expect("opens");
        assert_eq!(reach.peer, me);
        let relay = addrs[0].iter().find_map(|p| match p {
            Protocol::P2p(r) => Some(r),
            _ => None,
        });
        assert_eq!(relay_of(&reach.addrs[0]), relay);
        assert_eq!(
            reach.addrs,
            addrs
                .iter()
                .map(|a| a.clone().with(Protocol::P2p(me)))
                .collect::<Vec<_>>(),
            "ready to dial"
        );
        let other = PeerId::random();
        assert_eq!(
            open(reach_key(&other).as_ref(), &bytes),
            None,
            "stored under another peer's key"
        );
    }

    #[test]
    fn forged_bent_or_oversized_records_are_refused() {
        let key = Keypair::generate_ed25519();
        let me = key.public().to_peer_id();
        let k = reach_key(&me);
        let mut bytes = sign(&key, &[circuit(1)]).expect("sign");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(open(k.as_ref(), &bytes), None, "a flipped bit");
        assert_eq!(open(k.as_ref(), b"junk"), None);
        // Direct addresses are not taken when signing, and refused when someone else signs
        // them with a library that keeps them.
        let direct: Multiaddr = "/ip4/10.0.0.9/tcp/1/ws".parse().expect("addr");
        let only_circuits = sign(&key, &[direct.clone(), circuit(1)]).expect("sign");
        assert_eq!(
            open(k.as_ref(), &only_circuits).expect("opens").addrs.len(),
            1
        );
        let raw = PeerRecord::new(&key, vec![direct])
            .expect("sign")
            .into_signed_envelope()
            .into_protobuf_encoding();
        assert_eq!(open(k.as_ref(), &raw), None, "a direct address");
        let many = PeerRecord::new(&key, (0..5).map(circuit).collect())
            .expect("sign")
            .into_signed_envelope()
            .into_protobuf_encoding();
        assert_eq!(open(k.as_ref(), &many), None, "too many addresses");
    }
}
