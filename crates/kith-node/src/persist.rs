//! The DHT on disk, so a node that restarts still answers for the people who are offline.
//!
//! What the file holds (`--dht-file`, by default `dht.bin` beside the key file), and nothing
//! else:
//! - the DHT records the node holds: signed name claims and device claims, each checked again
//!   with [`crate::store::verified`] when it is read back;
//! - its provider records: "peer P holds feed or handle key K, reachable at these addresses,
//!   until then". They are pointers, and they go back through the store's policy
//!   ([`crate::store::NodeStore`]) as they are read, so the node's limits bound them again;
//! - the other kith-nodes of its routing table, with their addresses, which it dials again at
//!   start (as with `--bootstrap`).
//!
//! No post, profile or other content is ever in it: the node never sees content outside
//! gossip, and gossip keeps nothing.
//!
//! The swarm task takes a [`Snapshot`] (a copy, in memory) when the store changed, at most
//! every [`SAVE_EVERY`], and a blocking task encodes it and writes it: to a temporary file
//! first, then renamed over the old one, so a crash mid-write leaves the previous file whole.
//! A last snapshot is written at shutdown. Expiry times are kept as wall-clock times and
//! turned back into the monotonic clock at load; what expired meanwhile is dropped.
//!
//! A file that cannot be decoded is moved aside (`.corrupt`) with a warning and the node
//! starts with an empty DHT: holders announce again as they come back, and nothing but
//! pointers is lost. A file that cannot be read at all (permissions) stops the start.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use libp2p::kad::store::RecordStore;
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use crate::store::NodeStore;

/// How often, at most, the DHT is written when it changed.
pub const SAVE_EVERY: Duration = Duration::from_secs(15);

/// The first bytes of the file: its format and version.
const MAGIC: &[u8; 8] = b"KITHDHT1";

/// Other kith-nodes kept in the file at most.
pub const MAX_NODES: usize = 64;

/// A copy of what the node keeps on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// DHT records.
    pub records: Vec<SavedRecord>,
    /// Provider records.
    pub providers: Vec<SavedProvider>,
    /// Other kith-nodes and their addresses.
    pub nodes: Vec<SavedNode>,
}

/// A record (a signed claim) and when it expires, in ms since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRecord {
    key: Vec<u8>,
    value: Vec<u8>,
    publisher: Option<Vec<u8>>,
    expires_ms: Option<u64>,
}

/// A provider record and when it expires, in ms since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProvider {
    key: Vec<u8>,
    provider: Vec<u8>,
    addrs: Vec<Vec<u8>>,
    expires_ms: Option<u64>,
}

/// Another kith-node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedNode {
    peer: Vec<u8>,
    addrs: Vec<Vec<u8>>,
}

/// What [`Snapshot::restore`] put back, and what it dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Records stored again.
    pub records: usize,
    /// Provider records stored again.
    pub providers: usize,
    /// Entries that expired meanwhile, no longer verify or no longer fit the limits.
    pub dropped: usize,
}

/// The wall clock, in ms since the Unix epoch.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A monotonic expiry as a wall-clock time; `None` inside means it has passed.
fn to_wall(expires: Option<Instant>, now: Instant, now_ms: u64) -> Option<Option<u64>> {
    match expires {
        None => Some(None),
        Some(at) if at <= now => None,
        Some(at) => {
            let left = u64::try_from((at - now).as_millis()).unwrap_or(u64::MAX);
            Some(Some(now_ms.saturating_add(left)))
        }
    }
}

/// A wall-clock expiry as a monotonic one; `None` inside means it has passed.
fn to_instant(expires_ms: Option<u64>, now: Instant, now_ms: u64) -> Option<Option<Instant>> {
    match expires_ms {
        None => Some(None),
        Some(at) if at <= now_ms => None,
        Some(at) => now
            .checked_add(Duration::from_millis(at - now_ms))
            .map(Some),
    }
}

impl Snapshot {
    /// Copies what `store` holds (expired entries left out) and the `nodes` given.
    pub fn take(store: &NodeStore, nodes: &[(PeerId, Vec<Multiaddr>)]) -> Snapshot {
        let (now, now_ms) = (Instant::now(), wall_ms());
        let records = store
            .records()
            .filter_map(|r| {
                let expires_ms = to_wall(r.expires, now, now_ms)?;
                Some(SavedRecord {
                    key: r.key.to_vec(),
                    value: r.value.clone(),
                    publisher: r.publisher.map(|p| p.to_bytes()),
                    expires_ms,
                })
            })
            .collect();
        let providers = store
            .all_providers()
            .filter_map(|p| {
                let expires_ms = to_wall(p.expires, now, now_ms)?;
                Some(SavedProvider {
                    key: p.key.to_vec(),
                    provider: p.provider.to_bytes(),
                    addrs: p.addresses.iter().map(|a| a.to_vec()).collect(),
                    expires_ms,
                })
            })
            .collect();
        let nodes = nodes
            .iter()
            .take(MAX_NODES)
            .map(|(peer, addrs)| SavedNode {
                peer: peer.to_bytes(),
                addrs: addrs
                    .iter()
                    .take(kith_net::behaviour::MAX_LISTEN_ADDRS)
                    .map(|a| a.to_vec())
                    .collect(),
            })
            .collect();
        Snapshot {
            records,
            providers,
            nodes,
        }
    }

    /// Puts the records and provider records back into `store`, each checked again. The
    /// counts in the answer are what the store holds more afterwards.
    pub fn restore(&self, store: &mut NodeStore) -> Restored {
        let (now, now_ms) = (Instant::now(), wall_ms());
        let before = (store.records().count(), store.provider_records());
        let mut done = Restored::default();
        for r in &self.records {
            let publisher = match &r.publisher {
                None => Some(None),
                Some(p) => PeerId::from_bytes(p).ok().map(Some),
            };
            let (Some(publisher), Some(expires)) =
                (publisher, to_instant(r.expires_ms, now, now_ms))
            else {
                done.dropped += 1;
                continue;
            };
            let record = Record {
                key: RecordKey::new(&r.key),
                value: r.value.clone(),
                publisher,
                expires,
            };
            if !crate::store::verified(&record) || store.put(record).is_err() {
                done.dropped += 1;
            }
        }
        for p in &self.providers {
            let (Ok(provider), Some(expires)) = (
                PeerId::from_bytes(&p.provider),
                to_instant(p.expires_ms, now, now_ms),
            ) else {
                done.dropped += 1;
                continue;
            };
            let record = ProviderRecord {
                key: RecordKey::new(&p.key),
                provider,
                expires,
                addresses: p
                    .addrs
                    .iter()
                    .filter_map(|a| Multiaddr::try_from(a.clone()).ok())
                    .collect(),
            };
            if store.add_provider(record).is_err() {
                done.dropped += 1;
            }
        }
        done.records = store.records().count().saturating_sub(before.0);
        done.providers = store.provider_records().saturating_sub(before.1);
        // A provider record can also push out one restored before it (a key over its limit).
        let total = self.records.len() + self.providers.len();
        done.dropped = total.saturating_sub(done.records + done.providers);
        done
    }

    /// The other kith-nodes, each address ending in its peer id (as `--bootstrap` takes them).
    pub fn node_addrs(&self) -> Vec<Multiaddr> {
        let mut out = Vec::new();
        for n in self.nodes.iter().take(MAX_NODES) {
            let Ok(peer) = PeerId::from_bytes(&n.peer) else {
                continue;
            };
            for a in n.addrs.iter().take(kith_net::behaviour::MAX_LISTEN_ADDRS) {
                if let Ok(addr) = Multiaddr::try_from(a.clone()) {
                    out.push(addr.with_p2p(peer).unwrap_or_else(|a| a));
                }
            }
        }
        out
    }

    /// The file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let out = MAGIC.to_vec();
        postcard::to_extend(self, out).map_err(|e| anyhow!("cannot encode the DHT: {e}"))
    }

    /// Reads the file's bytes back.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| anyhow!("not a kith-node DHT file (or a newer format)"))?;
        postcard::from_bytes(body).map_err(|e| anyhow!("the DHT file is damaged: {e}"))
    }
}

/// Where the DHT is kept: `--dht-file`, or `dht.bin` beside the key file.
pub fn path_for(cli: &crate::Cli) -> PathBuf {
    cli.dht_file.clone().unwrap_or_else(|| {
        cli.key_file
            .parent()
            .unwrap_or(Path::new("."))
            .join("dht.bin")
    })
}

/// Reads the snapshot at `path`: `None` when there is none yet, or when the file is damaged
/// (it is then moved aside to `<path>.corrupt`, with a warning). An unreadable file is an
/// error.
pub fn load(path: &Path) -> Result<Option<Snapshot>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot read the DHT file {} (fix its permissions, or choose another with --dht-file)",
                    path.display()
                )
            });
        }
    };
    match Snapshot::decode(&bytes) {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            let aside = path.with_extension("corrupt");
            tracing::warn!(
                path = %path.display(),
                aside = %aside.display(),
                "{e}: starting with an empty DHT; the file is kept aside"
            );
            std::fs::rename(path, &aside)
                .with_context(|| format!("cannot move {} aside", path.display()))?;
            Ok(None)
        }
    }
}

/// Writes `bytes` to `path` whole or not at all: a temporary file, flushed, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ProviderLimits;

    const LIMITS: ProviderLimits = ProviderLimits {
        max_keys: 100,
        max_per_key: 5,
        max_per_peer: 10,
        max_addrs: 4,
    };

    fn claim_record(seed: u8, handle: &str) -> Record {
        let who = kith_core::Identity::from_secret([seed; 32]);
        let claim = kith_core::NameClaim::sign(&who, handle, 1_000).expect("claim");
        let key = kith_core::NameClaim::record_key(handle, &who.author());
        let mut r = Record::new(RecordKey::new(&key.0), claim.encode());
        r.publisher = Some(PeerId::random());
        r.expires = Some(Instant::now() + Duration::from_secs(3600));
        r
    }

    fn provider(key: u8, expires: Option<Instant>) -> ProviderRecord {
        ProviderRecord {
            key: RecordKey::new(&[key; crate::store::KEY_LEN]),
            provider: PeerId::random(),
            expires,
            addresses: vec!["/ip4/127.0.0.1/tcp/9090/ws".parse().expect("addr")],
        }
    }

    #[test]
    fn what_the_node_holds_comes_back_from_disk_and_what_expired_does_not() {
        let mut store = NodeStore::new(PeerId::random(), 100, LIMITS);
        let alice = claim_record(1, "alice");
        store.put(alice.clone()).expect("stored");
        let soon = Instant::now() + Duration::from_millis(30);
        let kept = provider(1, Some(Instant::now() + Duration::from_secs(3600)));
        store.add_provider(kept.clone()).expect("stored");
        store.add_provider(provider(2, Some(soon))).expect("stored");
        let node = (
            PeerId::random(),
            vec!["/ip4/10.0.0.1/tcp/9090/ws".parse().expect("addr")],
        );

        let snap = Snapshot::take(&store, std::slice::from_ref(&node));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dht.bin");
        write_atomic(&path, &snap.encode().expect("encode")).expect("write");
        std::thread::sleep(Duration::from_millis(60));

        let back = load(&path).expect("read").expect("a snapshot");
        assert_eq!(back, snap);
        let mut fresh = NodeStore::new(PeerId::random(), 100, LIMITS);
        let done = back.restore(&mut fresh);
        assert_eq!(
            done,
            Restored {
                records: 1,
                providers: 1,
                dropped: 1
            },
            "the provider record that expired meanwhile is dropped"
        );
        let got = fresh
            .get(&alice.key)
            .expect("the claim is back")
            .into_owned();
        assert_eq!((got.value, got.publisher), (alice.value, alice.publisher));
        let left = got.expires.expect("an expiry") - Instant::now();
        assert!(left > Duration::from_secs(3590) && left <= Duration::from_secs(3600));
        let holders = fresh.providers(&kept.key);
        assert_eq!(holders.len(), 1);
        assert_eq!(
            (holders[0].provider, &holders[0].addresses),
            (kept.provider, &kept.addresses)
        );
        assert_eq!(
            back.node_addrs(),
            vec![node.1[0].clone().with_p2p(node.0).expect("with peer id")]
        );
    }

    #[test]
    fn a_forged_record_on_disk_is_not_served_and_limits_apply_again() {
        let mut snap = Snapshot::take(&NodeStore::new(PeerId::random(), 100, LIMITS), &[]);
        let mut forged = claim_record(2, "bob");
        forged.key = RecordKey::new(&[9u8; 32]);
        let mut store = NodeStore::new(PeerId::random(), 100, LIMITS);
        store.put(forged).expect("the store itself does not check");
        let one = provider(3, None);
        for _ in 0..LIMITS.max_per_key + 3 {
            let mut p = one.clone();
            p.provider = PeerId::random();
            store.add_provider(p).ok();
        }
        snap.records = Snapshot::take(&store, &[]).records;
        snap.providers = Snapshot::take(&store, &[]).providers;
        // Written by a node with looser limits: eight holders of one key.
        for _ in 0..3 {
            let mut p = snap.providers[0].clone();
            p.provider = PeerId::random().to_bytes();
            snap.providers.push(p);
        }
        let mut fresh = NodeStore::new(PeerId::random(), 100, LIMITS);
        let done = snap.restore(&mut fresh);
        assert_eq!(done.records, 0, "a record that does not verify stays out");
        assert_eq!(done.providers, LIMITS.max_per_key);
        assert_eq!(fresh.provider_records(), LIMITS.max_per_key);
    }

    #[test]
    fn a_damaged_file_is_moved_aside_and_the_node_starts_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dht.bin");
        assert_eq!(load(&path).expect("no file is fine"), None);
        let mut bytes = Snapshot::take(&NodeStore::new(PeerId::random(), 10, LIMITS), &[])
            .encode()
            .expect("encode");
        bytes.extend_from_slice(&[0xff; 3]);
        bytes[MAGIC.len()] = 0xff;
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(load(&path).expect("a damaged file is not fatal"), None);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read(path.with_extension("corrupt")).expect("kept aside"),
            bytes
        );
        std::fs::write(&path, b"something else").expect("write");
        assert_eq!(load(&path).expect("not fatal"), None);
    }
}
