//! Strict decoding: postcard, and the whole input must be consumed. A decoder that ignored
//! trailing bytes would accept many byte strings for one value.

use serde::de::DeserializeOwned;

/// Decodes `bytes` as one `T`, refusing trailing bytes.
pub(crate) fn from_bytes_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, postcard::Error> {
    let (value, rest) = postcard::take_from_bytes(bytes)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(postcard::Error::DeserializeBadEncoding)
    }
}
