//! The `/bootstrap.json` document: which node to dial and at which addresses, and which other
//! kith-nodes that node knows; and [`KnownNodes`], the nodes an app remembers.
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
pub const MAX_DOC_BYTES: usize = 64 * 1024;
/// The most other kith-nodes a document may name.
pub const MAX_NODES: usize = 8;
/// The most addresses given for each other node.
pub const MAX_NODE_ADDRS: usize = 4;
/// The most nodes an app remembers ([`KnownNodes`]).
pub const MAX_KNOWN_NODES: usize = 16;

/// A kith-node and where to dial it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddrs {
    /// Its libp2p peer id (base58).
    pub peer_id: String,
    /// Dialable multiaddrs, each ending in `/p2p/<peer_id>`.
    pub addrs: Vec<String>,
}

fn is_peer_id(s: &str) -> bool {
    let base58 = |c: char| c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l');
    !s.is_empty() && s.len() <= 128 && s.chars().all(base58)
}

impl NodeAddrs {
    /// Checks the peer id, and that there are 1 to `max` addresses, each naming it.
    fn validate(&self, max: usize) -> Result<(), BootstrapError> {
        if !is_peer_id(&self.peer_id) {
            return Err(BootstrapError::BadPeerId(self.peer_id.clone()));
        }
        if self.addrs.is_empty() {
            return Err(BootstrapError::NoAddrs);
        }
        if self.addrs.len() > max {
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
    /// Other kith-nodes this one knows in the DHT (at most [`MAX_NODES`]): where the app can
    /// go when this node is gone.
    #[serde(default)]
    pub nodes: Vec<NodeAddrs>,
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
    /// More addresses than allowed ([`MAX_ADDRS`] for the node, [`MAX_NODE_ADDRS`] for each
    /// other node).
    #[error("bootstrap document lists {0} addresses for one node, more than allowed")]
    TooManyAddrs(usize),
    /// More than [`MAX_NODES`] other nodes, or the node itself among them.
    #[error(
        "bootstrap document names {0} other nodes, more than the {MAX_NODES} allowed or itself"
    )]
    BadNodes(usize),
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

    /// Checks the limits and that every address names its node's peer.
    pub fn validate(&self) -> Result<(), BootstrapError> {
        self.node().validate(MAX_ADDRS)?;
        if self.nodes.len() > MAX_NODES || self.nodes.iter().any(|n| n.peer_id == self.peer_id) {
            return Err(BootstrapError::BadNodes(self.nodes.len()));
        }
        for n in &self.nodes {
            n.validate(MAX_NODE_ADDRS)?;
        }
        Ok(())
    }

    /// The node that serves the document, as a [`NodeAddrs`].
    pub fn node(&self) -> NodeAddrs {
        NodeAddrs {
            peer_id: self.peer_id.clone(),
            addrs: self.addrs.clone(),
        }
    }

    /// A document for `node` alone (what the app dials when it goes to a remembered node).
    pub fn of(node: &NodeAddrs) -> BootstrapDoc {
        BootstrapDoc {
            peer_id: node.peer_id.clone(),
            addrs: node.addrs.clone(),
            version: String::new(),
            nodes: Vec::new(),
        }
    }
}

/// The kith-nodes an app remembers, most recently learned first, at most
/// [`MAX_KNOWN_NODES`]: the node that served a document and the nodes it named. Kept by the
/// app (in its store) so that it can start through another node when the one that served
/// the page is gone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownNodes(Vec<NodeAddrs>);

impl KnownNodes {
    /// Reads what [`KnownNodes::encode`] wrote; what does not parse or check out is left out
    /// (a damaged list only loses nodes).
    pub fn decode(bytes: &[u8]) -> KnownNodes {
        let nodes: Vec<NodeAddrs> = serde_json::from_slice(bytes).unwrap_or_default();
        KnownNodes(
            nodes
                .into_iter()
                .filter(|n| n.validate(MAX_ADDRS).is_ok())
                .take(MAX_KNOWN_NODES)
                .collect(),
        )
    }

    /// The stored form (JSON).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap_or_default()
    }

    /// Learns from a (validated) document: its node first, then the nodes it names that are
    /// not known yet; the oldest fall off past [`MAX_KNOWN_NODES`]. Returns whether the list
    /// changed.
    pub fn learn(&mut self, doc: &BootstrapDoc) -> bool {
        let before = self.0.clone();
        self.0.retain(|n| n.peer_id != doc.peer_id);
        self.0.insert(0, doc.node());
        for n in &doc.nodes {
            if !self.0.iter().any(|k| k.peer_id == n.peer_id) {
                self.0.push(n.clone());
            }
        }
        self.0.truncate(MAX_KNOWN_NODES);
        self.0 != before
    }

    /// The nodes known, most recently learned first.
    pub fn nodes(&self) -> &[NodeAddrs] {
        &self.0
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
            nodes: Vec::new(),
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

    fn other(n: u8) -> NodeAddrs {
        const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        let peer = format!("12D3KooWother{}", char::from(B58[usize::from(n) % 58]));
        NodeAddrs {
            addrs: vec![format!(
                "/ip4/127.0.0.1/tcp/{}/ws/p2p/{peer}",
                9100 + u16::from(n)
            )],
            peer_id: peer,
        }
    }

    #[test]
    fn other_nodes_are_bounded_and_checked() {
        let mut d = doc();
        d.nodes = (0..MAX_NODES as u8).map(other).collect();
        let bytes = serde_json::to_vec(&d).expect("serialize");
        assert_eq!(BootstrapDoc::parse(&bytes), Ok(d.clone()));
        d.nodes.push(other(20));
        assert_eq!(d.validate(), Err(BootstrapError::BadNodes(MAX_NODES + 1)));
        d.nodes = vec![doc().node()];
        assert!(
            matches!(d.validate(), Err(BootstrapError::BadNodes(_))),
            "itself"
        );
        let mut far = other(1);
        far.addrs = vec![far.addrs[0].clone(); MAX_NODE_ADDRS + 1];
        d.nodes = vec![far];
        assert!(matches!(d.validate(), Err(BootstrapError::TooManyAddrs(_))));
        let mut lying = other(1);
        lying.addrs = other(2).addrs;
        d.nodes = vec![lying];
        assert!(matches!(d.validate(), Err(BootstrapError::BadAddr(_))));
        // A document from an older node, without `nodes`, still reads.
        let old =
            format!(r#"{{"peer_id":"{PEER}","addrs":["/ip4/127.0.0.1/tcp/9090/ws/p2p/{PEER}"]}}"#);
        assert_eq!(
            BootstrapDoc::parse(old.as_bytes()).map(|d| d.nodes),
            Ok(Vec::new())
        );
    }

    #[test]
    fn known_nodes_learn_most_recent_first_and_stay_bounded() {
        let mut known = KnownNodes::default();
        let mut d = doc();
        d.nodes = vec![other(1), other(2)];
        assert!(known.learn(&d));
        let ids = |k: &KnownNodes| {
            k.nodes()
                .iter()
                .map(|n| n.peer_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&known),
            [PEER.to_owned(), other(1).peer_id, other(2).peer_id]
        );
        assert!(!known.learn(&d), "nothing new");
        // Served by node 2 now: it comes first.
        let mut from2 = BootstrapDoc::of(&other(2));
        from2.nodes = vec![doc().node()];
        assert!(known.learn(&from2));
        assert_eq!(
            ids(&known),
            [other(2).peer_id, PEER.to_owned(), other(1).peer_id]
        );
        for n in 3..30 {
            let mut many = BootstrapDoc::of(&other(n));
            many.nodes = vec![];
            known.learn(&many);
        }
        assert_eq!(known.nodes().len(), MAX_KNOWN_NODES);
        assert_eq!(known.nodes()[0].peer_id, other(29).peer_id);
        let again = KnownNodes::decode(&known.encode());
        assert_eq!(again, known);
        assert_eq!(KnownNodes::decode(b"nonsense"), KnownNodes::default());
    }
}
