//! The browser shell: everything that touches `RTCPeerConnection` and `RTCDataChannel`.
//! Rules live in the native modules ([`crate::stream`], [`crate::proto`], [`crate::addr`],
//! [`crate::signal`]); this shell feeds them the browser's events.

mod channel;
mod connection;
mod deadline;
mod handshake;
mod transport;

pub use channel::Stream;
pub use connection::Connection;
pub use transport::Transport;
