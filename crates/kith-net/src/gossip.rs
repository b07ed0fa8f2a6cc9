//! Live delivery: new entries travel over gossipsub, on topics sharded by author.
//!
//! A peer subscribes to the shards of the authors it follows; kith-node subscribes to every
//! shard and routes, and announces all of them on every connection. A person takes every
//! entry on the shards of the authors they follow (with 10 follows, about 15 % of all posts
//! with [`FEED_SHARDS`] at 64); 256 shards were tried and cost more than they saved
//! (docs/BENCHMARKS.md, issue 13, fifth part). Every message is one
//! encoded entry; receivers validate it with kith-core before gossipsub forwards it
//! (`validate_messages`), and reject what does not verify, which costs the sender its score.

use std::time::Duration;

use kith_core::{AuthorId, Hash};
use libp2p::gossipsub::{self, IdentTopic, MessageId, ValidationMode};

/// How many topics feeds are spread over.
pub const FEED_SHARDS: u8 = 64;
/// The largest gossip message: one entry with room for framing.
pub const MAX_GOSSIP_BYTES: usize = kith_core::entry::MAX_ENTRY_BYTES + 1024;

/// The shard of an author's feed.
pub fn shard_of(author: &AuthorId) -> u8 {
    Hash::of(&[b"kith-shard", &author.0]).0[0] % FEED_SHARDS
}

/// The topic an author's new entries are published on.
pub fn topic_for(author: &AuthorId) -> IdentTopic {
    shard_topic(shard_of(author))
}

/// The topic of shard `n`.
pub fn shard_topic(n: u8) -> IdentTopic {
    IdentTopic::new(format!("/kith/feed/1/{n:02}"))
}

/// Every shard topic, for kith-node.
pub fn all_topics() -> impl Iterator<Item = IdentTopic> {
    (0..FEED_SHARDS).map(shard_topic)
}

/// The most kith-nodes a client keeps in its gossip mesh before it prunes: as many as it
/// remembers ([`crate::nodes::MAX_NODES`]), so it keeps every one it is connected to.
pub const CLIENT_MESH_MAX: usize = crate::nodes::MAX_NODES;

/// Why a gossip message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// The bytes are not a valid entry.
    #[error(transparent)]
    Invalid(#[from] kith_core::EntryError),
    /// A valid entry on a topic that is not its author's.
    #[error("entry published on another author's topic")]
    WrongTopic,
    /// A live entry is its author's fresh entry, sent with its payload; one without it is a
    /// withheld payload (only sync carries a deleted entry, beside its delete).
    #[error("live entry {0} came without its payload")]
    NoPayload(u64),
}

/// The one rule for a gossip message, applied by clients and kith-node alike: it is a valid
/// entry, on its author's topic, with its payload.
pub fn accept_live(
    data: &[u8],
    topic: &gossipsub::TopicHash,
    now_ms: u64,
) -> Result<kith_core::VerifiedEntry, LiveError> {
    let entry = kith_core::validate_detached(data, now_ms)?;
    if topic_for(&entry.author()).hash() != *topic {
        return Err(LiveError::WrongTopic);
    }
    if entry.payload().is_none() {
        return Err(LiveError::NoPayload(entry.seq()));
    }
    Ok(entry)
}

/// Who runs the gossipsub instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A browser or native client: few peers, outbound connections only.
    Client,
    /// kith-node: the hub every client's messages pass through; it meshes with every
    /// subscriber of a topic so delivery is one hop, not a heartbeat away.
    Hub,
}

/// The gossipsub behaviour for `role`: messages are anonymous (see [`config`]).
pub fn behaviour(role: Role, heartbeat: Duration) -> gossipsub::Behaviour {
    match gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Anonymous,
        config(role, heartbeat),
    ) {
        Ok(g) => g,
        // Anonymous messages with `ValidationMode::None` is a valid combination.
        Err(e) => unreachable!("invalid gossipsub set-up: {e}"),
    }
}

/// The gossipsub configuration for `role`.
///
/// Messages carry no gossipsub signature, sender or sequence number
/// (`MessageAuthenticity::Anonymous`): each message is one entry, which its author signed and
/// every receiver verifies with kith-core before it is forwarded, and the message id is the
/// entry's hash. A second signature per message would add about 110 bytes to a 250-byte post
/// and an Ed25519 check at every hop, and say only which peer first published it, which nothing
/// here uses. `ValidationMode::None` also accepts messages that still carry those fields (an
/// older version of the app) without checking them.
pub fn config(role: Role, heartbeat: Duration) -> gossipsub::Config {
    let mut b = gossipsub::ConfigBuilder::default();
    b.validation_mode(ValidationMode::None)
        .validate_messages()
        .max_transmit_size(MAX_GOSSIP_BYTES)
        .heartbeat_interval(heartbeat)
        // One entry is one message however many peers republish it.
        .message_id_fn(|m: &gossipsub::Message| MessageId::from(Hash::of(&[&m.data]).0.to_vec()))
        // Browsers only dial out, and usually only to kith-node.
        .mesh_outbound_min(0);
    match role {
        // A client's gossip peers are its kith-nodes: the primary, the standby, and for a
        // moment those the DHT dialed. It never prunes one of them (a pruned node stays out of
        // the mesh for the minute-long backoff): kith-node grafts every subscriber, so the
        // standby carries every live entry the primary does, and taking over from a silent
        // or lost primary misses nothing and needs no sync (`agent`).
        Role::Client => b.mesh_n_low(1).mesh_n(2).mesh_n_high(CLIENT_MESH_MAX),
        Role::Hub => b.mesh_n_low(1).mesh_n(4_000).mesh_n_high(10_000),
    };
    match b.build() {
        Ok(c) => c,
        // The values above are a valid combination; this is a programming error.
        Err(e) => unreachable!("invalid gossipsub configuration: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_bounded() {
        let a = AuthorId([1; 32]);
        assert_eq!(shard_of(&a), shard_of(&a));
        assert!((0..=255u8).all(|i| shard_of(&AuthorId([i; 32])) < FEED_SHARDS));
        assert_eq!(all_topics().count(), FEED_SHARDS as usize);
        assert_eq!(
            topic_for(&a).to_string(),
            format!("/kith/feed/1/{:02}", shard_of(&a))
        );
        // Both set-ups build.
        let _ = behaviour(Role::Client, Duration::from_secs(1));
        let _ = behaviour(Role::Hub, Duration::from_secs(1));
    }

    #[test]
    fn a_live_entry_is_valid_on_its_authors_topic_and_carries_its_payload() {
        let me = kith_core::Identity::from_secret([3; 32]);
        let mut feed = kith_core::Feed::new(me.author());
        let now = crate::now_ms();
        let entry = feed
            .append(&me, &kith_core::Payload::post("hello"), now)
            .expect("append")
            .clone();
        let topic = topic_for(&me.author()).hash();
        assert_eq!(accept_live(&entry.encode(), &topic, now), Ok(entry.clone()));
        let elsewhere = shard_topic((shard_of(&me.author()) + 1) % FEED_SHARDS).hash();
        assert_eq!(
            accept_live(&entry.encode(), &elsewhere, now),
            Err(LiveError::WrongTopic)
        );
        let mut blank = entry.clone();
        blank.purge_payload();
        assert_eq!(
            accept_live(&blank.encode(), &topic, now),
            Err(LiveError::NoPayload(1))
        );
        assert!(matches!(
            accept_live(b"junk", &topic, now),
            Err(LiveError::Invalid(_))
        ));
    }
}
