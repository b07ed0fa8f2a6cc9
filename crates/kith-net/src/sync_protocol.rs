//! The sync protocol on the wire: kith-core's sync messages over libp2p request-response.
//!
//! A request and its response are each one length-prefixed (u32, big-endian) encoded
//! `kith_core::sync::Message`, at most [`MAX_MESSAGE_BYTES`](kith_core::sync::MAX_MESSAGE_BYTES).
//! The requester's frontier is answered with the responder's; a `Request` is answered with
//! `Entries`. Decoding (and its limits) happens in kith-core.

use futures::{AsyncReadExt, AsyncWriteExt};
use kith_core::sync::MAX_MESSAGE_BYTES;
use libp2p::StreamProtocol;
use std::io;

/// The protocol name.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/kith/sync/2.0.0");

/// Length-prefixed byte frames, bounded per protocol ([`limits`]). Every request-response
/// protocol of Kith (sync, [`crate::notify`], [`crate::search`]) uses this one codec, so the
/// three behaviours are one type and the browser's bundle holds request-response's code once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Frames;

/// The sync protocol's frames.
pub type SyncCodec = Frames;

/// The largest request and the largest response of `protocol` (nothing for one not Kith's).
pub fn limits(protocol: &StreamProtocol) -> (usize, usize) {
    if *protocol == SYNC_PROTOCOL {
        (MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES)
    } else if *protocol == crate::notify::NOTIFY_PROTOCOL {
        (crate::notify::MAX_NOTE_BYTES, 1)
    } else if *protocol == crate::images::IMAGE_PROTOCOL {
        (32, crate::images::MAX_IMAGE_ANSWER)
    } else if *protocol == crate::search::SEARCH_PROTOCOL {
        (
            crate::search::MAX_QUERY_BYTES,
            crate::search::MAX_HITS_BYTES,
        )
    } else {
        (0, 0)
    }
}

/// Reads one length-prefixed frame of at most `max` bytes.
pub(crate) async fn read_frame<T: futures::AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Writes one length-prefixed frame of at most `max` bytes, and closes the stream.
pub(crate) async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: Vec<u8>,
    max: usize,
) -> io::Result<()> {
    if bytes.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "frame too large",
        ));
    }
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

impl libp2p::request_response::Codec for Frames {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame(io, limits(p).0).await
    }

    async fn read_response<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame(io, limits(p).1).await
    }

    async fn write_request<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, req, limits(p).0).await
    }

    async fn write_response<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, res, limits(p).1).await
    }
}

/// The request-response behaviour for sync: 20 s per request, at most 16 streams at once per
/// connection (a flood from one peer waits or fails; it does not grow a queue).
pub fn behaviour() -> libp2p::request_response::Behaviour<SyncCodec> {
    libp2p::request_response::Behaviour::with_codec(
        Frames,
        [(
            SYNC_PROTOCOL,
            libp2p::request_response::ProtocolSupport::Full,
        )],
        libp2p::request_response::Config::default()
            .with_request_timeout(std::time::Duration::from_secs(20))
            .with_max_concurrent_streams(16),
    )
}
