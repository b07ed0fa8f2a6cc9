//! Direct messages in the app: the Messages screen (conversations and requests) and one
//! conversation, computed from kith-store's `dms` and the library; writing and reading.
//!
//! - Writing seals the letter here ([`kith_core::dm::seal`], with the app's CSPRNG) and hands
//!   it to the network ([`Network::send_letter`](crate::Network::send_letter)), whose agent is
//!   the one writer of the messages in the store; it keeps it and delivers it. With no
//!   network yet, the app keeps it itself and the agent delivers it from the outbox when it
//!   starts.
//! - Opening a conversation reads it: the read mark moves to its newest message from the
//!   other person, and a sealed read receipt goes to them. Not for a request (a conversation
//!   with someone not followed, who the person never wrote to): its writer does not learn it
//!   was seen until the person answers.

use kith_core::AuthorId;
use kith_core::dm::LetterId;
use kith_store::dms::{Conversation, Delivery, Shown};

use crate::Library;
use crate::view::Person;

/// One conversation in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationItem {
    /// With whom.
    pub who: Person,
    /// When its last message was sent (ms since the epoch).
    pub last_ms: u64,
    /// Messages from them not read yet.
    pub unread: u32,
}

/// The Messages screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Messages {
    /// Conversations, most recent first.
    pub conversations: Vec<ConversationItem>,
    /// Requests: conversations started by someone not followed, not answered yet.
    pub requests: Vec<ConversationItem>,
    /// Unread messages in conversations (not requests): the navigation shows it.
    pub unread: u32,
}

/// One message on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    /// Its id.
    pub id: LetterId,
    /// The text.
    pub text: String,
    /// Whether I wrote it.
    pub mine: bool,
    /// When it was sent, by its writer's clock.
    pub sent_ms: u64,
    /// For mine: sending, delivered, read or failed.
    pub delivery: Option<Delivery>,
}

/// One conversation open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationView {
    /// With whom.
    pub who: Person,
    /// The messages, oldest first.
    pub messages: Vec<MessageView>,
    /// A request (they wrote, I do not follow them and never answered).
    pub request: bool,
}

/// Whether `c` is a request for someone whose follows `lib` knows.
pub fn is_request(c: &Conversation, lib: &Library) -> bool {
    !c.accepted && !lib.is_followed(&c.peer)
}

/// The Messages screen from the stored conversations; muted and blocked people left out.
pub fn messages_view(conversations: &[Conversation], lib: &Library) -> Messages {
    let mut view = Messages::default();
    for c in conversations.iter().filter(|c| !lib.is_hidden(&c.peer)) {
        let item = ConversationItem {
            who: lib.person(&c.peer),
            last_ms: c.last_ms,
            unread: c.unread,
        };
        if is_request(c, lib) {
            view.requests.push(item);
        } else {
            view.unread = view.unread.saturating_add(c.unread);
            view.conversations.push(item);
        }
    }
    view
}

/// One conversation from its stored messages.
pub fn conversation_view(
    peer: AuthorId,
    conversation: Option<&Conversation>,
    shown: Vec<Shown>,
    lib: &Library,
) -> ConversationView {
    ConversationView {
        who: lib.person(&peer),
        request: conversation.is_some_and(|c| is_request(c, lib)),
        messages: shown
            .into_iter()
            .map(|s| MessageView {
                id: s.message.id,
                text: s.message.text,
                mine: s.mine,
                sent_ms: s.message.sent_ms,
                delivery: s.delivery,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(peer: u8, unread: u32, accepted: bool) -> Conversation {
        Conversation {
            peer: AuthorId([peer; 32]),
            last_ms: u64::from(peer),
            unread,
            read_ms: 0,
            they_read_ms: 0,
            accepted,
            dropped_ms: 0,
        }
    }

    #[test]
    fn strangers_who_were_never_answered_are_requests_and_do_not_count_as_unread() {
        let me = AuthorId([9; 32]);
        let lib = Library::new(me);
        let view = messages_view(&[conv(1, 2, true), conv(2, 5, false)], &lib);
        assert_eq!(view.conversations.len(), 1);
        assert_eq!(view.conversations[0].who.author, AuthorId([1; 32]));
        assert_eq!(view.requests.len(), 1);
        assert_eq!(view.requests[0].unread, 5);
        assert_eq!(view.unread, 2);
    }
}
