//! The node's DHT store: rust-libp2p's `MemoryStore`, with Kith's policy for provider records
//! in front of it.
//!
//! A provider record is a pointer: "this peer holds that feed" or "this peer claims that
//! handle". Anyone may announce any key, so [`NodeStore::add_provider`] bounds what one peer
//! can take and keeps junk from pushing real holders out:
//! - the key must be a 32-byte hash, the form of every key Kith announces (feeds, handles);
//! - a record keeps at most [`ProviderLimits::max_addrs`] addresses;
//! - one provider holds at most [`ProviderLimits::max_per_peer`] keys;
//! - at most [`ProviderLimits::max_keys`] keys in all. When they are taken, a new key takes the
//!   place of a key held only by the provider with the most records, if it has more than the
//!   newcomer: filling the node from a few peer ids does not keep anyone else out;
//! - at most [`ProviderLimits::max_per_key`] providers a key. When they are taken, a provider
//!   that is not connected to the node gives way (the one with the most records); if every one
//!   is connected, the newcomer is refused. Holders that went offline announce again when they
//!   come back.
//!
//! Records go to the `MemoryStore` as they are, once [`verified`] (the swarm task checks each
//! before `put`, and [`crate::persist`] checks again what it reads back from disk).
//!
//! The store counts its changes ([`NodeStore::changes`]), so the swarm task writes it to disk
//! only when something changed.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use libp2p::PeerId;
use libp2p::kad::store::{Error, MemoryStore, MemoryStoreConfig, RecordStore, Result};
use libp2p::kad::{ProviderRecord, Record, RecordKey};

/// The length of every key Kith announces: a hash.
pub const KEY_LEN: usize = 32;

/// The bounds on provider records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderLimits {
    /// Keys with providers, in all.
    pub max_keys: usize,
    /// Providers remembered for one key.
    pub max_per_key: usize,
    /// Keys one provider may hold.
    pub max_per_peer: usize,
    /// Addresses kept in one record.
    pub max_addrs: usize,
}

/// The node's record store (see the module docs).
pub struct NodeStore {
    inner: MemoryStore,
    limits: ProviderLimits,
    /// The keys each provider holds here.
    by_peer: HashMap<PeerId, HashSet<RecordKey>>,
    /// How many providers each key has here.
    per_key: HashMap<RecordKey, usize>,
    /// Peers connected to the node now.
    connected: HashSet<PeerId>,
    /// Changes so far (records and provider records stored or removed).
    changes: u64,
}

/// Whether a DHT record is one Kith stores: a signed name claim, device claim or "where to
/// reach me" record ([`kith_net::reach`]), stored under its own key.
pub fn verified(record: &Record) -> bool {
    kith_core::NameClaim::decode(&record.value).is_ok_and(|c| c.stored_under(record.key.as_ref()))
        || kith_core::DeviceClaim::record_stored_under(&record.value, record.key.as_ref())
        || kith_net::reach::open(record.key.as_ref(), &record.value).is_some()
}

impl NodeStore {
    /// A store for the node `local`, keeping at most `max_records` records.
    pub fn new(local: PeerId, max_records: usize, limits: ProviderLimits) -> NodeStore {
        let config = MemoryStoreConfig {
            max_records,
            max_providers_per_key: limits.max_per_key,
            max_provided_keys: limits.max_keys,
            ..MemoryStoreConfig::default()
        };
        NodeStore {
            inner: MemoryStore::with_config(local, config),
            limits,
            by_peer: HashMap::new(),
            per_key: HashMap::new(),
            connected: HashSet::new(),
            changes: 0,
        }
    }

    /// How many times records or provider records were stored or removed so far.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Every provider record held (not only the node's own, which
    /// [`RecordStore::provided`] gives).
    pub fn all_providers(&self) -> impl Iterator<Item = ProviderRecord> + '_ {
        self.per_key.keys().flat_map(|k| self.inner.providers(k))
    }

    /// Tells the store whether `peer` is connected to the node now.
    pub fn set_connected(&mut self, peer: PeerId, connected: bool) {
        if connected {
            self.connected.insert(peer);
        } else {
            self.connected.remove(&peer);
        }
    }

    /// Provider records held, in all.
    pub fn provider_records(&self) -> usize {
        self.per_key.values().sum()
    }

    fn held_by(&self, peer: &PeerId) -> usize {
        self.by_peer.get(peer).map_or(0, HashSet::len)
    }

    /// Makes room on a full `key`: a provider not connected now gives way.
    fn room_on_key(&mut self, key: &RecordKey) -> bool {
        let victim = self
            .inner
            .providers(key)
            .into_iter()
            .map(|p| p.provider)
            .filter(|p| !self.connected.contains(p))
            .max_by_key(|p| self.held_by(p));
        match victim {
            Some(p) => {
                self.remove_provider(key, &p);
                true
            }
            None => false,
        }
    }

    /// Makes room for one more key: a key held only by the provider with the most records
    /// gives way, if that provider holds more than `newcomer`.
    fn room_for_key(&mut self, newcomer: &PeerId) -> bool {
        let mine = self.held_by(newcomer);
        let heaviest = self
            .by_peer
            .iter()
            .filter(|(p, keys)| *p != newcomer && keys.len() > mine + 1)
            .max_by_key(|(_, keys)| keys.len())
            .and_then(|(p, keys)| {
                keys.iter()
                    .find(|k| self.per_key.get(*k) == Some(&1))
                    .map(|k| (*p, k.clone()))
            });
        match heaviest {
            Some((p, k)) => {
                self.remove_provider(&k, &p);
                true
            }
            None => false,
        }
    }
}

impl RecordStore for NodeStore {
    type RecordsIter<'a> = <MemoryStore as RecordStore>::RecordsIter<'a>;
    type ProvidedIter<'a> = <MemoryStore as RecordStore>::ProvidedIter<'a>;

    fn get(&self, k: &RecordKey) -> Option<Cow<'_, Record>> {
        self.inner.get(k)
    }

    fn put(&mut self, r: Record) -> Result<()> {
        // Of a peer's "where to reach me" records, the newest is kept: an older one replayed
        // by someone else is not stored (the sender is told it was, as the newer one is).
        if let Some(new) = kith_net::reach::open(r.key.as_ref(), &r.value)
            && let Some(old) = self.inner.get(&r.key)
            && kith_net::reach::open(old.key.as_ref(), &old.value).is_some_and(|o| o.seq > new.seq)
        {
            return Ok(());
        }
        self.inner.put(r)?;
        self.changes += 1;
        Ok(())
    }

    fn remove(&mut self, k: &RecordKey) {
        if self.inner.get(k).is_some() {
            self.changes += 1;
        }
        self.inner.remove(k)
    }

    fn records(&self) -> Self::RecordsIter<'_> {
        self.inner.records()
    }

    fn add_provider(&mut self, mut record: ProviderRecord) -> Result<()> {
        if record.key.as_ref().len() != KEY_LEN {
            return Err(Error::ValueTooLarge);
        }
        record.addresses.truncate(self.limits.max_addrs);
        let peer = record.provider;
        let key = record.key.clone();
        if self.by_peer.get(&peer).is_some_and(|k| k.contains(&key)) {
            // A holder announcing again: its record is renewed.
            self.changes += 1;
            return self.inner.add_provider(record);
        }
        if self.held_by(&peer) >= self.limits.max_per_peer {
            return Err(Error::MaxProvidedKeys);
        }
        // A full key or a full store makes room first, or the newcomer is refused.
        let room = match self.per_key.get(&key).copied() {
            Some(n) if n >= self.limits.max_per_key => self.room_on_key(&key),
            None if self.per_key.len() >= self.limits.max_keys => self.room_for_key(&peer),
            _ => true,
        };
        if !room {
            return Err(Error::MaxProvidedKeys);
        }
        self.inner.add_provider(record)?;
        self.changes += 1;
        self.by_peer.entry(peer).or_default().insert(key.clone());
        *self.per_key.entry(key).or_default() += 1;
        Ok(())
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        self.inner.providers(key)
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        self.inner.provided()
    }

    fn remove_provider(&mut self, k: &RecordKey, p: &PeerId) {
        self.inner.remove_provider(k, p);
        if let Some(keys) = self.by_peer.get_mut(p)
            && keys.remove(k)
        {
            self.changes += 1;
            if keys.is_empty() {
                self.by_peer.remove(p);
            }
            if let Some(n) = self.per_key.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    self.per_key.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ProviderLimits = ProviderLimits {
        max_keys: 8,
        max_per_key: 3,
        max_per_peer: 5,
        max_addrs: 2,
    };

    fn key(i: u32) -> RecordKey {
        let mut k = [0u8; KEY_LEN];
        k[..4].copy_from_slice(&i.to_be_bytes());
        RecordKey::new(&k)
    }

    fn record(k: &RecordKey, provider: PeerId) -> ProviderRecord {
        let addrs = (0..5)
            .map(|i| format!("/ip4/10.0.0.{i}/tcp/1/ws").parse().expect("addr"))
            .collect();
        ProviderRecord::new(k.clone(), provider, addrs)
    }

    fn holders(s: &NodeStore, k: &RecordKey) -> Vec<PeerId> {
        s.providers(k).into_iter().map(|p| p.provider).collect()
    }

    #[test]
    fn a_key_not_of_kiths_form_is_refused_and_addresses_are_bounded() {
        let mut s = NodeStore::new(PeerId::random(), 16, LIMITS);
        let p = PeerId::random();
        let short = RecordKey::new(&[1u8; 8]);
        assert!(s.add_provider(record(&short, p)).is_err());
        s.add_provider(record(&key(1), p)).expect("stored");
        assert_eq!(s.providers(&key(1))[0].addresses.len(), LIMITS.max_addrs);
    }

    #[test]
    fn one_peer_cannot_fill_the_node_and_honest_holders_still_get_in() {
        let mut s = NodeStore::new(PeerId::random(), 16, LIMITS);
        let junk = PeerId::random();
        let (sybil, honest) = (PeerId::random(), PeerId::random());
        for i in 0..20 {
            let _ = s.add_provider(record(&key(i), junk));
        }
        assert_eq!(
            s.held_by(&junk),
            LIMITS.max_per_peer,
            "a peer's keys are capped"
        );
        for i in 100..120 {
            let _ = s.add_provider(record(&key(i), sybil));
        }
        assert_eq!(s.per_key.len(), LIMITS.max_keys, "the node is full");
        // A real holder of a new feed still gets in: a key of the heaviest provider gives way.
        s.add_provider(record(&key(500), honest))
            .expect("the honest holder is stored");
        assert_eq!(holders(&s, &key(500)), vec![honest]);
        assert_eq!(s.per_key.len(), LIMITS.max_keys);
        // Announcing again renews, never duplicates.
        s.add_provider(record(&key(500), honest)).expect("renewed");
        assert_eq!(s.provider_records(), LIMITS.max_keys);
    }

    #[test]
    fn a_full_key_makes_room_only_by_dropping_a_holder_that_is_not_connected() {
        let mut s = NodeStore::new(PeerId::random(), 16, LIMITS);
        let k = key(7);
        let junk: Vec<PeerId> = (0..LIMITS.max_per_key).map(|_| PeerId::random()).collect();
        for p in &junk {
            s.set_connected(*p, true);
            s.add_provider(record(&k, *p)).expect("room");
        }
        let honest = PeerId::random();
        s.set_connected(honest, true);
        assert!(
            s.add_provider(record(&k, honest)).is_err(),
            "every holder is connected: the newcomer waits"
        );
        s.set_connected(junk[1], false);
        s.add_provider(record(&k, honest))
            .expect("an offline holder gave way");
        let now = holders(&s, &k);
        assert!(now.contains(&honest) && !now.contains(&junk[1]), "{now:?}");
        assert_eq!(now.len(), LIMITS.max_per_key);
        assert_eq!(s.held_by(&junk[1]), 0);
    }

    #[test]
    fn of_a_peers_reach_records_the_newest_is_kept() {
        let mut s = NodeStore::new(PeerId::random(), 16, LIMITS);
        let key = libp2p::identity::Keypair::generate_ed25519();
        let me = key.public().to_peer_id();
        let record = |relay: u8| {
            let addr: libp2p::Multiaddr =
                format!("/ip4/10.0.0.{relay}/tcp/1/ws/p2p/{me}/p2p-circuit")
                    .parse()
                    .expect("addr");
            let value = kith_net::reach::sign(&key, &[addr]).expect("sign");
            // Records signed within one second would share a seq (it is a time in seconds).
            std::thread::sleep(std::time::Duration::from_millis(1100));
            Record::new(kith_net::reach::reach_key(&me), value)
        };
        let (old, new) = (record(1), record(2));
        assert!(verified(&old) && verified(&new));
        s.put(new.clone()).expect("stored");
        s.put(old).expect("accepted, not stored");
        assert_eq!(s.get(&new.key).expect("held").value, new.value);
        let mut elsewhere = new.clone();
        elsewhere.key = kith_net::reach::reach_key(&PeerId::random());
        assert!(!verified(&elsewhere), "under another peer's key");
    }

    #[test]
    fn removing_a_record_frees_its_place() {
        let mut s = NodeStore::new(PeerId::random(), 16, LIMITS);
        let p = PeerId::random();
        for i in 0..LIMITS.max_per_peer as u32 {
            s.add_provider(record(&key(i), p)).expect("room");
        }
        assert!(s.add_provider(record(&key(99), p)).is_err());
        s.remove_provider(&key(0), &p);
        s.add_provider(record(&key(99), p)).expect("room again");
        assert_eq!(s.provider_records(), LIMITS.max_per_peer);
    }
}
