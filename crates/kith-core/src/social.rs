//! Finding people: follow links (and the text in their QR codes), and suggestions from the
//! people you follow.

use std::collections::{BTreeMap, BTreeSet};

use crate::feed::Feed;
use crate::identity::AuthorId;

/// The scheme of a follow link.
pub const LINK_PREFIX: &str = "kith://follow/";
/// The most bootstrap addresses a link carries.
pub const MAX_LINK_ADDRS: usize = 4;
/// The longest link accepted (it must fit in a QR code).
pub const MAX_LINK_LEN: usize = 2048;

/// A link to someone's profile: who, and a node to reach the network through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowLink {
    /// The person.
    pub author: AuthorId,
    /// Multiaddrs of kith-nodes (each ending in `/p2p/<id>`), for a visitor without one.
    pub bootstrap: Vec<String>,
}

/// Why a follow link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a follow link.
    #[error("this is not a Kith follow link (it should start with {LINK_PREFIX})")]
    NotALink,
    /// The person's id is not 64 hex digits.
    #[error("the link's person id is not valid")]
    BadAuthor,
    /// Too long, too many addresses, or an address that is not one.
    #[error("the link is too long or names an invalid node address")]
    BadAddress,
}

impl FollowLink {
    /// The link as text (also what a QR code holds): `kith://follow/<id hex>?via=<multiaddr>…`.
    pub fn to_uri(&self) -> String {
        let mut s = format!("{LINK_PREFIX}{}", self.author.to_hex());
        for (i, a) in self.bootstrap.iter().take(MAX_LINK_ADDRS).enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str("via=");
            s.push_str(a);
        }
        s
    }

    /// Parses a link, also when it is embedded in a longer URL (`https://host/#kith://follow/…`).
    pub fn parse(text: &str) -> Result<FollowLink, LinkError> {
        let text = text.trim();
        if text.len() > MAX_LINK_LEN {
            return Err(LinkError::BadAddress);
        }
        let start = text.find(LINK_PREFIX).ok_or(LinkError::NotALink)?;
        let rest = &text[start + LINK_PREFIX.len()..];
        let (id, query) = rest.split_once('?').unwrap_or((rest, ""));
        let author = AuthorId::from_hex(id).ok_or(LinkError::BadAuthor)?;
        let mut bootstrap = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let addr = part.strip_prefix("via=").ok_or(LinkError::BadAddress)?;
            let sane = addr.starts_with('/') && addr.contains("/p2p/") && addr.len() <= 512;
            if !sane || bootstrap.len() >= MAX_LINK_ADDRS {
                return Err(LinkError::BadAddress);
            }
            bootstrap.push(addr.to_owned());
        }
        Ok(FollowLink { author, bootstrap })
    }
}

/// People to suggest: authors followed by the people `me` follows, not `me` and not already
/// followed, ranked by how many of those people follow them (then by id, for a stable order).
pub fn friends_of_friends<'a>(
    me: &Feed,
    held: impl IntoIterator<Item = &'a Feed>,
) -> Vec<(AuthorId, usize)> {
    let mine = me.follows();
    let mut counts: BTreeMap<AuthorId, usize> = BTreeMap::new();
    let held: Vec<&Feed> = held.into_iter().collect();
    for friend in held.iter().filter(|f| mine.contains(&f.author())) {
        let theirs: BTreeSet<AuthorId> = friend.follows();
        for a in theirs {
            if a != me.author() && !mine.contains(&a) {
                *counts.entry(a).or_default() += 1;
            }
        }
    }
    let mut out: Vec<(AuthorId, usize)> = counts.into_iter().collect();
    out.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    out
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::entry::Payload;
    use crate::testutil::{NOW, id};

    #[test]
    fn links_round_trip_and_refuse_junk() {
        let link = FollowLink {
            author: id(1).author(),
            bootstrap: vec!["/dns4/kith.example.org/tcp/443/wss/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp".into()],
        };
        let uri = link.to_uri();
        assert_eq!(FollowLink::parse(&uri), Ok(link.clone()));
        assert_eq!(
            FollowLink::parse(&format!("https://kith.example.org/#{uri}")),
            Ok(link)
        );
        assert_eq!(
            FollowLink::parse("https://example.org"),
            Err(LinkError::NotALink)
        );
        assert_eq!(
            FollowLink::parse("kith://follow/zz"),
            Err(LinkError::BadAuthor)
        );
        let bad = format!(
            "kith://follow/{}?via=not-an-address",
            id(1).author().to_hex()
        );
        assert_eq!(FollowLink::parse(&bad), Err(LinkError::BadAddress));
        let bare = format!("kith://follow/{}", id(2).author().to_hex());
        assert_eq!(FollowLink::parse(&bare).map(|l| l.bootstrap.len()), Ok(0));
    }

    #[test]
    fn suggestions_rank_friends_of_friends() {
        let (me, a, b, x, y) = (id(1), id(2), id(3), id(4), id(5));
        let feed = |who: &crate::identity::Identity, follows: &[&crate::identity::Identity]| {
            let mut f = Feed::new(who.author());
            for t in follows {
                f.append(who, &Payload::Follow { author: t.author() }, NOW)
                    .expect("follow");
            }
            f
        };
        let mine = feed(&me, &[&a, &b]);
        let fa = feed(&a, &[&x, &y, &me]);
        let fb = feed(&b, &[&y, &a]);
        let stranger = feed(&x, &[&b]);
        let s = friends_of_friends(&mine, [&fa, &fb, &stranger]);
        assert_eq!(s, vec![(y.author(), 2), (x.author(), 1)]);
    }
}
