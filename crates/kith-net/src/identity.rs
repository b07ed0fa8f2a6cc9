//! Keys and names between kith-core and libp2p (kith-core knows nothing of libp2p).
//!
//! A browser's node runs under a network key of its own ([`device_keypair`]), so that one
//! person can be online on two devices at once, and says whose device it is with a
//! [`DeviceClaim`] in identify's agent version ([`device_agent_version`]). A peer that sends
//! no claim is taken to run under its person's own key, as native clients and tests do
//! ([`keypair_of`]): then a Kith [`AuthorId`] and the libp2p [`PeerId`] are the same Ed25519 key.
//! [`person_of`] is the one rule that names the person behind a peer.

use kith_core::{AuthorId, DeviceClaim, Identity};
use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey, ed25519};

/// The libp2p keypair of a person's identity: their node speaks as them.
pub fn keypair_of(identity: &Identity) -> Keypair {
    device_keypair(identity.secret())
}

/// The network key of a device, from its 32 random secret bytes (kept by the device, never
/// in a backup).
pub fn device_keypair(mut secret: [u8; 32]) -> Keypair {
    // 32 bytes are always a valid Ed25519 secret key, so this cannot fail.
    match Keypair::ed25519_from_bytes(&mut secret) {
        Ok(k) => k,
        Err(_) => unreachable!("any 32 bytes are an Ed25519 secret key"),
    }
}

/// `identity`'s claim of the device running under `device` (for [`Config::device`](crate::Config::device)).
pub fn device_claim(identity: &Identity, device: &PeerId) -> Option<DeviceClaim> {
    // An Ed25519 peer id is 38 bytes: always claimable.
    DeviceClaim::sign(identity, &device.to_bytes()).ok()
}

/// The person behind `peer`, from what it sent in identify: the person whose claim of this
/// peer id verifies, or, with no claim at all, the key the peer id embeds (a node running
/// under its person's key). A claim that does not verify names nobody.
pub fn person_of(peer: &PeerId, agent_version: &str) -> Option<AuthorId> {
    match DeviceClaim::find(agent_version, &peer.to_bytes()) {
        Ok(Some(author)) => Some(author),
        Ok(None) => author_of(peer),
        Err(e) => {
            tracing::debug!("{peer} sent a device claim that does not hold: {e}");
            None
        }
    }
}

/// The peer id of an author, `None` if the 32 bytes are not a valid Ed25519 point.
pub fn peer_id_of(author: &AuthorId) -> Option<PeerId> {
    let key = ed25519::PublicKey::try_from_bytes(&author.0).ok()?;
    Some(PublicKey::from(key).to_peer_id())
}

/// The author behind a peer id, if the peer id embeds an Ed25519 key (as every Kith peer's does).
pub fn author_of(peer: &PeerId) -> Option<AuthorId> {
    let multihash = peer.as_ref();
    // Ed25519 peer ids use the identity multihash: the digest is the protobuf-encoded key.
    if multihash.code() != 0 {
        return None;
    }
    let key = PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    Some(AuthorId(key.try_into_ed25519().ok()?.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_and_peer_id_name_the_same_key() {
        let id = Identity::from_secret([5; 32]);
        let peer = keypair_of(&id).public().to_peer_id();
        assert_eq!(peer_id_of(&id.author()), Some(peer));
        assert_eq!(author_of(&peer), Some(id.author()));
        // A non-Ed25519 (hashed) peer id has no author.
        assert_eq!(author_of(&PeerId::random()), None);
    }

    #[test]
    fn a_device_is_its_person_only_with_a_claim_that_holds() {
        let alice = Identity::from_secret([5; 32]);
        let device = device_keypair([9; 32]).public().to_peer_id();
        let other = device_keypair([10; 32]).public().to_peer_id();
        let claim = device_claim(&alice, &device).expect("claim");
        let agent = format!("kith/1 {}", claim.to_text());
        assert_eq!(person_of(&device, &agent), Some(alice.author()));
        // Alice's claim copied by another device names nobody.
        assert_eq!(person_of(&other, &agent), None);
        // No claim: the peer runs under its person's key.
        let own = keypair_of(&alice).public().to_peer_id();
        assert_eq!(person_of(&own, "kith/1"), Some(alice.author()));
    }
}
