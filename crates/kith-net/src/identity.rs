//! One key, two names: a Kith [`AuthorId`] and a libp2p [`PeerId`] are the same Ed25519 key.
//! kith-core knows nothing of libp2p, so the conversion lives here.

use kith_core::{AuthorId, Identity};
use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey, ed25519};

/// The libp2p keypair of a person's identity: their node speaks as them.
pub fn keypair_of(identity: &Identity) -> Keypair {
    let mut secret = identity.secret();
    // 32 bytes are always a valid Ed25519 secret key, so this cannot fail.
    match Keypair::ed25519_from_bytes(&mut secret) {
        Ok(k) => k,
        Err(_) => unreachable!("any 32 bytes are an Ed25519 secret key"),
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
}
