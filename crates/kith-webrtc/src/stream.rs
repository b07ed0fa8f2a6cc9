//! One libp2p stream over one data channel, as a state machine with no I/O: bytes that
//! arrived go in ([`StreamState::receive`]), frames to send come out. The browser shell
//! (`browser::channel`) feeds it from the channel's events and sends what it returns.
//!
//! Half-close follows libp2p/specs `webrtc/README.md`, FIN_ACK included (rust-libp2p's
//! `libp2p-webrtc-utils` lacks it, #4600, and treats the flag as invalid data, which is why
//! Kith has its own): `FIN` ends our writing and is acknowledged by the peer's `FIN_ACK`;
//! a `FIN` from the peer is answered with `FIN_ACK` at once. `STOP_SENDING` closes our write
//! side, `RESET_STREAM` the peer's. Bytes from the peer wait in a buffer bounded by
//! `max_buffered`; a peer that overfills it gets the stream reset.

use std::collections::VecDeque;
use std::fmt;

use crate::proto::{self, Flag, MAX_MESSAGE, MAX_PAYLOAD, ProtoError};

/// The default bound on bytes received and not yet read, per stream (js-libp2p buffers 2 MiB
/// too). The peer can send faster than the reader reads only up to this.
pub const MAX_BUFFERED: usize = 2 * 1024 * 1024;

/// Why the peer's bytes broke the stream; the stream is reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A malformed message.
    Malformed(ProtoError),
    /// More unread bytes than the buffer holds.
    Overflow {
        /// The bound.
        max: usize,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "malformed data-channel message: {e}"),
            Self::Overflow { max } => write!(f, "the peer sent over {max} unread bytes"),
        }
    }
}

impl std::error::Error for Violation {}

/// Our reading side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recv {
    Open,
    /// The peer sent `FIN`: once the buffer is read, end of stream.
    Finished,
    /// The peer sent `RESET_STREAM`, broke the protocol, or the channel closed without `FIN`.
    Reset,
}

/// Our writing side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Send {
    Open,
    /// We sent `FIN` and wait for `FIN_ACK`.
    FinSent,
    /// `FIN_ACK` arrived (or the channel closed after our `FIN`).
    Closed,
    /// The peer sent `STOP_SENDING`.
    Stopped,
    /// We or the peer reset the stream.
    Reset,
}

/// What a read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// This many bytes were copied.
    Data(usize),
    /// The peer finished writing and everything was read.
    Eof,
    /// The stream was reset; nothing more will come.
    Reset,
    /// Nothing yet.
    Pending,
}

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRefused {
    /// We closed our side already.
    Closed,
    /// The peer asked us to stop sending.
    Stopped,
    /// The stream was reset.
    Reset,
}

impl fmt::Display for WriteRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "the stream is closed for writing",
            Self::Stopped => "the peer stopped reading this stream",
            Self::Reset => "the stream was reset",
        })
    }
}

/// The state of one stream; see the module docs.
#[derive(Debug)]
pub struct StreamState {
    /// Bytes of a message whose end has not arrived yet.
    partial: Vec<u8>,
    /// Payloads received and not yet read, the first partly read up to `read_offset`.
    unread: VecDeque<Vec<u8>>,
    read_offset: usize,
    /// The unread part of `unread`, in bytes.
    unread_bytes: usize,
    max_buffered: usize,
    recv: Recv,
    send: Send,
    /// Control messages to send as soon as the channel takes them (`FIN_ACK`).
    outbox: VecDeque<Vec<u8>>,
}

impl Default for StreamState {
    fn default() -> Self {
        Self::new(MAX_BUFFERED)
    }
}

impl StreamState {
    /// A fresh stream that buffers up to `max_buffered` unread bytes.
    pub fn new(max_buffered: usize) -> Self {
        Self {
            partial: Vec::new(),
            unread: VecDeque::new(),
            read_offset: 0,
            unread_bytes: 0,
            max_buffered,
            recv: Recv::Open,
            send: Send::Open,
            outbox: VecDeque::new(),
        }
    }

    /// Takes bytes from the channel (one channel message, or any split of the byte stream).
    /// On a violation the stream is reset both ways and a `RESET_STREAM` waits in the outbox.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        let result = self.receive_inner(bytes);
        if result.is_err() {
            self.reset();
        }
        result
    }

    fn receive_inner(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        if self.recv == Recv::Reset && self.send == Send::Reset {
            return Ok(()); // abandoned both ways: nothing to learn from more bytes
        }
        self.partial.extend_from_slice(bytes);
        let mut used = 0;
        loop {
            let rest = &self.partial[used..];
            let Some((body, took)) =
                proto::take_frame(rest, MAX_MESSAGE).map_err(Violation::Malformed)?
            else {
                break;
            };
            let frame = proto::decode_frame(body).map_err(Violation::Malformed)?;
            let payload = frame.message.filter(|m| !m.is_empty()).map(<[u8]>::to_vec);
            used += took;
            if let Some(payload) = payload
                && self.recv == Recv::Open
            {
                self.unread_bytes += payload.len();
                self.unread.push_back(payload);
            }
            if let Some(flag) = frame.flag {
                self.on_flag(flag);
            }
        }
        self.partial.drain(..used);
        if self.buffered() > self.max_buffered {
            return Err(Violation::Overflow {
                max: self.max_buffered,
            });
        }
        Ok(())
    }

    fn on_flag(&mut self, flag: Flag) {
        match flag {
            Flag::Fin => {
                if self.recv == Recv::Open {
                    self.recv = Recv::Finished;
                }
                if self.recv == Recv::Finished {
                    self.outbox
                        .push_back(proto::encode_frame(Some(Flag::FinAck), None));
                }
            }
            Flag::FinAck => {
                if self.send == Send::FinSent {
                    self.send = Send::Closed;
                }
            }
            Flag::StopSending => {
                if self.send == Send::Open {
                    self.send = Send::Stopped;
                }
            }
            Flag::ResetStream => {
                self.recv = Recv::Reset;
                self.drop_unread();
                if matches!(self.send, Send::Open | Send::FinSent) {
                    self.send = Send::Reset;
                }
            }
        }
    }

    fn drop_unread(&mut self) {
        self.unread.clear();
        self.read_offset = 0;
        self.unread_bytes = 0;
    }

    /// Copies unread bytes into `buf`.
    pub fn read(&mut self, buf: &mut [u8]) -> Read {
        if buf.is_empty() {
            return Read::Data(0);
        }
        let mut copied = 0;
        while copied < buf.len() {
            let Some(front) = self.unread.front() else {
                break;
            };
            let rest = &front[self.read_offset..];
            let n = rest.len().min(buf.len() - copied);
            buf[copied..copied + n].copy_from_slice(&rest[..n]);
            copied += n;
            self.read_offset += n;
            if self.read_offset == front.len() {
                self.unread.pop_front();
                self.read_offset = 0;
            }
        }
        self.unread_bytes -= copied;
        if copied > 0 {
            return Read::Data(copied);
        }
        match self.recv {
            Recv::Open => Read::Pending,
            Recv::Finished => Read::Eof,
            Recv::Reset => Read::Reset,
        }
    }

    /// Frames the first bytes of `data` (at most [`proto::MAX_PAYLOAD`]) for sending: the
    /// message and how many bytes of `data` it carries.
    pub fn frame(&self, data: &[u8]) -> Result<(Vec<u8>, usize), WriteRefused> {
        match self.send {
            Send::Open => {
                let n = data.len().min(MAX_PAYLOAD);
                Ok((proto::encode_frame(None, Some(&data[..n])), n))
            }
            Send::FinSent | Send::Closed => Err(WriteRefused::Closed),
            Send::Stopped => Err(WriteRefused::Stopped),
            Send::Reset => Err(WriteRefused::Reset),
        }
    }

    /// Ends our writing: the `FIN` to send, once.
    pub fn close_write(&mut self) -> Option<Vec<u8>> {
        if self.send != Send::Open {
            return None;
        }
        self.send = Send::FinSent;
        Some(proto::encode_frame(Some(Flag::Fin), None))
    }

    /// Whether closing our write side is over: `FIN_ACK` came, or it no longer can.
    pub fn write_closed(&self) -> bool {
        !matches!(self.send, Send::Open | Send::FinSent)
    }

    /// Whether nothing more can be read.
    pub fn read_closed(&self) -> bool {
        self.recv != Recv::Open && self.unread.is_empty()
    }

    /// Whether both directions are over, so the channel can be closed.
    pub fn is_done(&self) -> bool {
        self.write_closed() && self.recv != Recv::Open
    }

    /// Abandons the stream both ways (a local reset, a drop before the end, a violation): the
    /// `RESET_STREAM` waits in the outbox unless the stream already ended cleanly.
    pub fn reset(&mut self) {
        let clean = self.recv == Recv::Finished && self.send == Send::Closed;
        self.recv = Recv::Reset;
        self.drop_unread();
        if !clean {
            self.send = Send::Reset;
            self.outbox
                .push_back(proto::encode_frame(Some(Flag::ResetStream), None));
        }
    }

    /// The channel closed under us: bytes without a `FIN` end as a reset, a `FIN` that waited
    /// for its `FIN_ACK` counts as acknowledged.
    pub fn channel_closed(&mut self) {
        if self.recv == Recv::Open {
            self.recv = Recv::Reset;
        }
        self.send = match self.send {
            Send::FinSent => Send::Closed,
            Send::Open => Send::Reset,
            other => other,
        };
        self.outbox.clear();
    }

    /// The next control message to send.
    pub fn next_outgoing(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    /// Bytes received and not yet read (the bounded buffer's fill).
    pub fn buffered(&self) -> usize {
        self.partial.len() + self.unread_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{decode_frame, encode_frame, take_frame};

    fn flag_of(bytes: &[u8]) -> Option<Flag> {
        let (body, _) = take_frame(bytes, MAX_MESSAGE)
            .expect("valid")
            .expect("valid");
        decode_frame(body).expect("valid").flag
    }

    fn read_all(s: &mut StreamState) -> (Vec<u8>, Read) {
        let mut out = Vec::new();
        let mut buf = [0; 7];
        loop {
            match s.read(&mut buf) {
                Read::Data(n) => out.extend_from_slice(&buf[..n]),
                other => return (out, other),
            }
        }
    }

    /// Moves every message `from` would send (data already framed plus its outbox) into `to`.
    fn deliver(messages: &[Vec<u8>], to: &mut StreamState) {
        for m in messages {
            to.receive(m).expect("valid");
        }
    }

    #[test]
    fn data_then_fin_reads_to_the_end_and_is_acknowledged() {
        let mut a = StreamState::default();
        let mut b = StreamState::default();
        let data: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let mut sent = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let (msg, n) = a.frame(rest).expect("valid");
            assert!(msg.len() <= MAX_MESSAGE);
            sent.push(msg);
            rest = &rest[n..];
        }
        assert_eq!(sent.len(), 3);
        sent.push(a.close_write().expect("valid"));
        assert!(a.close_write().is_none(), "FIN goes once");
        assert!(!a.write_closed());
        assert_eq!(a.frame(b"late"), Err(WriteRefused::Closed));
        deliver(&sent, &mut b);
        let (got, end) = read_all(&mut b);
        assert_eq!(got, data);
        assert_eq!(end, Read::Eof);
        let ack = b.next_outgoing().expect("valid");
        assert_eq!(flag_of(&ack), Some(Flag::FinAck));
        assert!(b.next_outgoing().is_none());
        a.receive(&ack).expect("valid");
        assert!(a.write_closed());
        assert!(!a.is_done(), "a still reads");
        assert!(!b.is_done(), "b still writes");
        // b closes too; then both are done.
        let fin = b.close_write().expect("valid");
        a.receive(&fin).expect("valid");
        assert_eq!(read_all(&mut a).1, Read::Eof);
        b.receive(&a.next_outgoing().expect("valid"))
            .expect("valid");
        assert!(a.is_done() && b.is_done());
    }

    #[test]
    fn messages_split_anywhere_decode_the_same() {
        let mut a = StreamState::default();
        let mut wire = Vec::new();
        for chunk in [&b"hello "[..], b"world", b"!"] {
            wire.extend(a.frame(chunk).expect("valid").0);
        }
        wire.extend(a.close_write().expect("valid"));
        for split in 1..wire.len() {
            let mut b = StreamState::default();
            b.receive(&wire[..split]).expect("valid");
            b.receive(&wire[split..]).expect("valid");
            assert_eq!(read_all(&mut b), (b"hello world!".to_vec(), Read::Eof));
        }
    }

    #[test]
    fn stop_sending_refuses_writes_and_reset_ends_reads() {
        let mut a = StreamState::default();
        a.receive(&encode_frame(Some(Flag::StopSending), None))
            .expect("valid");
        assert_eq!(a.frame(b"x"), Err(WriteRefused::Stopped));
        assert!(a.write_closed());
        a.receive(&encode_frame(None, Some(b"kept?")))
            .expect("valid");
        a.receive(&encode_frame(Some(Flag::ResetStream), None))
            .expect("valid");
        assert_eq!(read_all(&mut a), (Vec::new(), Read::Reset));
        assert!(a.read_closed());
    }

    #[test]
    fn a_peer_that_overfills_the_buffer_gets_a_reset() {
        let mut b = StreamState::new(20_000);
        let a = StreamState::default();
        let (msg, _) = a.frame(&[1; 15_000]).expect("valid");
        b.receive(&msg).expect("valid");
        let err = b.receive(&msg).expect_err("must be refused");
        assert_eq!(err, Violation::Overflow { max: 20_000 });
        assert_eq!(
            flag_of(&b.next_outgoing().expect("valid")),
            Some(Flag::ResetStream)
        );
        assert_eq!(read_all(&mut b).1, Read::Reset);
        assert_eq!(b.frame(b"x"), Err(WriteRefused::Reset));
        // A reader that keeps up never overflows.
        let mut c = StreamState::new(20_000);
        for _ in 0..10 {
            c.receive(&msg).expect("valid");
            assert_eq!(read_all(&mut c).0.len(), 15_000);
        }
        assert_eq!(c.buffered(), 0);
    }

    #[test]
    fn malformed_and_oversized_messages_reset_the_stream() {
        let mut b = StreamState::default();
        let err = b
            .receive(&[0x03, 0x12, 0x05, 0x01])
            .expect_err("must be refused");
        assert!(matches!(err, Violation::Malformed(ProtoError::Truncated)));
        assert_eq!(read_all(&mut b).1, Read::Reset);
        let mut c = StreamState::default();
        let mut huge = Vec::new();
        proto::put_varint(&mut huge, MAX_MESSAGE as u64 + 1);
        assert!(matches!(
            c.receive(&huge),
            Err(Violation::Malformed(ProtoError::TooLong { .. }))
        ));
    }

    #[test]
    fn data_after_fin_is_ignored_and_a_second_fin_is_acknowledged_again() {
        let mut b = StreamState::default();
        b.receive(&encode_frame(Some(Flag::Fin), Some(b"last")))
            .expect("valid");
        b.receive(&encode_frame(None, Some(b"ghost")))
            .expect("valid");
        b.receive(&encode_frame(Some(Flag::Fin), None))
            .expect("valid");
        assert_eq!(read_all(&mut b), (b"last".to_vec(), Read::Eof));
        assert_eq!(
            flag_of(&b.next_outgoing().expect("valid")),
            Some(Flag::FinAck)
        );
        assert_eq!(
            flag_of(&b.next_outgoing().expect("valid")),
            Some(Flag::FinAck)
        );
        assert_eq!(b.buffered(), 0);
    }

    #[test]
    fn a_channel_closed_after_our_fin_completes_the_close() {
        let mut a = StreamState::default();
        a.close_write().expect("valid");
        a.channel_closed();
        assert!(a.write_closed());
        assert_eq!(read_all(&mut a).1, Read::Reset);
        let mut b = StreamState::default();
        b.channel_closed();
        assert_eq!(b.frame(b"x"), Err(WriteRefused::Reset));
    }

    #[test]
    fn a_reset_after_a_clean_end_sends_nothing() {
        let mut a = StreamState::default();
        a.close_write().expect("valid");
        a.receive(&encode_frame(Some(Flag::FinAck), None))
            .expect("valid");
        a.receive(&encode_frame(Some(Flag::Fin), None))
            .expect("valid");
        let _ack = a.next_outgoing().expect("valid");
        a.reset();
        assert!(a.next_outgoing().is_none());
        let mut b = StreamState::default();
        b.reset();
        assert_eq!(
            flag_of(&b.next_outgoing().expect("valid")),
            Some(Flag::ResetStream)
        );
    }
}
