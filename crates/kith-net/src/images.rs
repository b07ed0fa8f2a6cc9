//! Images on the wire: fetched by hash from the author or any holder of the feed, over one
//! request-response protocol ([`kith_core::image`] says what an image is).
//!
//! - The request is the image's SHA-256, 32 bytes exactly. The answer is one status byte
//!   ([`Answer`]), followed, for [`Answer::Here`], by the image's bytes (at most
//!   [`MAX_IMAGE_BYTES`](kith_core::image::MAX_IMAGE_BYTES)).
//! - The serving event loop applies a per-peer [`Throttle`](crate::notify::Throttle) and a
//!   bound on the requests waiting for its agent before anything reaches the agent: past
//!   either, the answer is [`Answer::Busy`] at once. The agent answers from its store, only
//!   what an entry it holds still names (a deleted post's images are gone), and nothing to a
//!   person blocked here.
//! - The fetching agent asks the holders one after another and keeps the first bytes that are
//!   the image the entry names (kith-store checks them with kith-core before it writes
//!   them); bytes that are not are a strike against the peer, as a forged entry is.

use libp2p::StreamProtocol;

/// The protocol name.
pub const IMAGE_PROTOCOL: StreamProtocol = StreamProtocol::new("/kith/image/1.0.0");
/// The largest answer: a status byte and an image.
pub const MAX_IMAGE_ANSWER: usize = 1 + kith_core::image::MAX_IMAGE_BYTES as usize;
/// How many image requests may wait for the agent at once (all peers).
pub const MAX_PENDING_IMAGE_ASKS: usize = 8;
/// How many images one peer may ask for at once before it waits for a token (a screen of
/// posts with four images each).
pub const IMAGE_BURST: u32 = 40;
/// How many images one peer may ask for per minute, past the burst.
pub const IMAGES_PER_MINUTE: u32 = 240;
/// How many holders one fetch asks before it gives up.
pub const MAX_HOLDERS_ASKED: usize = 6;

/// What a holder answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The image's bytes (not yet checked).
    Here(Vec<u8>),
    /// Not held here (or not for the asker).
    NotHeld,
    /// Too many requests now: ask later or elsewhere.
    Busy,
}

impl Answer {
    /// The answer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Answer::Here(bytes) => {
                let mut out = Vec::with_capacity(1 + bytes.len());
                out.push(0);
                out.extend_from_slice(bytes);
                out
            }
            Answer::NotHeld => vec![1],
            Answer::Busy => vec![2],
        }
    }

    /// The answer `bytes` stand for.
    pub fn decode(bytes: &[u8]) -> Result<Answer, String> {
        match bytes.split_first() {
            Some((0, image)) if !image.is_empty() => Ok(Answer::Here(image.to_vec())),
            Some((1, [])) => Ok(Answer::NotHeld),
            Some((2, [])) => Ok(Answer::Busy),
            _ => Err("an image answer that is not one".to_owned()),
        }
    }
}

/// Why an image could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The entry is not held here (or was deleted), or names no such image.
    #[error("no post held here names this image")]
    NotNamed,
    /// Nobody reached had it (or only bytes that are not it).
    #[error("nobody holding this post is online with the image (asked {asked})")]
    Unavailable {
        /// How many holders were asked.
        asked: usize,
    },
    /// The store failed (full, or unavailable).
    #[error("{0}")]
    Store(kith_store::StoreError),
}

/// The hash a request asks for, if it is one.
pub fn decode_request(bytes: &[u8]) -> Result<kith_core::Hash, String> {
    <[u8; 32]>::try_from(bytes)
        .map(kith_core::Hash)
        .map_err(|_| format!("an image request of {} bytes, not 32", bytes.len()))
}

/// The image protocol's codec: length-prefixed frames, bounded by [`crate::sync_protocol::limits`].
pub type ImageCodec = crate::sync_protocol::Frames;

/// The request-response behaviour for images.
pub fn behaviour() -> libp2p::request_response::Behaviour<ImageCodec> {
    libp2p::request_response::Behaviour::with_codec(
        crate::sync_protocol::Frames,
        [(
            IMAGE_PROTOCOL,
            libp2p::request_response::ProtocolSupport::Full,
        )],
        libp2p::request_response::Config::default()
            .with_request_timeout(std::time::Duration::from_secs(20))
            .with_max_concurrent_streams(8),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn answers_and_requests_round_trip_and_anything_else_is_refused() {
        for a in [Answer::Here(vec![1, 2, 3]), Answer::NotHeld, Answer::Busy] {
            assert_eq!(Answer::decode(&a.encode()), Ok(a));
        }
        for bad in [&[][..], &[0], &[1, 0], &[2, 9], &[3]] {
            assert!(Answer::decode(bad).is_err(), "{bad:?}");
        }
        assert_eq!(decode_request(&[7; 32]), Ok(kith_core::Hash([7; 32])));
        assert!(decode_request(&[7; 31]).is_err());
        assert!(decode_request(&[7; 33]).is_err());
    }
}
