//! Direct messages kept on this device: conversations, their messages, and the letters still
//! to deliver ([`kith_core::dm`] seals and opens them; kith-net carries them).
//!
//! All in settings, as the inbox is:
//! - [`DMS`] indexes the conversations, most recent first, at most [`MAX_CONVERSATIONS`]: per
//!   person, when the last message was, how many are unread, up to when each side has read the
//!   other, and whether the person *accepted* the conversation (wrote in it, or accepted it as
//!   a request). The app shows a conversation with someone not followed and not accepted among
//!   the requests.
//! - `dms/<person>` lists a conversation's messages in order, at most [`MAX_MESSAGES`]; the
//!   oldest go first, with their settings.
//! - `dm/<letter id>` holds one message: its text, who wrote it and when.
//! - [`DM_OUTBOX`] lists the letters still to deliver (messages and read receipts), at most
//!   [`MAX_DM_OUTBOX`], each sealed once, in `dm-out/<letter id>`, so a retry sends the same
//!   bytes and the receiver knows it by its id.
//!
//! The text is kept in the clear here, as posts are: the identity key that would open a
//! sealed copy lives in the same database. The agent of the tab running the node is the only
//! writer, apart from [`mark_read`] and [`accept`], which the app calls and which touch only
//! the index.

use kith_core::AuthorId;
use kith_core::dm::{Body, Letter, LetterId};
use serde::{Deserialize, Serialize};

use crate::Store;
use crate::inbox::InboxError;

/// The setting that indexes the conversations.
pub const DMS: &str = "dms";
/// The setting that lists the letters still to deliver.
pub const DM_OUTBOX: &str = "dm-outbox";
/// The setting that remembers the ids of the messages received lately, so that one deleted
/// here since (its conversation forgotten or dropped) is not taken again when replayed.
pub const DM_SEEN: &str = "dm-seen";
/// The most ids remembered in [`DM_SEEN`] (those older than the replay window go first; past
/// this, the oldest).
pub const MAX_SEEN: usize = 2_000;
/// The most conversations kept; the one quiet longest goes first.
pub const MAX_CONVERSATIONS: usize = 300;
/// The most messages kept per conversation; the oldest go first.
pub const MAX_MESSAGES: usize = 1_000;
/// The most messages kept from someone whose conversation is a request (not accepted): a
/// stranger cannot fill the store.
pub const MAX_REQUEST_MESSAGES: usize = 20;
/// The most letters waiting for delivery; past that the oldest is given up.
pub const MAX_DM_OUTBOX: usize = 200;
/// How long a letter is tried before it is given up (the receiver refuses older ones:
/// [`kith_core::dm::REPLAY_WINDOW_MS`]).
pub const DM_OUTBOX_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// One conversation in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// With whom.
    pub peer: AuthorId,
    /// When its last message was sent (ms since the epoch).
    pub last_ms: u64,
    /// Messages from them not yet read here.
    pub unread: u32,
    /// The person read the peer's messages sent up to this time.
    pub read_ms: u64,
    /// The peer read the person's messages sent up to this time (from their read receipts).
    pub they_read_ms: u64,
    /// The person wrote in it or accepted it (else, from someone not followed, a request).
    pub accepted: bool,
    /// Messages sent up to this time were dropped here (past the limit): a letter that old
    /// is a replay, answered "had".
    pub dropped_ms: u64,
}

/// Where a message of the person's stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// Sealed and waiting to reach one of the peer's devices.
    Sending,
    /// A device of the peer's took it.
    Delivered,
    /// The peer read it.
    Read,
    /// Not delivered within [`DM_OUTBOX_MS`], or refused by the peer.
    Failed,
}

/// One message, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The letter's id.
    pub id: LetterId,
    /// Who wrote it.
    pub from: AuthorId,
    /// When, by the writer's clock.
    pub sent_ms: u64,
    /// The text.
    pub text: String,
}

/// A message in a conversation's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Listed {
    id: LetterId,
    sent_ms: u64,
    mine: bool,
    /// For the person's own messages: delivered (read comes from the index's `they_read_ms`).
    delivered: bool,
    failed: bool,
}

/// A message with where it stands, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The message.
    pub message: Message,
    /// Whether the person wrote it.
    pub mine: bool,
    /// For the person's own: where it stands; `None` for the peer's.
    pub delivery: Option<Delivery>,
}

/// A letter still to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The letter.
    pub id: LetterId,
    /// To whom.
    pub to: AuthorId,
    /// Attempts so far.
    pub tries: u32,
    /// When to try next.
    pub next_ms: u64,
    /// When it was sealed: given up after [`DM_OUTBOX_MS`].
    pub since_ms: u64,
    /// A read receipt (one per person waits at most; receipts go first when the outbox is
    /// full).
    pub receipt: bool,
}

/// What [`receive`] did with a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// A new message.
    Message(Message),
    /// A read receipt that moved the peer's read mark.
    Read,
    /// Already had it (a repeat, or a receipt that moves nothing).
    Had,
}

fn decode<T: for<'a> Deserialize<'a>>(bytes: &[u8]) -> Result<T, InboxError> {
    postcard::from_bytes(bytes).map_err(|e| InboxError::Damaged(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of fixed-size fields, strings and vectors always encode.
    postcard::to_allocvec(value).unwrap_or_default()
}

fn list_key(peer: &AuthorId) -> String {
    format!("dms/{}", peer.to_hex())
}

fn message_key(id: &LetterId) -> String {
    format!("dm/{}", id.to_hex())
}

fn sealed_key(id: &LetterId) -> String {
    format!("dm-out/{}", id.to_hex())
}

async fn read_or<T: for<'a> Deserialize<'a> + Default>(
    store: &impl Store,
    key: &str,
) -> Result<T, InboxError> {
    match store.get_setting(key).await? {
        Some(bytes) => decode(&bytes),
        None => Ok(T::default()),
    }
}

/// The conversations, most recent first.
pub async fn conversations(store: &impl Store) -> Result<Vec<Conversation>, InboxError> {
    read_or(store, DMS).await
}

async fn write_index(store: &impl Store, index: &[Conversation]) -> Result<(), InboxError> {
    store.put_setting(DMS, &encode(&index)).await?;
    Ok(())
}

/// Applies `change` to `peer`'s conversation (made if new), moves it to the top when `touch`,
/// and drops the conversation quiet longest past [`MAX_CONVERSATIONS`] (with its messages).
async fn change_conversation(
    store: &impl Store,
    peer: AuthorId,
    touch: bool,
    change: impl FnOnce(&mut Conversation),
) -> Result<Conversation, InboxError> {
    let mut index = conversations(store).await?;
    let at = index.iter().position(|c| c.peer == peer);
    let mut c = match at {
        Some(i) => index.remove(i),
        None => Conversation {
            peer,
            last_ms: 0,
            unread: 0,
            read_ms: 0,
            they_read_ms: 0,
            accepted: false,
            dropped_ms: 0,
        },
    };
    change(&mut c);
    let place = if touch { 0 } else { at.unwrap_or(0) };
    index.insert(place.min(index.len()), c.clone());
    // Full: the request quiet longest goes first (strangers cannot push out accepted
    // conversations), else the conversation quiet longest; never the one just changed.
    let mut dropped = Vec::new();
    while index.len() > MAX_CONVERSATIONS {
        let victim = index
            .iter()
            .rposition(|x| !x.accepted && x.peer != peer)
            .or_else(|| index.iter().rposition(|x| x.peer != peer))
            .unwrap_or(index.len() - 1);
        dropped.push(index.remove(victim));
    }
    write_index(store, &index).await?;
    for old in dropped {
        forget(store, &old.peer).await?;
    }
    Ok(c)
}

async fn listed(store: &impl Store, peer: &AuthorId) -> Result<Vec<Listed>, InboxError> {
    read_or(store, &list_key(peer)).await
}

/// Adds a message to `peer`'s list, in order of sending; the oldest go past `limit`. Returns
/// the newest `sent_ms` dropped, if any.
async fn list_message(
    store: &impl Store,
    peer: &AuthorId,
    message: &Message,
    mine: bool,
    limit: usize,
) -> Result<Option<u64>, InboxError> {
    // The message first: a list never names a message that is not there.
    store
        .put_setting(&message_key(&message.id), &encode(message))
        .await?;
    let mut list = listed(store, peer).await?;
    let at = list.partition_point(|l| l.sent_ms <= message.sent_ms);
    list.insert(
        at,
        Listed {
            id: message.id,
            sent_ms: message.sent_ms,
            mine,
            delivered: false,
            failed: false,
        },
    );
    let over = list.len().saturating_sub(limit);
    let dropped: Vec<Listed> = list.drain(..over).collect();
    store.put_setting(&list_key(peer), &encode(&list)).await?;
    for old in &dropped {
        store.delete_setting(&message_key(&old.id)).await?;
    }
    Ok(dropped.iter().map(|l| l.sent_ms).max())
}

/// A conversation's messages, oldest first, with where the person's own stand.
pub async fn messages(store: &impl Store, peer: &AuthorId) -> Result<Vec<Shown>, InboxError> {
    let they_read = conversations(store)
        .await?
        .iter()
        .find(|c| c.peer == *peer)
        .map_or(0, |c| c.they_read_ms);
    let mut out = Vec::new();
    for l in listed(store, peer).await? {
        let Some(bytes) = store.get_setting(&message_key(&l.id)).await? else {
            continue;
        };
        let message: Message = decode(&bytes)?;
        let delivery = l.mine.then_some(if l.failed {
            Delivery::Failed
        } else if l.sent_ms <= they_read && l.delivered {
            Delivery::Read
        } else if l.delivered {
            Delivery::Delivered
        } else {
            Delivery::Sending
        });
        out.push(Shown {
            message,
            mine: l.mine,
            delivery,
        });
    }
    Ok(out)
}

/// Keeps the person's own message `letter` (a [`Body::Text`]), sealed as `sealed`, and puts it
/// in the outbox, due now. Writing in a conversation accepts it.
pub async fn send(
    store: &impl Store,
    letter: &Letter,
    sealed: &[u8],
    now_ms: u64,
) -> Result<Message, InboxError> {
    let Body::Text(text) = &letter.body else {
        return Err(InboxError::Damaged("only a message is kept as sent".into()));
    };
    let message = Message {
        id: letter.id,
        from: letter.from,
        sent_ms: letter.sent_ms,
        text: text.clone(),
    };
    let dropped = list_message(store, &letter.to, &message, true, MAX_MESSAGES).await?;
    change_conversation(store, letter.to, true, |c| {
        c.last_ms = c.last_ms.max(letter.sent_ms);
        c.accepted = true;
        c.dropped_ms = c.dropped_ms.max(dropped.unwrap_or(0));
    })
    .await?;
    enqueue(store, letter.id, letter.to, sealed, now_ms, false).await?;
    Ok(message)
}

/// Puts a sealed read receipt for `to` in the outbox, due now, in place of one still waiting
/// for them (the newer says more).
pub async fn queue_receipt(
    store: &impl Store,
    id: LetterId,
    to: AuthorId,
    sealed: &[u8],
    now_ms: u64,
) -> Result<(), InboxError> {
    enqueue(store, id, to, sealed, now_ms, true).await
}

/// Puts a sealed letter (a message, or a `receipt`) in the outbox, due now.
async fn enqueue(
    store: &impl Store,
    id: LetterId,
    to: AuthorId,
    sealed: &[u8],
    now_ms: u64,
    receipt: bool,
) -> Result<(), InboxError> {
    store.put_setting(&sealed_key(&id), sealed).await?;
    let mut outbox = outbox(store).await?;
    let mut dropped: Vec<Pending> = Vec::new();
    if receipt {
        let (older, rest): (Vec<Pending>, Vec<Pending>) =
            outbox.into_iter().partition(|p| p.receipt && p.to == to);
        outbox = rest;
        dropped.extend(older);
    }
    outbox.push(Pending {
        id,
        to,
        tries: 0,
        next_ms: now_ms,
        since_ms: now_ms,
        receipt,
    });
    // Full: receipts go first, oldest first; then the oldest messages.
    while outbox.len() > MAX_DM_OUTBOX {
        let at = outbox.iter().position(|p| p.receipt).unwrap_or(0);
        dropped.push(outbox.remove(at));
    }
    store.put_setting(DM_OUTBOX, &encode(&outbox)).await?;
    for p in dropped {
        settle(store, &p, false).await?;
    }
    Ok(())
}

/// Keeps a letter opened by kith-core (so addressed to the person and authentic). A message
/// from someone blocked must not reach this (the agent refuses it first).
pub async fn receive(store: &impl Store, letter: &Letter) -> Result<Taken, InboxError> {
    match &letter.body {
        Body::Text(text) => {
            if store.get_setting(&message_key(&letter.id)).await?.is_some() {
                return Ok(Taken::Had);
            }
            // A damaged list of seen ids starts afresh (its only use is refusing replays).
            let mut seen: Vec<(LetterId, u64)> = read_or(store, DM_SEEN).await.unwrap_or_default();
            if seen.iter().any(|(id, _)| *id == letter.id) {
                return Ok(Taken::Had);
            }
            let index = conversations(store).await?;
            let here = index.iter().find(|c| c.peer == letter.from);
            if here.is_some_and(|c| letter.sent_ms <= c.dropped_ms) {
                return Ok(Taken::Had);
            }
            let limit = if here.is_some_and(|c| c.accepted) {
                MAX_MESSAGES
            } else {
                MAX_REQUEST_MESSAGES
            };
            let message = Message {
                id: letter.id,
                from: letter.from,
                sent_ms: letter.sent_ms,
                text: text.clone(),
            };
            let dropped = list_message(store, &letter.from, &message, false, limit).await?;
            let gone = dropped.is_some();
            // Remembered while a replay could still be taken: for the replay window after it
            // was sent, by its own date.
            let horizon = letter
                .sent_ms
                .saturating_sub(kith_core::dm::REPLAY_WINDOW_MS + kith_core::dm::MAX_DM_SKEW_MS);
            seen.retain(|(_, at)| *at >= horizon);
            seen.push((letter.id, letter.sent_ms));
            seen.sort_by_key(|(_, at)| *at);
            let over = seen.len().saturating_sub(MAX_SEEN);
            seen.drain(..over);
            store.put_setting(DM_SEEN, &encode(&seen)).await?;
            change_conversation(store, letter.from, true, |c| {
                c.last_ms = c.last_ms.max(letter.sent_ms);
                c.dropped_ms = c.dropped_ms.max(dropped.unwrap_or(0));
                if letter.sent_ms > c.read_ms {
                    c.unread = c.unread.saturating_add(1);
                }
                if gone {
                    c.unread = c.unread.min(u32::try_from(limit).unwrap_or(u32::MAX));
                }
            })
            .await?;
            Ok(Taken::Message(message))
        }
        Body::Read { up_to_ms } => {
            let known = conversations(store)
                .await?
                .iter()
                .any(|c| c.peer == letter.from && c.they_read_ms < *up_to_ms);
            if !known {
                return Ok(Taken::Had);
            }
            change_conversation(store, letter.from, false, |c| {
                c.they_read_ms = c.they_read_ms.max(*up_to_ms);
            })
            .await?;
            Ok(Taken::Read)
        }
    }
}

/// The newest message from `peer` (its `sent_ms`), if any: what reading the conversation
/// now reads up to.
pub async fn newest_from(store: &impl Store, peer: &AuthorId) -> Result<Option<u64>, InboxError> {
    Ok(listed(store, peer)
        .await?
        .iter()
        .filter(|l| !l.mine)
        .map(|l| l.sent_ms)
        .max())
}

/// The person read `peer`'s messages sent up to `up_to_ms`: the read mark moves there and the
/// unread count down. Returns whether the mark moved (then a read receipt is due).
pub async fn mark_read(
    store: &impl Store,
    peer: &AuthorId,
    up_to_ms: u64,
) -> Result<bool, InboxError> {
    let index = conversations(store).await?;
    let Some(c) = index.iter().find(|c| c.peer == *peer) else {
        return Ok(false);
    };
    if c.read_ms >= up_to_ms && c.unread == 0 {
        return Ok(false);
    }
    let moved = c.read_ms < up_to_ms;
    let read_ms = c.read_ms.max(up_to_ms);
    let unread = listed(store, peer)
        .await?
        .iter()
        .filter(|l| !l.mine && l.sent_ms > read_ms)
        .count();
    change_conversation(store, *peer, false, |c| {
        c.read_ms = read_ms;
        c.unread = u32::try_from(unread).unwrap_or(u32::MAX);
    })
    .await?;
    Ok(moved)
}

/// The person accepts a request: the conversation moves out of the requests.
pub async fn accept(store: &impl Store, peer: &AuthorId) -> Result<(), InboxError> {
    change_conversation(store, *peer, false, |c| c.accepted = true).await?;
    Ok(())
}

/// Deletes a conversation and its messages here (the peer keeps theirs).
pub async fn forget(store: &impl Store, peer: &AuthorId) -> Result<(), InboxError> {
    for l in listed(store, peer).await? {
        store.delete_setting(&message_key(&l.id)).await?;
    }
    store.delete_setting(&list_key(peer)).await?;
    let mut index = conversations(store).await?;
    let before = index.len();
    index.retain(|c| c.peer != *peer);
    if index.len() != before {
        write_index(store, &index).await?;
    }
    Ok(())
}

/// The letters waiting for delivery, oldest first.
pub async fn outbox(store: &impl Store) -> Result<Vec<Pending>, InboxError> {
    let out: Vec<Pending> = read_or(store, DM_OUTBOX).await?;
    if out.len() > MAX_DM_OUTBOX {
        return Err(InboxError::Damaged(format!(
            "{} letters waiting, more than {MAX_DM_OUTBOX}",
            out.len()
        )));
    }
    Ok(out)
}

/// The sealed bytes of a letter waiting for delivery.
pub async fn sealed(store: &impl Store, id: &LetterId) -> Result<Option<Vec<u8>>, InboxError> {
    Ok(store.get_setting(&sealed_key(id)).await?)
}

/// A delivery attempt of `id` ended: `Some(true)` taken by the peer (or already had),
/// `Some(false)` refused for good, `None` to try again at `retry_ms`.
pub async fn attempted(
    store: &impl Store,
    id: &LetterId,
    outcome: Option<bool>,
    retry_ms: u64,
) -> Result<(), InboxError> {
    let mut out = outbox(store).await?;
    let Some(at) = out.iter().position(|p| p.id == *id) else {
        return Ok(());
    };
    match outcome {
        None => {
            let p = &mut out[at];
            p.tries = p.tries.saturating_add(1);
            p.next_ms = retry_ms;
            store.put_setting(DM_OUTBOX, &encode(&out)).await?;
        }
        Some(taken) => {
            let p = out.remove(at);
            store.put_setting(DM_OUTBOX, &encode(&out)).await?;
            settle(store, &p, taken).await?;
        }
    }
    Ok(())
}

/// Gives up the letters older than [`DM_OUTBOX_MS`] (their messages show "failed"); returns
/// how many.
pub async fn expire(store: &impl Store, now_ms: u64) -> Result<usize, InboxError> {
    let mut out = outbox(store).await?;
    let (old, keep): (Vec<Pending>, Vec<Pending>) = out
        .drain(..)
        .partition(|p| now_ms.saturating_sub(p.since_ms) >= DM_OUTBOX_MS);
    if old.is_empty() {
        return Ok(0);
    }
    store.put_setting(DM_OUTBOX, &encode(&keep)).await?;
    for p in &old {
        settle(store, p, false).await?;
    }
    Ok(old.len())
}

/// Makes every waiting letter due now (the agent just came online).
pub async fn due_now(store: &impl Store, now_ms: u64) -> Result<(), InboxError> {
    let mut out = outbox(store).await?;
    if out.iter().all(|p| p.next_ms <= now_ms) {
        return Ok(());
    }
    for p in &mut out {
        p.next_ms = p.next_ms.min(now_ms);
    }
    store.put_setting(DM_OUTBOX, &encode(&out)).await?;
    Ok(())
}

/// A letter left the outbox: its sealed copy goes, and its message (if it is one) is marked
/// delivered or failed.
async fn settle(store: &impl Store, p: &Pending, taken: bool) -> Result<(), InboxError> {
    store.delete_setting(&sealed_key(&p.id)).await?;
    let mut list = listed(store, &p.to).await?;
    if let Some(l) = list.iter_mut().find(|l| l.id == p.id && l.mine) {
        l.delivered = taken;
        l.failed = !taken;
        store.put_setting(&list_key(&p.to), &encode(&list)).await?;
    }
    Ok(())
}

/// Every conversation and message kept here, for a backup ([`crate::backup`] seals it to
/// the person's own key before it goes into the file). Letters still waiting for delivery are
/// not in it: a restored message that was not delivered shows "not delivered".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    conversations: Vec<Conversation>,
    lists: Vec<(AuthorId, Vec<Listed>)>,
    messages: Vec<Message>,
}

impl Export {
    /// Whether there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
    }

    /// Its bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Reads [`Export::encode`], checking the bounds a store keeps.
    pub fn decode(bytes: &[u8]) -> Result<Export, InboxError> {
        let e: Export = decode(bytes)?;
        let too_long = e
            .messages
            .iter()
            .any(|m| m.text.len() > kith_core::dm::MAX_DM_TEXT);
        if e.conversations.len() > MAX_CONVERSATIONS
            || e.lists.len() > MAX_CONVERSATIONS
            || e.lists.iter().any(|(_, l)| l.len() > MAX_MESSAGES)
            || e.messages.len() > MAX_CONVERSATIONS * MAX_MESSAGES
            || too_long
        {
            return Err(InboxError::Damaged("messages over the limits".into()));
        }
        Ok(e)
    }
}

impl Export {
    /// Checks that every message was written by `me` or by the person of its conversation.
    pub fn check_writers(&self, me: &AuthorId) -> Result<(), InboxError> {
        for (peer, list) in &self.lists {
            for l in list {
                let ok = self
                    .messages
                    .iter()
                    .find(|m| m.id == l.id)
                    .is_none_or(|m| m.from == if l.mine { *me } else { *peer });
                if !ok {
                    return Err(InboxError::Damaged(format!(
                        "a message in the conversation with {peer:?} names another writer"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Everything kept here, for a backup.
pub async fn export(store: &impl Store) -> Result<Export, InboxError> {
    let conversations = conversations(store).await?;
    let mut lists = Vec::new();
    let mut messages = Vec::new();
    for c in &conversations {
        let list = listed(store, &c.peer).await?;
        for l in &list {
            if let Some(bytes) = store.get_setting(&message_key(&l.id)).await? {
                messages.push(decode::<Message>(&bytes)?);
            }
        }
        lists.push((c.peer, list));
    }
    Ok(Export {
        conversations,
        lists,
        messages,
    })
}

/// Adds what `export` holds and this store does not (a restore): conversations, and the
/// messages not kept here already. Returns how many messages it added.
pub async fn import(store: &impl Store, export: &Export) -> Result<usize, InboxError> {
    let mut added = 0;
    let by_id: std::collections::HashMap<LetterId, &Message> =
        export.messages.iter().map(|m| (m.id, m)).collect();
    for (peer, list) in &export.lists {
        let c = export.conversations.iter().find(|c| c.peer == *peer);
        for l in list {
            if store.get_setting(&message_key(&l.id)).await?.is_some() {
                continue;
            }
            let Some(m) = by_id.get(&l.id) else {
                continue;
            };
            list_message(store, peer, m, l.mine, MAX_MESSAGES).await?;
            // Delivered or not as it was; one still on its way is not any more.
            let mut mine = listed(store, peer).await?;
            if let Some(x) = mine.iter_mut().find(|x| x.id == l.id) {
                x.delivered = l.delivered;
                x.failed = l.mine && (l.failed || !l.delivered);
            }
            store.put_setting(&list_key(peer), &encode(&mine)).await?;
            added += 1;
        }
        if let Some(c) = c {
            let unread = listed(store, peer)
                .await?
                .iter()
                .filter(|l| !l.mine && l.sent_ms > c.read_ms)
                .count();
            change_conversation(store, *peer, false, |here| {
                here.last_ms = here.last_ms.max(c.last_ms);
                here.read_ms = here.read_ms.max(c.read_ms);
                here.they_read_ms = here.they_read_ms.max(c.they_read_ms);
                here.accepted |= c.accepted;
                here.unread = u32::try_from(unread).unwrap_or(u32::MAX);
            })
            .await?;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use kith_core::Identity;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const NOW: u64 = 1_700_000_000_000;

    fn letter(from: &Identity, to: &Identity, id: u8, at: u64, text: &str) -> Letter {
        Letter {
            id: LetterId([id; 16]),
            from: from.author(),
            to: to.author(),
            sent_ms: at,
            body: Body::Text(text.into()),
        }
    }

    #[test]
    fn a_sent_message_goes_from_sending_to_delivered_to_read() {
        futures::executor::block_on(async {
            let (a, b) = (
                Identity::from_secret([1; 32]),
                Identity::from_secret([2; 32]),
            );
            let store = MemoryStore::new();
            let l = letter(&a, &b, 1, NOW, "hi");
            send(&store, &l, b"sealed", NOW).await.expect("send");
            let shown = messages(&store, &b.author()).await.expect("read");
            assert_eq!(shown.len(), 1);
            assert_eq!(shown[0].delivery, Some(Delivery::Sending));
            assert_eq!(outbox(&store).await.expect("outbox").len(), 1);
            assert_eq!(
                sealed(&store, &l.id).await.expect("sealed").as_deref(),
                Some(&b"sealed"[..])
            );
            let c = &conversations(&store).await.expect("index")[0];
            assert!(c.accepted && c.unread == 0);

            // A try that fails waits; one that lands marks it delivered and clears the outbox.
            attempted(&store, &l.id, None, NOW + 2_000)
                .await
                .expect("retry");
            let p = &outbox(&store).await.expect("outbox")[0];
            assert_eq!((p.tries, p.next_ms), (1, NOW + 2_000));
            attempted(&store, &l.id, Some(true), 0)
                .await
                .expect("taken");
            assert!(outbox(&store).await.expect("outbox").is_empty());
            assert_eq!(sealed(&store, &l.id).await.expect("sealed"), None);
            let shown = messages(&store, &b.author()).await.expect("read");
            assert_eq!(shown[0].delivery, Some(Delivery::Delivered));

            // B's read receipt: read. A repeat moves nothing.
            let receipt = Letter {
                body: Body::Read { up_to_ms: NOW },
                ..letter(&b, &a, 2, NOW + 5, "")
            };
            assert_eq!(receive(&store, &receipt).await, Ok(Taken::Read));
            assert_eq!(receive(&store, &receipt).await, Ok(Taken::Had));
            let shown = messages(&store, &b.author()).await.expect("read");
            assert_eq!(shown[0].delivery, Some(Delivery::Read));
        });
    }

    #[test]
    fn received_messages_count_unread_once_each_and_reading_says_up_to_when() {
        futures::executor::block_on(async {
            let (a, c) = (
                Identity::from_secret([1; 32]),
                Identity::from_secret([3; 32]),
            );
            let store = MemoryStore::new();
            let first = letter(&c, &a, 1, NOW, "hello");
            let second = letter(&c, &a, 2, NOW + 10, "are you there?");
            assert!(matches!(
                receive(&store, &first).await,
                Ok(Taken::Message(_))
            ));
            assert!(matches!(
                receive(&store, &second).await,
                Ok(Taken::Message(_))
            ));
            // A replay is had, not counted again.
            assert_eq!(receive(&store, &first).await, Ok(Taken::Had));
            let index = conversations(&store).await.expect("index");
            assert_eq!(index.len(), 1);
            assert_eq!(index[0].unread, 2);
            assert!(!index[0].accepted, "a request until accepted or answered");
            assert_eq!(newest_from(&store, &c.author()).await, Ok(Some(NOW + 10)));
            // Read up to the first: one left unread.
            assert_eq!(mark_read(&store, &c.author(), NOW).await, Ok(true));
            assert_eq!(conversations(&store).await.expect("index")[0].unread, 1);
            assert_eq!(mark_read(&store, &c.author(), NOW + 10).await, Ok(true));
            assert_eq!(mark_read(&store, &c.author(), NOW + 10).await, Ok(false));
            accept(&store, &c.author()).await.expect("accept");
            let index = conversations(&store).await.expect("index");
            assert!(index[0].accepted && index[0].unread == 0);
            let shown = messages(&store, &c.author()).await.expect("read");
            let texts: Vec<&str> = shown.iter().map(|s| s.message.text.as_str()).collect();
            assert_eq!(texts, ["hello", "are you there?"]);
            assert!(shown.iter().all(|s| !s.mine && s.delivery.is_none()));
            // A read receipt for a conversation nobody here wrote in moves nothing.
            let stray = Letter {
                body: Body::Read { up_to_ms: NOW },
                ..letter(&Identity::from_secret([9; 32]), &a, 3, NOW, "")
            };
            assert_eq!(receive(&store, &stray).await, Ok(Taken::Had));
            assert_eq!(conversations(&store).await.expect("index").len(), 1);
        });
    }

    #[test]
    fn conversations_messages_and_the_outbox_stay_bounded() {
        futures::executor::block_on(async {
            let a = Identity::from_secret([1; 32]);
            let store = MemoryStore::new();
            let b = Identity::from_secret([2; 32]);
            let from_b = |i: u64| {
                let mut l = letter(&b, &a, 0, NOW + i, "x");
                l.id = LetterId(u128::from(i).to_be_bytes());
                l
            };
            // A request keeps only its newest few.
            for i in 0..(MAX_REQUEST_MESSAGES + 3) as u64 {
                receive(&store, &from_b(i)).await.expect("receive");
            }
            let shown = messages(&store, &b.author()).await.expect("read");
            assert_eq!(shown.len(), MAX_REQUEST_MESSAGES);
            let c = &conversations(&store).await.expect("index")[0];
            assert_eq!(c.unread as usize, MAX_REQUEST_MESSAGES);
            // A dropped message replayed is had, not kept again.
            assert_eq!(receive(&store, &from_b(0)).await, Ok(Taken::Had));
            // So is one whose whole conversation was forgotten here.
            forget(&store, &b.author()).await.expect("forget");
            assert_eq!(
                receive(&store, &from_b(MAX_REQUEST_MESSAGES as u64)).await,
                Ok(Taken::Had)
            );
            assert!(conversations(&store).await.expect("index").is_empty());
            assert!(matches!(
                receive(&store, &from_b(50)).await,
                Ok(Taken::Message(_))
            ));
            // Accepted, the conversation keeps up to the full limit.
            accept(&store, &b.author()).await.expect("accept");
            for i in 100..(100 + MAX_MESSAGES + 5) as u64 {
                receive(&store, &from_b(i)).await.expect("receive");
            }
            let shown = messages(&store, &b.author()).await.expect("read");
            assert_eq!(shown.len(), MAX_MESSAGES);
            assert_eq!(shown[0].message.sent_ms, NOW + 105, "the oldest went");
            // The dropped messages' settings went with them.
            assert_eq!(
                store
                    .get_setting(&message_key(&LetterId(100u128.to_be_bytes())))
                    .await
                    .expect("get"),
                None
            );
            assert_eq!(receive(&store, &from_b(100)).await, Ok(Taken::Had));
            for i in 0..(MAX_DM_OUTBOX + 3) as u128 {
                enqueue(
                    &store,
                    LetterId(i.to_be_bytes()),
                    b.author(),
                    b"s",
                    NOW,
                    false,
                )
                .await
                .expect("queue");
            }
            assert_eq!(outbox(&store).await.expect("outbox").len(), MAX_DM_OUTBOX);
            assert_eq!(
                sealed(&store, &LetterId(0u128.to_be_bytes()))
                    .await
                    .expect("get"),
                None
            );
            // Read receipts: one per person waits; when full, receipts go before messages.
            for i in 0..3u128 {
                queue_receipt(
                    &store,
                    LetterId((5_000 + i).to_be_bytes()),
                    b.author(),
                    b"r",
                    NOW,
                )
                .await
                .expect("receipt");
            }
            let out = outbox(&store).await.expect("outbox");
            assert_eq!(out.len(), MAX_DM_OUTBOX);
            assert_eq!(
                out.iter().filter(|p| p.receipt).count(),
                0,
                "the receipt went first"
            );
            // A week later, what is left is given up.
            assert_eq!(expire(&store, NOW + DM_OUTBOX_MS).await, Ok(MAX_DM_OUTBOX));
            queue_receipt(&store, LetterId([1; 16]), b.author(), b"r", NOW)
                .await
                .expect("receipt");
            queue_receipt(&store, LetterId([2; 16]), b.author(), b"r", NOW)
                .await
                .expect("receipt");
            let out = outbox(&store).await.expect("outbox");
            assert_eq!(out.len(), 1, "one receipt per person");
            assert_eq!(sealed(&store, &LetterId([1; 16])).await.expect("get"), None);
            // Strangers filling the conversations push out requests, never the accepted one.
            for i in 0..(MAX_CONVERSATIONS + 2) as u64 {
                let mut l = letter(&b, &a, 0, NOW + 10_000 + i, "x");
                l.from = AuthorId([(i % 250) as u8 + 3; 32]);
                l.from.0[31] = (i / 250) as u8;
                l.id = LetterId((1_000_000 + u128::from(i)).to_be_bytes());
                receive(&store, &l).await.expect("receive");
            }
            let index = conversations(&store).await.expect("index");
            assert_eq!(index.len(), MAX_CONVERSATIONS);
            assert!(
                index.iter().any(|c| c.peer == b.author()),
                "the accepted one stays"
            );
        });
    }

    #[test]
    fn an_export_restores_into_another_store_and_merges_with_what_is_there() {
        futures::executor::block_on(async {
            let (a, b) = (
                Identity::from_secret([1; 32]),
                Identity::from_secret([2; 32]),
            );
            let store = MemoryStore::new();
            let sent = letter(&a, &b, 1, NOW, "hi");
            send(&store, &sent, b"sealed", NOW).await.expect("send");
            attempted(&store, &sent.id, Some(true), 0)
                .await
                .expect("taken");
            let waiting = letter(&a, &b, 2, NOW + 1, "still on its way");
            send(&store, &waiting, b"sealed", NOW).await.expect("send");
            receive(&store, &letter(&b, &a, 3, NOW + 2, "hello back"))
                .await
                .expect("receive");
            let export =
                Export::decode(&export(&store).await.expect("export").encode()).expect("decode");

            let fresh = MemoryStore::new();
            receive(&fresh, &letter(&b, &a, 4, NOW + 3, "newer, only here"))
                .await
                .expect("receive");
            assert_eq!(import(&fresh, &export).await, Ok(3));
            assert_eq!(
                import(&fresh, &export).await,
                Ok(0),
                "a second import adds nothing"
            );
            let shown = messages(&fresh, &b.author()).await.expect("read");
            let states: Vec<(&str, Option<Delivery>)> = shown
                .iter()
                .map(|s| (s.message.text.as_str(), s.delivery))
                .collect();
            assert_eq!(
                states,
                [
                    ("hi", Some(Delivery::Delivered)),
                    ("still on its way", Some(Delivery::Failed)),
                    ("hello back", None),
                    ("newer, only here", None),
                ]
            );
            let c = &conversations(&fresh).await.expect("index")[0];
            assert!(c.accepted);
            assert_eq!(c.unread, 2);
            assert!(Export::decode(b"junk").is_err());
        });
    }

    #[test]
    fn a_letter_given_up_shows_failed() {
        futures::executor::block_on(async {
            let (a, b) = (
                Identity::from_secret([1; 32]),
                Identity::from_secret([2; 32]),
            );
            let store = MemoryStore::new();
            let l = letter(&a, &b, 1, NOW, "hi");
            send(&store, &l, b"sealed", NOW).await.expect("send");
            due_now(&store, NOW).await.expect("due");
            assert_eq!(expire(&store, NOW + 1).await, Ok(0));
            assert_eq!(expire(&store, NOW + DM_OUTBOX_MS).await, Ok(1));
            let shown = messages(&store, &b.author()).await.expect("read");
            assert_eq!(shown[0].delivery, Some(Delivery::Failed));
        });
    }
}
