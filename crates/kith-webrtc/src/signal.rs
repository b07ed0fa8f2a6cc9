//! Reading and writing signalling messages on any byte stream (the libp2p stream of
//! `/webrtc-signaling/0.0.1`), each bounded by [`MAX_SIGNAL`](crate::proto::MAX_SIGNAL).

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::Error;
use crate::proto::{self, MAX_SIGNAL, Signal};

/// The signalling protocol, allowed on relayed (limited) connections.
pub const PROTOCOL: &str = "/webrtc-signaling/0.0.1";

/// The most messages one handshake reads from the peer (an SDP and its ICE candidates);
/// a peer that sends more is refused.
pub const MAX_SIGNALS: usize = 128;

/// Reads one message; `Ok(None)` at a clean end of stream between messages.
pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Signal>, Error> {
    let mut prefix = Vec::with_capacity(3);
    let len = loop {
        let mut byte = [0u8];
        let n = r.read(&mut byte).await.map_err(Error::signaling_io)?;
        if n == 0 {
            if prefix.is_empty() {
                return Ok(None);
            }
            return Err(Error::Protocol(
                "the signalling stream ended inside a message".into(),
            ));
        }
        prefix.push(byte[0]);
        match proto::get_varint(&prefix) {
            Ok(Some((len, _))) => break len,
            Ok(None) => {}
            Err(e) => return Err(Error::Protocol(e.to_string())),
        }
    };
    if len > MAX_SIGNAL as u64 {
        return Err(Error::Protocol(format!(
            "a signalling message of {len} bytes, over the {MAX_SIGNAL} limit"
        )));
    }
    let mut body = vec![0; len as usize];
    r.read_exact(&mut body).await.map_err(Error::signaling_io)?;
    Signal::decode(&body)
        .map(Some)
        .map_err(|e| Error::Protocol(e.to_string()))
}

/// Writes one message and flushes it.
pub async fn write<W: AsyncWrite + Unpin>(w: &mut W, signal: &Signal) -> Result<(), Error> {
    if signal.data.len() > MAX_SIGNAL - 8 {
        return Err(Error::Protocol(format!(
            "a signalling message of {} bytes, over the {MAX_SIGNAL} limit",
            signal.data.len()
        )));
    }
    w.write_all(&signal.encode())
        .await
        .map_err(Error::signaling_io)?;
    w.flush().await.map_err(Error::signaling_io)
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::io::Cursor;

    use super::*;
    use crate::proto::SignalKind;

    #[test]
    fn messages_round_trip_and_end_cleanly() {
        let mut wire = Cursor::new(Vec::new());
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".repeat(40);
        block_on(async {
            write(&mut wire, &Signal::new(SignalKind::SdpOffer, sdp.clone()))
                .await
                .expect("valid");
            write(&mut wire, &Signal::new(SignalKind::IceCandidate, "{}"))
                .await
                .expect("valid");
        });
        wire.set_position(0);
        block_on(async {
            assert_eq!(
                read(&mut wire).await.expect("valid"),
                Some(Signal::new(SignalKind::SdpOffer, sdp))
            );
            assert_eq!(
                read(&mut wire).await.expect("valid"),
                Some(Signal::new(SignalKind::IceCandidate, "{}"))
            );
            assert_eq!(read(&mut wire).await.expect("valid"), None);
        });
    }

    #[test]
    fn oversized_truncated_and_malformed_messages_are_errors() {
        let mut big = Vec::new();
        proto::put_varint(&mut big, MAX_SIGNAL as u64 + 1);
        big.extend_from_slice(&[0; 64]);
        let err = block_on(read(&mut Cursor::new(big))).expect_err("must be refused");
        assert!(err.to_string().contains("over the"), "{err}");
        let err = block_on(read(&mut Cursor::new(vec![0x05, 0x08]))).expect_err("must be refused");
        assert!(matches!(err, Error::Signaling(_)), "{err}");
        let err = block_on(read(&mut Cursor::new(vec![0x80]))).expect_err("must be refused");
        assert!(err.to_string().contains("inside a message"), "{err}");
        let err = block_on(read(&mut Cursor::new(vec![0x01, 0x0b]))).expect_err("must be refused");
        assert!(matches!(err, Error::Protocol(_)), "{err}");
        let mut sink = Cursor::new(Vec::new());
        let huge = Signal::new(SignalKind::SdpOffer, "x".repeat(MAX_SIGNAL));
        assert!(block_on(write(&mut sink, &huge)).is_err());
        assert!(
            sink.get_ref().is_empty(),
            "nothing of a refused message is written"
        );
    }
}
