//! The two wire messages of `/webrtc`, encoded and decoded by hand (each has two fields):
//!
//! - on every data channel, `Message { optional Flag flag = 1; optional bytes message = 2; }`
//!   (libp2p/specs `webrtc/README.md`);
//! - on the signalling stream, `Message { optional Type type = 1; optional string data = 2; }`
//!   (libp2p/specs `webrtc/webrtc.md`).
//!
//! Each travels behind an unsigned-varint length. Unknown fields are skipped as protobuf
//! requires; a truncated or malformed message is an error, never a panic.

use std::fmt;

/// Why bytes from a peer were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// A length prefix or a field runs past the end of what arrived.
    Truncated,
    /// A varint longer than 10 bytes, or one that does not fit.
    BadVarint,
    /// A wire type protobuf does not have (3, 4 are groups, unused by these messages).
    BadWireType(u8),
    /// A length prefix over the limit of its context.
    TooLong {
        /// The announced length.
        len: u64,
        /// The limit it broke.
        max: usize,
    },
    /// A signalling `data` field that is not UTF-8.
    NotUtf8,
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => write!(f, "truncated message"),
            Self::BadVarint => write!(f, "malformed varint"),
            Self::BadWireType(t) => write!(f, "unknown protobuf wire type {t}"),
            Self::TooLong { len, max } => write!(f, "message of {len} bytes, over the {max} limit"),
            Self::NotUtf8 => write!(f, "signalling data is not UTF-8"),
        }
    }
}

impl std::error::Error for ProtoError {}

/// Appends `v` as an unsigned varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an unsigned varint from the front of `buf`: the value and the bytes it took.
/// `Ok(None)` when `buf` ends inside it.
pub fn get_varint(buf: &[u8]) -> Result<Option<(u64, usize)>, ProtoError> {
    let mut v: u64 = 0;
    for (i, b) in buf.iter().enumerate() {
        if i == 10 {
            return Err(ProtoError::BadVarint);
        }
        let low = u64::from(b & 0x7f);
        if i == 9 && low > 1 {
            return Err(ProtoError::BadVarint);
        }
        v |= low << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((v, i + 1)));
        }
    }
    if buf.len() >= 10 {
        return Err(ProtoError::BadVarint);
    }
    Ok(None)
}

/// Reads one length-prefixed message from the front of `buf`: its body and the bytes used.
/// `Ok(None)` when more bytes are needed; an error when the prefix announces more than `max`.
pub fn take_frame(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, ProtoError> {
    let Some((len, used)) = get_varint(buf)? else {
        return Ok(None);
    };
    if len > max as u64 {
        return Err(ProtoError::TooLong { len, max });
    }
    let len = len as usize;
    let Some(body) = buf.get(used..used + len) else {
        return Ok(None);
    };
    Ok(Some((body, used + len)))
}

/// The two fields both messages have: a varint in field 1 and bytes in field 2.
#[derive(Debug, Default, PartialEq, Eq)]
struct Fields<'a> {
    one: Option<u64>,
    two: Option<&'a [u8]>,
}

fn parse_fields(mut body: &[u8]) -> Result<Fields<'_>, ProtoError> {
    let mut fields = Fields::default();
    while !body.is_empty() {
        let (key, used) = get_varint(body)?.ok_or(ProtoError::Truncated)?;
        body = &body[used..];
        let wire = (key & 7) as u8;
        let number = key >> 3;
        match wire {
            0 => {
                let (v, used) = get_varint(body)?.ok_or(ProtoError::Truncated)?;
                body = &body[used..];
                if number == 1 {
                    fields.one = Some(v);
                }
            }
            2 => {
                let (len, used) = get_varint(body)?.ok_or(ProtoError::Truncated)?;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|l| used.checked_add(l))
                    .ok_or(ProtoError::Truncated)?;
                let bytes = body.get(used..end).ok_or(ProtoError::Truncated)?;
                body = &body[end..];
                if number == 2 {
                    fields.two = Some(bytes);
                }
            }
            1 => body = body.get(8..).ok_or(ProtoError::Truncated)?,
            5 => body = body.get(4..).ok_or(ProtoError::Truncated)?,
            other => return Err(ProtoError::BadWireType(other)),
        }
    }
    Ok(fields)
}

fn encode_fields(one: Option<u64>, two: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(two.map_or(0, <[u8]>::len) + 8);
    if let Some(v) = one {
        body.push(0x08);
        put_varint(&mut body, v);
    }
    if let Some(bytes) = two {
        body.push(0x12);
        put_varint(&mut body, bytes.len() as u64);
        body.extend_from_slice(bytes);
    }
    let mut out = Vec::with_capacity(body.len() + 3);
    put_varint(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

/// A data channel's control flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// The sender will send no more data.
    Fin,
    /// The sender will read no more data.
    StopSending,
    /// The sender abandons the stream both ways.
    ResetStream,
    /// The answer to `Fin`: every byte before it was received.
    FinAck,
}

impl Flag {
    fn code(self) -> u64 {
        match self {
            Self::Fin => 0,
            Self::StopSending => 1,
            Self::ResetStream => 2,
            Self::FinAck => 3,
        }
    }

    fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::Fin,
            1 => Self::StopSending,
            2 => Self::ResetStream,
            3 => Self::FinAck,
            _ => return None,
        })
    }
}

/// The largest data-channel message, length prefix included (the spec's 16 KiB).
pub const MAX_MESSAGE: usize = 16 * 1024;

/// The most payload one data-channel message carries: [`MAX_MESSAGE`] less the length
/// prefix (2), the `message` tag and length (3) and room for a flag (2).
pub const MAX_PAYLOAD: usize = MAX_MESSAGE - 7;

/// One data-channel message, decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The flag, if any; `None` also for a flag this version does not know.
    pub flag: Option<Flag>,
    /// The payload, if any.
    pub message: Option<&'a [u8]>,
}

/// Encodes a data-channel message, length prefix included.
pub fn encode_frame(flag: Option<Flag>, message: Option<&[u8]>) -> Vec<u8> {
    encode_fields(flag.map(Flag::code), message)
}

/// Decodes the body of a data-channel message (without its length prefix).
pub fn decode_frame(body: &[u8]) -> Result<Frame<'_>, ProtoError> {
    let fields = parse_fields(body)?;
    Ok(Frame {
        flag: fields.one.and_then(Flag::from_code),
        message: fields.two,
    })
}

/// The kind of a signalling message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// The offerer's session description.
    SdpOffer,
    /// The answerer's session description.
    SdpAnswer,
    /// One ICE candidate as JSON (`RTCIceCandidate.toJSON()`); empty or `null` ends them.
    IceCandidate,
}

/// One signalling message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// What it carries; `None` for a type this version does not know.
    pub kind: Option<SignalKind>,
    /// The SDP or the candidate JSON.
    pub data: String,
}

/// The largest signalling message Kith sends or accepts (an SDP is 1–3 KiB).
pub const MAX_SIGNAL: usize = 16 * 1024;

impl Signal {
    /// A message of `kind` carrying `data`.
    pub fn new(kind: SignalKind, data: impl Into<String>) -> Self {
        Self {
            kind: Some(kind),
            data: data.into(),
        }
    }

    /// Encodes the message, length prefix included. The type is always written, even
    /// `SDP_OFFER` (0): js-libp2p refuses an offer without it.
    pub fn encode(&self) -> Vec<u8> {
        let kind = match self.kind {
            Some(SignalKind::SdpOffer) | None => 0,
            Some(SignalKind::SdpAnswer) => 1,
            Some(SignalKind::IceCandidate) => 2,
        };
        encode_fields(Some(kind), Some(self.data.as_bytes()))
    }

    /// Decodes a message body (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Self, ProtoError> {
        let fields = parse_fields(body)?;
        let kind = match fields.one {
            Some(0) => Some(SignalKind::SdpOffer),
            Some(1) => Some(SignalKind::SdpAnswer),
            Some(2) => Some(SignalKind::IceCandidate),
            _ => None,
        };
        let data = std::str::from_utf8(fields.two.unwrap_or_default())
            .map_err(|_| ProtoError::NotUtf8)?
            .to_owned();
        Ok(Self { kind, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_encodes_as_the_spec_example() {
        // WEBRTC.md: offer "v=0" encodes as 07 08 00 12 03 76 3d 30.
        let bytes = Signal::new(SignalKind::SdpOffer, "v=0").encode();
        assert_eq!(bytes, [0x07, 0x08, 0x00, 0x12, 0x03, 0x76, 0x3d, 0x30]);
        let (body, used) = take_frame(&bytes, MAX_SIGNAL)
            .expect("valid")
            .expect("valid");
        assert_eq!(used, bytes.len());
        assert_eq!(
            Signal::decode(body).expect("valid"),
            Signal::new(SignalKind::SdpOffer, "v=0")
        );
    }

    #[test]
    fn frames_round_trip_with_and_without_flags() {
        for (flag, message) in [
            (None, Some(&b"hello"[..])),
            (Some(Flag::Fin), None),
            (Some(Flag::FinAck), None),
            (Some(Flag::StopSending), None),
            (Some(Flag::ResetStream), Some(&b"last"[..])),
            (None, Some(&[][..])),
        ] {
            let bytes = encode_frame(flag, message);
            let (body, used) = take_frame(&bytes, MAX_MESSAGE)
                .expect("valid")
                .expect("valid");
            assert_eq!(used, bytes.len());
            assert_eq!(decode_frame(body).expect("valid"), Frame { flag, message });
        }
    }

    #[test]
    fn the_largest_payload_fits_one_message() {
        let payload = vec![7; MAX_PAYLOAD];
        assert!(encode_frame(Some(Flag::Fin), Some(&payload)).len() <= MAX_MESSAGE);
        assert_eq!(encode_frame(None, Some(&payload)).len(), MAX_MESSAGE - 2);
    }

    #[test]
    fn unknown_fields_and_flags_are_skipped() {
        // field 3 varint, field 4 fixed64, field 5 fixed32, then flag 9 and a message.
        let mut body = vec![0x18, 0x96, 0x01, 0x21];
        body.extend_from_slice(&[1; 8]);
        body.push(0x2d);
        body.extend_from_slice(&[2; 4]);
        body.extend_from_slice(&[0x08, 0x09, 0x12, 0x01, 0x41]);
        let frame = decode_frame(&body).expect("valid");
        assert_eq!(frame.flag, None);
        assert_eq!(frame.message, Some(&b"A"[..]));
    }

    #[test]
    fn malformed_bytes_are_errors() {
        assert_eq!(
            decode_frame(&[0x12, 0x05, 1, 2]),
            Err(ProtoError::Truncated)
        );
        assert_eq!(decode_frame(&[0x08]), Err(ProtoError::Truncated));
        assert_eq!(decode_frame(&[0x0b]), Err(ProtoError::BadWireType(3)));
        assert_eq!(get_varint(&[0xff; 11]), Err(ProtoError::BadVarint));
        assert_eq!(
            decode_frame(&[
                0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]),
            Err(ProtoError::Truncated)
        );
        assert_eq!(
            Signal::decode(&[0x12, 0x01, 0xff]),
            Err(ProtoError::NotUtf8)
        );
        let mut long = Vec::new();
        put_varint(&mut long, MAX_MESSAGE as u64 + 1);
        assert!(matches!(
            take_frame(&long, MAX_MESSAGE),
            Err(ProtoError::TooLong { .. })
        ));
        assert_eq!(take_frame(&[0x05, 1, 2], MAX_MESSAGE), Ok(None));
        assert_eq!(take_frame(&[0x80], MAX_MESSAGE), Ok(None));
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(get_varint(&out).expect("valid"), Some((v, out.len())));
        }
    }
}
