//! kith-node: the native node that holds Kith's network together, and stores no posts.
//!
//! How the parts cooperate:
//! - [`config::Cli`] is every flag, parsed by clap; `main.rs` only parses, starts and waits.
//! - [`keys`] keeps the node's Ed25519 identity and WebRTC certificate on disk, so its peer id
//!   and certhash (parts of the address browsers dial) survive restarts.
//! - [`node::Node::start`] checks every input, builds the swarm with [`behaviour::Behaviour`]
//!   (identify, ping, Kademlia in server mode on Kith's protocol name, circuit relay v2 server,
//!   connection limits), listens on WebSocket and WebRTC-direct, joins other nodes named with
//!   `--bootstrap`, and spawns one task that owns the swarm.
//! - [`store::NodeStore`] is the DHT's store: records as rust-libp2p keeps them, provider
//!   records under Kith's policy (keys of Kith's form, bounded per peer, per key and in all, and
//!   junk cannot push real holders out).
//! - [`persist`] writes the store and the other nodes the routing table knows to disk (within
//!   [`persist::SAVE_EVERY`] of a change, and at shutdown) and reads them back at start, so a
//!   restarted node answers for people who are offline.
//! - [`http`] serves the built app, `/bootstrap.json` (this node's peer id and dialable
//!   addresses, read by the app at load) and `/status.json`.
//!
//! What the node keeps: DHT routing state, verified DHT records (signed handle and device
//! claims) and provider records, in memory and in its DHT file. Posts and other user content
//! never touch its disk; relayed traffic is end-to-end encrypted between the
//! browsers.

pub mod behaviour;
pub mod config;
pub mod http;
pub mod keys;
pub mod node;
pub mod persist;
pub mod store;

pub use config::Cli;
pub use node::{Node, Status};
