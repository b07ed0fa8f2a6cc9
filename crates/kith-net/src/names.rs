//! Handles in the DHT. A claimant stores its signed [`NameClaim`] under a key of its own
//! (handle + author) and announces itself as a provider of the handle's key; a lookup asks
//! for the handle's providers and fetches and verifies each claimant's record. kith-node
//! stores only records that verify (Kademlia record filtering), and a lookup verifies again.
//! Claim after the relay reservation is confirmed: a provider record without an address is
//! not handed out by the DHT.

use kith_core::{NameClaim, NameError};
use libp2p::kad::RecordKey;

use crate::{Client, NetError};

/// The most claimants a lookup fetches.
pub const MAX_CLAIMANTS: usize = 20;

impl Client {
    /// Publishes a signed claim of a handle.
    pub async fn claim_name(&self, claim: &NameClaim) -> Result<(), NetError> {
        let key = RecordKey::new(&NameClaim::record_key(&claim.handle, &claim.author).0);
        self.put_record(key, claim.encode()).await?;
        self.provide_key(RecordKey::new(&NameClaim::handle_key(&claim.handle).0))
            .await
    }

    /// Every verified claimant of `handle` (names are not unique: show each one's fingerprint).
    pub async fn lookup_name(&self, handle: &str) -> Result<Vec<NameClaim>, NetError> {
        let handle = kith_core::name::normalize_handle(handle)
            .map_err(|e: NameError| NetError::Dht(e.to_string()))?;
        let providers = match self
            .find_providers_of(RecordKey::new(&NameClaim::handle_key(&handle).0))
            .await
        {
            Ok(p) => p,
            Err(NetError::Dht(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut claims = Vec::new();
        for peer in providers.into_iter().take(MAX_CLAIMANTS) {
            // Claimants announce themselves from their devices: find whose each one is.
            let Ok(Some(author)) = self.person_behind(peer).await else {
                continue;
            };
            // Several devices of one person claim the same handle: one claim each person.
            if claims.iter().any(|c: &NameClaim| c.author == author) {
                continue;
            }
            let key = RecordKey::new(&NameClaim::record_key(&handle, &author).0);
            if let Ok(Some(bytes)) = self.get_record(key).await
                && let Ok(claim) = NameClaim::decode(&bytes)
                && claim.handle == handle
                && claim.author == author
            {
                claims.push(claim);
            }
        }
        Ok(claims)
    }
}
