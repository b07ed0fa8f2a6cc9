//! Images in posts and profiles: what an entry says about an image, and what bytes may be
//! taken as that image.
//!
//! An entry never carries image bytes. A post names up to [`MAX_IMAGES`] images by an
//! [`ImageRef`] (content hash, length, type and size in pixels), and a profile names its
//! avatar the same way (as text, [`ImageRef::to_avatar`]). The bytes travel apart, fetched by
//! hash from the author or any holder of the feed, and [`check`] decides whether bytes are
//! the image a reference names:
//! - the SHA-256 and the length match;
//! - the bytes are a JPEG, PNG or WebP whose header gives the type and the size the
//!   reference declares (the browser then decodes them for real before showing them);
//! - they carry no metadata block: no EXIF, XMP or IPTC in a JPEG, no `eXIf` or text chunks in
//!   a PNG, no `EXIF` or `XMP ` chunk in a WebP. The app re-encodes every picture before
//!   posting, which drops camera data such as the location; a writer that skipped that step
//!   is refused by every reader.
//!
//! Only the headers are parsed here, with every length checked against the bytes there are:
//! no pixel is decoded natively.

use serde::{Deserialize, Serialize};

use crate::hash::{Hash, unhex};

/// The most images in one post.
pub const MAX_IMAGES: usize = 4;
/// The largest image, in bytes.
pub const MAX_IMAGE_BYTES: u32 = 512 * 1024;
/// The longest side of an image, in pixels.
pub const MAX_IMAGE_SIDE: u16 = 2_048;
/// The longest side the app gives a post's image when it resizes it.
pub const POST_IMAGE_SIDE: u16 = 1_600;
/// The longest side of an avatar, in pixels.
pub const MAX_AVATAR_SIDE: u16 = 512;
/// The side the app gives an avatar when it resizes it.
pub const AVATAR_SIDE: u16 = 256;

/// An image type Kith takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ImageKind {
    /// JPEG (JFIF).
    Jpeg,
    /// PNG.
    Png,
    /// WebP (lossy, lossless or extended).
    Webp,
}

impl ImageKind {
    /// The MIME type, for the browser.
    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpeg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
        }
    }

    fn from_tag(s: &str) -> Option<ImageKind> {
        Some(match s {
            "jpeg" => ImageKind::Jpeg,
            "png" => ImageKind::Png,
            "webp" => ImageKind::Webp,
            _ => return None,
        })
    }
}

/// What an entry says about one image: enough to fetch it by hash, check it, and lay out a
/// placeholder of the right shape before the bytes arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// SHA-256 of the image's bytes.
    pub hash: Hash,
    /// Its length in bytes.
    pub len: u32,
    /// Its type.
    pub kind: ImageKind,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

/// Why bytes or a reference are not a Kith image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// More bytes than [`MAX_IMAGE_BYTES`].
    #[error("the image is {len} bytes, more than the {MAX_IMAGE_BYTES} allowed")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// A side of zero or longer than allowed.
    #[error("the image is {width}×{height} pixels; each side must be 1 to {max}")]
    BadSize {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// The longest side allowed here.
        max: u16,
    },
    /// Not a JPEG, PNG or WebP, or a header that does not parse.
    #[error("not an image of an allowed type (JPEG, PNG, WebP): {0}")]
    NotAnImage(&'static str),
    /// A metadata block (EXIF, XMP, IPTC, text) that the app would have dropped.
    #[error("the image carries metadata ({0}), which Kith drops before posting")]
    Metadata(&'static str),
    /// The bytes' hash or length is not the reference's.
    #[error("the bytes are not the image the post names (hash or length differ)")]
    HashMismatch,
    /// The bytes are an image, but of another type or size than the reference says.
    #[error(
        "the image is a {actual_kind:?} of {actual_w}×{actual_h}, the post says {kind:?} of {width}×{height}"
    )]
    NotAsDeclared {
        /// The declared type.
        kind: ImageKind,
        /// Declared width.
        width: u16,
        /// Declared height.
        height: u16,
        /// The type found.
        actual_kind: ImageKind,
        /// Width found.
        actual_w: u32,
        /// Height found.
        actual_h: u32,
    },
    /// An avatar reference that is not one.
    #[error("an avatar reference that does not parse")]
    BadAvatar,
}

impl ImageRef {
    /// The reference to `bytes`, after checking them as an image whose sides are at most
    /// `max_side` ([`MAX_IMAGE_SIDE`] for posts, [`MAX_AVATAR_SIDE`] for avatars): what the app
    /// puts in the entry it signs.
    pub fn of(bytes: &[u8], max_side: u16) -> Result<ImageRef, ImageError> {
        if bytes.len() > MAX_IMAGE_BYTES as usize {
            return Err(ImageError::TooLarge { len: bytes.len() });
        }
        let (kind, width, height) = sniff(bytes)?;
        let (width, height) = sides(width, height, max_side)?;
        Ok(ImageRef {
            hash: Hash::of(&[bytes]),
            len: bytes.len() as u32,
            kind,
            width,
            height,
        })
    }

    /// Checks the reference alone (as entry validation does): a length and sides in bounds.
    pub fn check_declared(&self, max_side: u16) -> Result<(), ImageError> {
        if self.len == 0 || self.len > MAX_IMAGE_BYTES {
            return Err(ImageError::TooLarge {
                len: self.len as usize,
            });
        }
        sides(u32::from(self.width), u32::from(self.height), max_side).map(|_| ())
    }

    /// The text a profile's `avatar` holds for this image.
    pub fn to_avatar(&self) -> String {
        format!(
            "kith-img:{}:{}:{}:{}x{}",
            self.hash.to_hex(),
            self.len,
            self.kind.tag(),
            self.width,
            self.height
        )
    }

    /// The image a profile's `avatar` text names, checked as an avatar.
    pub fn from_avatar(s: &str) -> Result<ImageRef, ImageError> {
        let parse = || -> Option<ImageRef> {
            let rest = s.strip_prefix("kith-img:")?;
            let mut parts = rest.split(':');
            let hash = Hash(unhex::<32>(parts.next()?)?);
            let len = parse_decimal(parts.next()?)?;
            let kind = ImageKind::from_tag(parts.next()?)?;
            let (w, h) = parts.next()?.split_once('x')?;
            if parts.next().is_some() {
                return None;
            }
            Some(ImageRef {
                hash,
                len: u32::try_from(len).ok()?,
                kind,
                width: u16::try_from(parse_decimal(w)?).ok()?,
                height: u16::try_from(parse_decimal(h)?).ok()?,
            })
        };
        let image = parse().ok_or(ImageError::BadAvatar)?;
        // One text per image: the canonical form only.
        if image.to_avatar() != s {
            return Err(ImageError::BadAvatar);
        }
        image.check_declared(MAX_AVATAR_SIDE)?;
        Ok(image)
    }
}

/// The size an image of `width`×`height` is drawn at before it is posted: scaled down (never
/// up) so that its longer side is at most `max_side`, each side at least 1 pixel.
pub fn fit_within(width: u32, height: u32, max_side: u16) -> (u16, u16) {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let max = u64::from(max_side.max(1));
    let long = w.max(h);
    if long <= max {
        return (w as u16, h as u16);
    }
    // Rounded to the nearest pixel.
    let scale = |side: u64| ((side * max + long / 2) / long).clamp(1, max) as u16;
    (scale(w), scale(h))
}

/// The encodings the app tries, in order, until one is at most [`MAX_IMAGE_BYTES`]: WebP
/// quality, and the longest side as a fraction of the first try's (per mille).
pub const ENCODE_LADDER: [(f64, u32); 4] = [(0.85, 1000), (0.7, 1000), (0.6, 750), (0.5, 500)];

/// Digits only (no sign, no leading zero unless it is "0"), at most 10 of them.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

fn sides(width: u32, height: u32, max: u16) -> Result<(u16, u16), ImageError> {
    let bad = ImageError::BadSize { width, height, max };
    if width == 0 || height == 0 || width > u32::from(max) || height > u32::from(max) {
        return Err(bad);
    }
    Ok((width as u16, height as u16))
}

/// Whether `bytes` are the image `image` names: length and hash, type and size, no metadata.
pub fn check(image: &ImageRef, bytes: &[u8]) -> Result<(), ImageError> {
    if bytes.len() != image.len as usize || Hash::of(&[bytes]) != image.hash {
        return Err(ImageError::HashMismatch);
    }
    let (kind, w, h) = sniff(bytes)?;
    if kind != image.kind || w != u32::from(image.width) || h != u32::from(image.height) {
        return Err(ImageError::NotAsDeclared {
            kind: image.kind,
            width: image.width,
            height: image.height,
            actual_kind: kind,
            actual_w: w,
            actual_h: h,
        });
    }
    Ok(())
}

/// The type and size in pixels of an image, from its header, refusing metadata blocks.
pub fn sniff(bytes: &[u8]) -> Result<(ImageKind, u32, u32), ImageError> {
    if bytes.len() > MAX_IMAGE_BYTES as usize {
        return Err(ImageError::TooLarge { len: bytes.len() });
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        if !bytes.ends_with(&[0xFF, 0xD9]) {
            return Err(ImageError::NotAnImage("a JPEG that does not end"));
        }
        let (w, h) = jpeg(bytes)?;
        Ok((ImageKind::Jpeg, w, h))
    } else if bytes.starts_with(PNG_SIGNATURE) {
        let (w, h) = png(bytes)?;
        Ok((ImageKind::Png, w, h))
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        let (w, h) = webp(bytes)?;
        Ok((ImageKind::Webp, w, h))
    } else {
        Err(ImageError::NotAnImage("no JPEG, PNG or WebP signature"))
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        0,
    ]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// JPEG: every segment to the end marker, the scans' entropy-coded data skipped. The frame
/// header (SOF) gives the size; APP1 (EXIF, XMP) and APP13 (IPTC) are metadata wherever they
/// stand (a progressive JPEG may carry segments between its scans).
fn jpeg(b: &[u8]) -> Result<(u32, u32), ImageError> {
    const TRUNCATED: ImageError = ImageError::NotAnImage("a JPEG segment runs past the end");
    let mut at = 2;
    let mut size = None;
    let mut scanned = false;
    loop {
        // Markers may be padded with extra 0xFF bytes.
        while b.get(at) == Some(&0xFF) && b.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if b.get(at) != Some(&0xFF) {
            return Err(ImageError::NotAnImage("a JPEG segment without a marker"));
        }
        let marker = *b.get(at + 1).ok_or(TRUNCATED)?;
        at += 2;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 => return Err(ImageError::NotAnImage("a second JPEG start marker")),
            0xD9 if !scanned => {
                return Err(ImageError::NotAnImage("a JPEG that ends before its image"));
            }
            0xD9 if at != b.len() => {
                return Err(ImageError::NotAnImage("bytes after a JPEG's end"));
            }
            0xD9 => return size.ok_or(ImageError::NotAnImage("a JPEG scan before its frame")),
            _ => {}
        }
        let len = be16(b, at).ok_or(TRUNCATED)? as usize;
        if len < 2 || at + len > b.len() {
            return Err(TRUNCATED);
        }
        let body = &b[at + 2..at + len];
        match marker {
            0xE1 => return Err(ImageError::Metadata("EXIF or XMP")),
            0xED => return Err(ImageError::Metadata("IPTC")),
            // Start of frame (every coding except the DHT, JPG and DAC markers in the range).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let h = be16(body, 1).ok_or(TRUNCATED)?;
                let w = be16(body, 3).ok_or(TRUNCATED)?;
                if size.replace((w, h)).is_some() {
                    return Err(ImageError::NotAnImage("a JPEG with two frames"));
                }
            }
            // Start of scan: its entropy-coded data runs to the next marker that is neither a
            // stuffed 0xFF00 nor a restart marker.
            0xDA => {
                if size.is_none() {
                    return Err(ImageError::NotAnImage("a JPEG scan before its frame"));
                }
                scanned = true;
                let mut next = at + len;
                loop {
                    let ff = b[next..]
                        .iter()
                        .position(|&x| x == 0xFF)
                        .map(|p| next + p)
                        .ok_or(TRUNCATED)?;
                    match b.get(ff + 1) {
                        Some(0x00 | 0xD0..=0xD7) => next = ff + 2,
                        Some(_) => {
                            next = ff;
                            break;
                        }
                        None => return Err(TRUNCATED),
                    }
                }
                at = next;
                continue;
            }
            _ => {}
        }
        at += len;
    }
}

const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// PNG: IHDR first gives the size; every chunk up to IEND is walked for metadata.
fn png(b: &[u8]) -> Result<(u32, u32), ImageError> {
    const TRUNCATED: ImageError = ImageError::NotAnImage("a PNG chunk runs past the end");
    let mut at = PNG_SIGNATURE.len();
    let mut size = None;
    loop {
        let len = be32(b, at).ok_or(TRUNCATED)? as usize;
        let kind = b.get(at + 4..at + 8).ok_or(TRUNCATED)?;
        let end = (at + 12).checked_add(len).ok_or(TRUNCATED)?;
        if end > b.len() {
            return Err(TRUNCATED);
        }
        let body = &b[at + 8..at + 8 + len];
        if size.is_none() && kind != b"IHDR" {
            return Err(ImageError::NotAnImage(
                "a PNG that does not start with IHDR",
            ));
        }
        match kind {
            b"IHDR" => {
                if size.is_some() || len != 13 {
                    return Err(ImageError::NotAnImage("a PNG with a bad IHDR"));
                }
                size = Some((
                    be32(body, 0).ok_or(TRUNCATED)?,
                    be32(body, 4).ok_or(TRUNCATED)?,
                ));
            }
            b"eXIf" => return Err(ImageError::Metadata("EXIF")),
            b"tEXt" | b"zTXt" | b"iTXt" => return Err(ImageError::Metadata("text")),
            b"IEND" => {
                if end != b.len() {
                    return Err(ImageError::NotAnImage("bytes after a PNG's end"));
                }
                return size.ok_or(ImageError::NotAnImage("a PNG without IHDR"));
            }
            _ => {}
        }
        at = end;
    }
}

/// WebP: the RIFF chunks. `VP8 ` (lossy), `VP8L` (lossless) or `VP8X` (extended) gives the
/// size; `EXIF` and `XMP ` chunks, or VP8X's flags for them, are metadata.
fn webp(b: &[u8]) -> Result<(u32, u32), ImageError> {
    const TRUNCATED: ImageError = ImageError::NotAnImage("a WebP chunk runs past the end");
    let riff = le32(b, 4).ok_or(TRUNCATED)? as usize;
    if riff.checked_add(8) != Some(b.len()) {
        return Err(ImageError::NotAnImage(
            "a WebP whose RIFF size is not its length",
        ));
    }
    let mut at = 12;
    let mut size = None;
    while at < b.len() {
        let kind = b.get(at..at + 4).ok_or(TRUNCATED)?;
        let len = le32(b, at + 4).ok_or(TRUNCATED)? as usize;
        let start = at + 8;
        let end = start.checked_add(len).ok_or(TRUNCATED)?;
        if end > b.len() {
            return Err(TRUNCATED);
        }
        let body = &b[start..end];
        match kind {
            b"VP8X" => {
                let flags = *body.first().ok_or(TRUNCATED)?;
                if flags & 0x08 != 0 {
                    return Err(ImageError::Metadata("EXIF"));
                }
                if flags & 0x04 != 0 {
                    return Err(ImageError::Metadata("XMP"));
                }
                let w = le24(body, 4).ok_or(TRUNCATED)? + 1;
                let h = le24(body, 7).ok_or(TRUNCATED)? + 1;
                size.get_or_insert((w, h));
            }
            b"VP8 " => {
                // A frame tag (3 bytes), the start code, then 14-bit width and height.
                if body.get(3..6) != Some(&[0x9D, 0x01, 0x2A]) {
                    return Err(ImageError::NotAnImage("a VP8 frame without its start code"));
                }
                let w = le16(body, 6).ok_or(TRUNCATED)? & 0x3FFF;
                let h = le16(body, 8).ok_or(TRUNCATED)? & 0x3FFF;
                size.get_or_insert((w, h));
            }
            b"VP8L" => {
                if body.first() != Some(&0x2F) {
                    return Err(ImageError::NotAnImage("a VP8L frame without its signature"));
                }
                let bits = le32(body, 1).ok_or(TRUNCATED)?;
                size.get_or_insert(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1));
            }
            b"EXIF" => return Err(ImageError::Metadata("EXIF")),
            b"XMP " => return Err(ImageError::Metadata("XMP")),
            _ => {}
        }
        // Chunks are padded to an even length.
        at = end + (len & 1);
    }
    size.ok_or(ImageError::NotAnImage("a WebP without an image chunk"))
}

/// Small valid images, built byte by byte, for tests here and in other crates.
pub mod samples {
    use super::PNG_SIGNATURE;

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    fn adler32(bytes: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in bytes {
            a = (a + u32::from(x)) % 65_521;
            b = (b + a) % 65_521;
        }
        (b << 16) | a
    }

    /// A decodable grey PNG of `width`×`height`, with `extra` bytes of noise in a private
    /// chunk (`kIth`, which decoders skip) to reach a chosen size, and `seed` in its pixels so
    /// two samples differ. The pixels are stored uncompressed (zlib's stored blocks).
    pub fn png(width: u32, height: u32, seed: u8, extra: usize) -> Vec<u8> {
        let mut raw = Vec::new();
        for y in 0..height {
            raw.push(0); // filter: none
            for x in 0..width {
                raw.push(seed.wrapping_add((x ^ y) as u8));
            }
        }
        let mut zlib = vec![0x78, 0x01];
        let mut blocks = raw.chunks(65_535).peekable();
        if blocks.peek().is_none() {
            zlib.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
        }
        while let Some(block) = blocks.next() {
            zlib.push(u8::from(blocks.peek().is_none()));
            let n = block.len() as u16;
            zlib.extend_from_slice(&n.to_le_bytes());
            zlib.extend_from_slice(&(!n).to_le_bytes());
            zlib.extend_from_slice(block);
        }
        zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
        let mut out = PNG_SIGNATURE.to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
        chunk(&mut out, b"IHDR", &ihdr);
        if extra > 0 {
            let noise: Vec<u8> = (0..extra)
                .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
                .collect();
            chunk(&mut out, b"kIth", &noise);
        }
        chunk(&mut out, b"IDAT", &zlib);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    /// [`png`] with a text chunk (metadata) before its pixels.
    pub fn png_with_text(width: u32, height: u32) -> Vec<u8> {
        let plain = png(width, height, 0, 0);
        // Signature (8) + IHDR (25): the text goes right after.
        let mut out = plain[..33].to_vec();
        chunk(&mut out, b"tEXt", b"Comment\0taken at 48.85N 2.35E");
        out.extend_from_slice(&plain[33..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A minimal JPEG header: SOI, JFIF APP0, optional extra segment, SOF0, SOS.
    fn jpeg(w: u16, h: u16, extra: Option<(u8, &[u8])>) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        let seg = |b: &mut Vec<u8>, marker: u8, body: &[u8]| {
            b.extend_from_slice(&[0xFF, marker]);
            b.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
            b.extend_from_slice(body);
        };
        seg(&mut b, 0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        if let Some((marker, body)) = extra {
            seg(&mut b, marker, body);
        }
        let mut sof = vec![8];
        sof.extend_from_slice(&h.to_be_bytes());
        sof.extend_from_slice(&w.to_be_bytes());
        sof.extend_from_slice(&[1, 1, 0x11, 0]);
        seg(&mut b, 0xC0, &sof);
        seg(&mut b, 0xDA, &[1, 1, 0, 0, 0x3F, 0]);
        b.extend_from_slice(&[0x12, 0x34, 0xFF, 0xD9]);
        b
    }

    fn webp_lossy(w: u16, h: u16, extra: Option<&[u8; 4]>) -> Vec<u8> {
        let mut frame = vec![0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A];
        frame.extend_from_slice(&w.to_le_bytes());
        frame.extend_from_slice(&h.to_le_bytes());
        frame.extend_from_slice(&[0; 6]);
        let mut body = b"WEBP".to_vec();
        let push = |body: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
            body.extend_from_slice(kind);
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        };
        push(&mut body, b"VP8 ", &frame);
        if let Some(kind) = extra {
            push(&mut body, kind, b"Exif\0\0MM");
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn each_allowed_type_gives_its_kind_and_size() {
        assert_eq!(
            sniff(&jpeg(640, 480, None)),
            Ok((ImageKind::Jpeg, 640, 480))
        );
        assert_eq!(
            sniff(&samples::png(3, 2, 7, 100)),
            Ok((ImageKind::Png, 3, 2))
        );
        assert_eq!(
            sniff(&webp_lossy(1600, 900, None)),
            Ok((ImageKind::Webp, 1600, 900))
        );
        // An ICC profile (APP2) is colour, not metadata about the person.
        assert!(sniff(&jpeg(10, 10, Some((0xE2, b"ICC_PROFILE\0")))).is_ok());
    }

    #[test]
    fn metadata_blocks_are_refused() {
        assert_eq!(
            sniff(&jpeg(10, 10, Some((0xE1, b"Exif\0\0MM\0*")))),
            Err(ImageError::Metadata("EXIF or XMP"))
        );
        assert_eq!(
            sniff(&jpeg(10, 10, Some((0xED, b"Photoshop 3.0\0")))),
            Err(ImageError::Metadata("IPTC"))
        );
        assert_eq!(
            sniff(&samples::png_with_text(4, 4)),
            Err(ImageError::Metadata("text"))
        );
        assert_eq!(
            sniff(&webp_lossy(10, 10, Some(b"EXIF"))),
            Err(ImageError::Metadata("EXIF"))
        );
    }

    #[test]
    fn metadata_after_a_scan_and_bytes_after_the_end_are_refused() {
        // A second scan after a segment between scans (as progressive JPEGs have) passes.
        let mut ok = jpeg(16, 16, None);
        let end = ok.len() - 2;
        ok.splice(
            end..end,
            [
                0xFF, 0xC4, 0, 2, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0, 0x55, 0xFF, 0x00, 0x66,
                0xFF, 0xD3, 0x77,
            ],
        );
        assert_eq!(sniff(&ok), Ok((ImageKind::Jpeg, 16, 16)));
        // An APP1 between the scans is metadata.
        let mut hidden = jpeg(16, 16, None);
        let end = hidden.len() - 2;
        hidden.splice(end..end, [0xFF, 0xE1, 0, 8, b'E', b'x', b'i', b'f', 0, 0]);
        assert_eq!(sniff(&hidden), Err(ImageError::Metadata("EXIF or XMP")));
        // An end marker inside, with more after it.
        let mut twice = jpeg(16, 16, None);
        twice.extend_from_slice(&[0x00, 0xFF, 0xD9]);
        assert!(matches!(sniff(&twice), Err(ImageError::NotAnImage(_))));
    }

    #[test]
    fn what_is_not_an_image_is_refused_at_every_truncation() {
        assert!(matches!(
            sniff(b"GIF89a\x01\0\x01\0"),
            Err(ImageError::NotAnImage(_))
        ));
        assert!(matches!(sniff(b""), Err(ImageError::NotAnImage(_))));
        for image in [
            jpeg(64, 64, None),
            samples::png(8, 8, 1, 0),
            webp_lossy(64, 64, None),
        ] {
            for cut in 0..image.len() {
                assert!(
                    sniff(&image[..cut]).is_err(),
                    "cut at {cut} of {}",
                    image.len()
                );
            }
        }
    }

    #[test]
    fn a_reference_checks_hash_length_type_and_size() {
        let bytes = samples::png(20, 10, 3, 50);
        let image = ImageRef::of(&bytes, MAX_IMAGE_SIDE).expect("an image");
        assert_eq!(
            (image.kind, image.width, image.height, image.len as usize),
            (ImageKind::Png, 20, 10, bytes.len())
        );
        assert_eq!(check(&image, &bytes), Ok(()));
        let mut altered = bytes.clone();
        let last = altered.len() - 20;
        altered[last] ^= 1;
        assert_eq!(check(&image, &altered), Err(ImageError::HashMismatch));
        assert_eq!(
            check(&image, &samples::png(20, 10, 4, 50)),
            Err(ImageError::HashMismatch)
        );
        // A reference that lies about the size is refused with the bytes it names.
        let lying = ImageRef { width: 30, ..image };
        assert!(matches!(
            check(&lying, &bytes),
            Err(ImageError::NotAsDeclared { .. })
        ));
        // Too large a side for an avatar, fine for a post.
        let wide = samples::png(600, 1, 0, 0);
        assert!(matches!(
            ImageRef::of(&wide, MAX_AVATAR_SIDE),
            Err(ImageError::BadSize { .. })
        ));
        assert!(ImageRef::of(&wide, MAX_IMAGE_SIDE).is_ok());
        let huge = samples::png(1, 1, 0, MAX_IMAGE_BYTES as usize);
        assert!(matches!(
            ImageRef::of(&huge, MAX_IMAGE_SIDE),
            Err(ImageError::TooLarge { .. })
        ));
    }

    #[test]
    fn pictures_are_scaled_down_to_fit_and_never_up() {
        assert_eq!(fit_within(4032, 3024, POST_IMAGE_SIDE), (1600, 1200));
        assert_eq!(fit_within(3024, 4032, POST_IMAGE_SIDE), (1200, 1600));
        assert_eq!(fit_within(800, 600, POST_IMAGE_SIDE), (800, 600));
        assert_eq!(fit_within(10_000, 3, AVATAR_SIDE), (256, 1));
        assert_eq!(fit_within(0, 0, AVATAR_SIDE), (1, 1));
        assert_eq!(fit_within(u32::MAX, u32::MAX, MAX_IMAGE_SIDE), (2048, 2048));
    }

    #[test]
    fn an_avatar_reference_round_trips_in_its_one_text_form() {
        let image = ImageRef::of(&samples::png(256, 256, 9, 0), MAX_AVATAR_SIDE).expect("image");
        let text = image.to_avatar();
        assert!(text.len() <= crate::entry::MAX_AVATAR_BYTES);
        assert_eq!(ImageRef::from_avatar(&text), Ok(image));
        for bad in [
            "blob:1".to_owned(),
            text.replace(":png:", ":gif:"),
            text.replace("kith-img:", "kith-img:0"),
            format!("{text}:1"),
            text.replace(":256x", ":0256x"),
            text.replace("256x256", "1024x256"),
        ] {
            assert!(ImageRef::from_avatar(&bad).is_err(), "{bad}");
        }
    }
}
