//! The `/bootstrap.json` document: which node to dial and at which addresses.
//!
//! kith-node serves it from its HTTP origin; the app fetches it from its own origin at load.
//! It is parsed here, with limits, so a hostile or broken server cannot hand the app an
//! unbounded list or a nonsense address. Addresses stay strings here (kith-core knows nothing
//! of libp2p); kith-net parses them into multiaddrs.

use serde::{Deserialize, Serialize};

/// The most addresses a document may list.
pub const MAX_ADDRS: usize = 16;
/// The longest address accepted, in bytes.
pub const MAX_ADDR_LEN: usize = 512;
/// The largest document accepted, in bytes.
pub const MAX_DOC_BYTES: usize = 16 * 1024;

/// What a kith-node says about itself to the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapDoc {
    /// The node's libp2p peer id (base58).
    pub peer_id: String,
    /// Dialable multiaddrs, each ending in `/p2p/<peer_id>`.
    pub addrs: Vec<String>,
    /// The node's software version, for the status view.
    #[serde(default)]
    pub version: String,
}

/// Why a bootstrap document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapError {
    /// The bytes are larger than [`MAX_DOC_BYTES`].
    #[error("bootstrap document is {0} bytes, more than the {MAX_DOC_BYTES} allowed")]
    TooLarge(usize),
    /// The bytes are not the JSON shape of a [`BootstrapDoc`].
    #[error("bootstrap document is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    /// The document lists no address at all.
    #[error("bootstrap document lists no addresses")]
    NoAddrs,
    /// More than [`MAX_ADDRS`] addresses.
    #[error("bootstrap document lists {0} addresses, more than the {MAX_ADDRS} allowed")]
    TooManyAddrs(usize),
    /// One address is longer than [`MAX_ADDR_LEN`] or does not name the document's peer.
    #[error("bootstrap address {0:?} is too long or does not end in /p2p/<peer_id>")]
    BadAddr(String),
    /// The peer id is empty or not base58.
    #[error("bootstrap peer id {0:?} is not a base58 peer id")]
    BadPeerId(String),
}

impl BootstrapDoc {
    /// Parses and checks a document received from a server.
    pub fn parse(bytes: &[u8]) -> Result<Self, BootstrapError> {
        if bytes.len() > MAX_DOC_BYTES {
            return Err(BootstrapError::TooLarge(bytes.len()));
        }
        let doc: BootstrapDoc =
            serde_json::from_slice(bytes).map_err(|e| BootstrapError::Malformed(e.to_string()))?;
        doc.validate()?;
        Ok(doc)
    }

    /// Checks the limits and that every address names this document's peer.
    pub fn validate(&self) -> Result<(), BootstrapError> {
        let base58 = |c: char| c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l');
        if self.peer_id.is_empty() || self.peer_id.len() > 128 || !self.peer_id.chars().all(base58)
        {
            return Err(BootstrapError::BadPeerId(self.peer_id.clone()));
        }
        if self.addrs.is_empty() {
            return Err(BootstrapError::NoAddrs);
        }
        if self.addrs.len() > MAX_ADDRS {
            return Err(BootstrapError::TooManyAddrs(self.addrs.len()));
        }
        let suffix = format!("/p2p/{}", self.peer_id);
        if let Some(bad) = self
            .addrs
            .iter()
            .find(|a| a.len() > MAX_ADDR_LEN || !a.starts_with('/') || !a.ends_with(&suffix))
        {
            return Err(BootstrapError::BadAddr(bad.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

    fn doc() -> BootstrapDoc {
        BootstrapDoc {
            peer_id: PEER.into(),
            addrs: vec![format!("/ip4/127.0.0.1/tcp/9090/ws/p2p/{PEER}")],
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn round_trips_and_validates() {
        let bytes = serde_json::to_vec(&doc()).expect("serialize");
        assert_eq!(BootstrapDoc::parse(&bytes), Ok(doc()));
    }

    #[test]
    fn each_refusal_has_its_variant() {
        assert_eq!(
            BootstrapDoc::parse(&vec![b' '; MAX_DOC_BYTES + 1]),
            Err(BootstrapError::TooLarge(MAX_DOC_BYTES + 1))
        );
        assert!(matches!(
            BootstrapDoc::parse(b"{\"peer_id\": 3}"),
            Err(BootstrapError::Malformed(_))
        ));
        let mut d = doc();
        d.addrs.clear();
        assert_eq!(d.validate(), Err(BootstrapError::NoAddrs));
        d.addrs = vec![doc().addrs[0].clone(); MAX_ADDRS + 1];
        assert_eq!(
            d.validate(),
            Err(BootstrapError::TooManyAddrs(MAX_ADDRS + 1))
        );
        d.addrs = vec!["/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWother".into()];
        assert!(matches!(d.validate(), Err(BootstrapError::BadAddr(_))));
        d = doc();
        d.peer_id = "0OIl".into();
        assert!(matches!(d.validate(), Err(BootstrapError::BadPeerId(_))));
    }
}
