//! Notifications: which entries concern which people.
//!
//! An entry concerns someone other than its author when it replies to one of their posts,
//! mentions them, reacts to one of their entries or follows them. Its author's node sends it to
//! each of them ([`addressees`]); the receiving node keeps it only if it concerns its own person
//! ([`concerns`]), so a notification cannot be used to park arbitrary entries on a device.

use crate::entry::Payload;
use crate::identity::AuthorId;
use crate::validate::VerifiedEntry;
use serde::{Deserialize, Serialize};

/// Why an entry concerns someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NoteKind {
    /// A reply to one of their posts.
    Reply,
    /// A post that mentions them.
    Mention,
    /// A reaction to one of their entries.
    Reaction,
    /// They are followed.
    Follow,
}

impl NoteKind {
    /// What happened, said after the actor's name ("Alice replied to your post").
    pub fn phrase(self) -> &'static str {
        match self {
            NoteKind::Reply => "replied to your post",
            NoteKind::Mention => "mentioned you",
            NoteKind::Reaction => "reacted to your post",
            NoteKind::Follow => "followed you",
        }
    }
}

/// Everyone `entry` concerns, besides its author, each once with the strongest reason (a reply
/// that also mentions the replied-to person is a reply). At most
/// [`MAX_MENTIONS`](crate::entry::MAX_MENTIONS) + 1 people, as validation bounds mentions.
pub fn addressees(entry: &VerifiedEntry) -> Vec<(AuthorId, NoteKind)> {
    let me = entry.author();
    let mut out: Vec<(AuthorId, NoteKind)> = Vec::new();
    let mut add = |who: AuthorId, kind: NoteKind| {
        if who != me && !out.iter().any(|(a, _)| *a == who) {
            out.push((who, kind));
        }
    };
    match entry.payload() {
        Some(Payload::Post {
            reply_to, mentions, ..
        }) => {
            if let Some(r) = reply_to {
                add(r.author, NoteKind::Reply);
            }
            for m in mentions {
                add(*m, NoteKind::Mention);
            }
        }
        Some(Payload::Reaction { target, .. }) => add(target.author, NoteKind::Reaction),
        Some(Payload::Follow { author }) => add(*author, NoteKind::Follow),
        Some(Payload::Profile { .. } | Payload::Unfollow { .. } | Payload::Delete { .. })
        | None => {}
    }
    out
}

/// Why `entry` concerns `person`, if it does.
pub fn concerns(entry: &VerifiedEntry, person: &AuthorId) -> Option<NoteKind> {
    addressees(entry)
        .into_iter()
        .find(|(a, _)| a == person)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EntryRef, Feed, Identity};

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn replies_mentions_reactions_and_follows_concern_their_people_once() {
        let (alice, carol, dave) = (
            Identity::from_secret([1; 32]),
            Identity::from_secret([2; 32]),
            Identity::from_secret([3; 32]),
        );
        let mut a = Feed::new(alice.author());
        let first = a
            .append(&alice, &Payload::post("hello"), 1_000)
            .expect("append")
            .entry_ref();
        let mut c = Feed::new(carol.author());
        let mut append = |p: Payload| c.append(&carol, &p, 2_000).expect("append").clone();
        let reply = append(Payload::Post {
            text: "hi @alice and @dave".into(),
            reply_to: Some(first),
            mentions: vec![alice.author(), dave.author(), carol.author()],
            images: Vec::new(),
        });
        assert_eq!(
            addressees(&reply),
            vec![
                (alice.author(), NoteKind::Reply),
                (dave.author(), NoteKind::Mention)
            ]
        );
        assert_eq!(concerns(&reply, &dave.author()), Some(NoteKind::Mention));
        // One's own mention of oneself concerns nobody.
        assert_eq!(concerns(&reply, &carol.author()), None);
        let reaction = append(Payload::Reaction {
            target: first,
            emoji: "👍".into(),
        });
        assert_eq!(
            concerns(&reaction, &alice.author()),
            Some(NoteKind::Reaction)
        );
        assert_eq!(concerns(&reaction, &dave.author()), None);
        let follow = append(Payload::Follow {
            author: alice.author(),
        });
        assert_eq!(
            addressees(&follow),
            vec![(alice.author(), NoteKind::Follow)]
        );
        let plain = append(Payload::post("nothing for anyone"));
        assert!(addressees(&plain).is_empty());
        let unfollow = append(Payload::Unfollow {
            author: alice.author(),
        });
        assert!(addressees(&unfollow).is_empty());
        // A reaction to one's own post notifies nobody.
        let own = EntryRef {
            author: carol.author(),
            ..first
        };
        let self_reaction = append(Payload::Reaction {
            target: own,
            emoji: "👍".into(),
        });
        assert!(addressees(&self_reaction).is_empty());
    }
}
