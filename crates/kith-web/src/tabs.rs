//! One node per browser profile: what the profile's tabs say to each other.
//!
//! Every tab of a profile shares one IndexedDB database, but only one may run the libp2p
//! node: the node's peer id is the person's, and two nodes with one peer id knock each other
//! off kith-node. The tab that holds the Web Lock [`NODE_LOCK`] runs it (the **holder**); the
//! others (**followers**) wait in the lock's queue and show the same store. When the holder
//! closes, the browser grants the lock to the next tab, which starts the node: a handover
//! takes as long as connecting does.
//!
//! Tabs talk over a `BroadcastChannel` ([`CHANNEL`]) in [`TabMessage`]s, JSON-encoded:
//! - any tab that writes to the store says [`TabMessage::Changed`], and every other tab
//!   re-reads that feed (the store is the truth; a lost message is repaired by the next one);
//! - a follower's own post is signed and stored by the follower itself (the store refuses a
//!   second entry at the same seq, so two tabs cannot fork the feed), then the holder is asked
//!   to publish it ([`TabMessage::Publish`]);
//! - what needs the network (live follow, syncs, handle search, who holds my feed) a follower
//!   asks of the holder, which answers on the channel;
//! - the holder tells followers its connection state ([`TabMessage::Status`]), also when a
//!   follower says [`TabMessage::Hello`].

use kith_core::AuthorId;
use serde::{Deserialize, Serialize};

/// The Web Lock held by the tab that runs the node.
pub const NODE_LOCK: &str = "kith-node";
/// The channel the profile's tabs talk on.
pub const CHANNEL: &str = "kith-tabs";

/// The holder's connection, as followers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TabStatus {
    /// Dialing kith-node.
    Connecting {
        /// The attempt number.
        attempt: u32,
    },
    /// Connected.
    Online {
        /// kith-node's peer id.
        node: String,
        /// The transport in use.
        transport: kith_net::TransportKind,
    },
    /// Offline, retrying.
    Offline {
        /// Why.
        reason: String,
        /// When the next attempt is.
        retry_in_ms: u64,
    },
}

/// A message between the profile's tabs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TabMessage {
    /// The store has new entries (or a new follow state) for `author`: re-read it.
    Changed {
        /// The feed.
        author: AuthorId,
    },
    /// Follower → holder: publish my stored entry `seq` live.
    Publish {
        /// The entry's seq in the person's own feed.
        seq: u64,
    },
    /// Follower → holder: `author` was just followed (stored): follow live, announce, sync.
    Followed {
        /// The feed.
        author: AuthorId,
    },
    /// Follower → holder: sync `author`'s feed now (a profile preview).
    Sync {
        /// The feed.
        author: AuthorId,
    },
    /// Follower → holder: look up `handle` in the DHT; answered by [`TabMessage::Found`].
    Search {
        /// Matches the answer to the question.
        id: u64,
        /// The normalised handle.
        handle: String,
    },
    /// Holder → followers: the claimants of a handle, or why the lookup failed.
    Found {
        /// The question's id.
        id: u64,
        /// The handle.
        handle: String,
        /// Each claimant and the handle they claimed.
        result: Result<Vec<(AuthorId, String)>, String>,
    },
    /// Follower → holder: who holds my feed; answered by [`TabMessage::Holders`].
    FindHolders {
        /// Matches the answer to the question.
        id: u64,
    },
    /// Holder → followers: the people announcing the person's feed.
    Holders {
        /// The question's id.
        id: u64,
        /// Their authors, or why the lookup failed.
        result: Result<Vec<AuthorId>, String>,
    },
    /// Follower → holder: the person pressed "Retry now".
    RetryNow,
    /// Follower → holder: a new tab; say your status.
    Hello,
    /// Holder → followers: its connection state.
    Status(TabStatus),
}

impl TabMessage {
    /// The message as sent.
    pub fn encode(&self) -> String {
        // Plain serde types: encoding cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A received message; `None` for anything else on the channel (another version of the
    /// app during an update).
    pub fn decode(text: &str) -> Option<TabMessage> {
        serde_json::from_str(text).ok()
    }
}
