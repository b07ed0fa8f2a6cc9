//! One node per browser profile: what the profile's tabs say to each other.
//!
//! Every tab of a profile shares one IndexedDB database, but only one may run the libp2p
//! node: the node's peer id is the person's, and two nodes with one peer id knock each other
//! off kith-node. The tab that holds the Web Lock [`NODE_LOCK`] runs it (the **holder**); the
//! others (**followers**) wait in the lock's queue and show the same store. When the holder
//! closes, the browser grants the lock to the next tab, which starts the node: a handover
//! takes as long as connecting does.
//!
//! Tabs talk over a `BroadcastChannel` ([`CHANNEL`]) in [`TabMessage`]s, JSON-encoded:
//! - any tab that writes to the store says [`TabMessage::Changed`], and every other tab
//!   re-reads that feed (the store is the truth; a lost message is repaired by the next one);
//! - a follower's own post is signed and stored by the follower itself (the store refuses a
//!   second entry at the same seq, so two tabs cannot fork the feed), then the holder is asked
//!   to publish it ([`TabMessage::Publish`]);
//! - what needs the network a follower asks of the holder: a follower's app runs over
//!   [`TabNetwork`], kith-app's `Network` seam turned into messages, and the holder carries
//!   them out with its own network ([`serve`]) and answers questions on the channel;
//! - the holder tells followers its connection state ([`TabMessage::Status`]), also when a
//!   follower says [`TabMessage::Hello`].

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use futures::FutureExt;
use futures::channel::oneshot;
use kith_app::{NetFailure, NetResult, Network};
use kith_core::{AuthorId, NameClaim, VerifiedEntry};
use kith_net::platform;
use kith_store::Store;
use serde::{Deserialize, Serialize};

use crate::browser::TabChannel;

/// The Web Lock held by the tab that runs the node.
pub const NODE_LOCK: &str = "kith-node";
/// The channel the profile's tabs talk on.
pub const CHANNEL: &str = "kith-tabs";

/// The holder's connection, as followers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TabStatus {
    /// Dialing kith-node.
    Connecting {
        /// The attempt number.
        attempt: u32,
    },
    /// Connected.
    Online {
        /// kith-node's peer id.
        node: String,
        /// The transport in use.
        transport: kith_net::TransportKind,
    },
    /// Offline, retrying.
    Offline {
        /// Why.
        reason: String,
        /// When the next attempt is.
        retry_in_ms: u64,
    },
}

impl TabStatus {
    /// What a connection state means for the status bar.
    pub fn action(&self) -> crate::state::Action {
        use crate::state::Action;
        match self.clone() {
            TabStatus::Connecting { attempt } => Action::Connecting { attempt },
            TabStatus::Online { node, transport } => Action::Connected {
                node,
                transport,
                at_ms: crate::browser::perf_now(),
            },
            TabStatus::Offline {
                reason,
                retry_in_ms,
            } => Action::Disconnected {
                reason,
                retry_in_ms,
            },
        }
    }
}

/// A message between the profile's tabs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TabMessage {
    /// The store has new entries (or a new follow state) for `author`: re-read it.
    Changed {
        /// The feed.
        author: AuthorId,
    },
    /// Follower → holder: publish my stored entry `seq` live.
    Publish {
        /// The entry's seq in the person's own feed.
        seq: u64,
    },
    /// Follower → holder: receive `author`'s entries live.
    FollowLive {
        /// The feed.
        author: AuthorId,
    },
    /// Follower → holder: announce that this browser holds `author`'s feed.
    Provide {
        /// The feed.
        author: AuthorId,
    },
    /// Follower → holder: keep my sealed message and deliver it (the holder's agent is the one
    /// writer of the messages in the store).
    SendLetter {
        /// Matches the answer ([`TabMessage::Kept`]) to the question.
        id: u64,
        /// The message.
        letter: kith_core::Letter,
        /// It sealed for its addressee.
        sealed: Vec<u8>,
    },
    /// Holder → followers: whether the message of [`TabMessage::SendLetter`] `id` was kept
    /// (it is then delivered from the outbox), or why not.
    Kept {
        /// The question's id.
        id: u64,
        /// Kept, or why not.
        result: Result<(), String>,
    },
    /// Follower → holder: fetch image `index` of the entry `author`/`seq` into the store;
    /// answered by [`TabMessage::Kept`].
    FetchImage {
        /// Matches the answer to the question.
        id: u64,
        /// The entry's feed.
        author: AuthorId,
        /// Its seq.
        seq: u64,
        /// Which image.
        index: u8,
    },
    /// Follower → holder: I read `peer`'s messages up to `up_to_ms`; `receipt` tells them.
    ReadLetters {
        /// With whom.
        peer: AuthorId,
        /// Up to when.
        up_to_ms: u64,
        /// The receipt's id.
        id: kith_core::LetterId,
        /// The sealed receipt.
        receipt: Vec<u8>,
    },
    /// Follower → holder: sync `author`'s feed now.
    Sync {
        /// The feed.
        author: AuthorId,
    },
    /// Follower → holder: look up `handle` in the DHT; answered by [`TabMessage::Found`].
    Lookup {
        /// Matches the answer to the question.
        id: u64,
        /// The normalised handle.
        handle: String,
    },
    /// Holder → followers: the claimants of a handle, or why the lookup failed.
    Found {
        /// The question's id.
        id: u64,
        /// Each claimant and the handle they claimed.
        result: Result<Vec<(AuthorId, String)>, String>,
    },
    /// Follower → holder: who holds `author`'s feed; answered by [`TabMessage::Holders`].
    FindHolders {
        /// Matches the answer to the question.
        id: u64,
        /// The feed.
        author: AuthorId,
    },
    /// Holder → followers: the people announcing a feed.
    Holders {
        /// The question's id.
        id: u64,
        /// Their authors, or why the lookup failed.
        result: Result<Vec<AuthorId>, String>,
    },
    /// Follower → holder: search the network for posts; answered by [`TabMessage::Posts`].
    SearchPosts {
        /// Matches the answer to the question.
        id: u64,
        /// The words.
        words: String,
        /// How many hops.
        ttl: u8,
    },
    /// Holder → followers: what a network search found (encoded entries, verified again by
    /// the follower), or why it failed.
    Posts {
        /// The question's id.
        id: u64,
        /// Each post's bytes and whose device it came through.
        result: Result<PostBytes, String>,
    },
    /// Holder → followers: nobody holding `author`'s feed answered a sync.
    Unreachable {
        /// The feed.
        author: AuthorId,
    },
    /// Follower → holder: the person pressed "Retry now".
    RetryNow,
    /// Follower → holder: a new tab; say your status.
    Hello,
    /// Holder → followers: its connection state.
    Status(TabStatus),
}

/// What every message on the channel starts with (the format and its version).
const TAB_FORMAT: &str = "kith-tab/1:";

impl TabMessage {
    /// The message as sent: [`TAB_FORMAT`], then its postcard encoding, one character a byte
    /// (the channel carries text). Postcard, not JSON: JSON's decoder for this enum alone was
    /// about 20 KB of the bundle.
    pub fn encode(&self) -> String {
        // Plain serde types: encoding cannot fail.
        let bytes = postcard::to_allocvec(self).unwrap_or_default();
        let mut out = String::with_capacity(TAB_FORMAT.len() + bytes.len() * 2);
        out.push_str(TAB_FORMAT);
        out.extend(bytes.into_iter().map(char::from));
        out
    }

    /// A received message; `None` for anything else on the channel (another version of the
    /// app during an update).
    pub fn decode(text: &str) -> Option<TabMessage> {
        let bytes: Vec<u8> = text
            .strip_prefix(TAB_FORMAT)?
            .chars()
            .map(|c| u8::try_from(c).ok())
            .collect::<Option<_>>()?;
        match postcard::take_from_bytes(&bytes) {
            Ok((message, [])) => Some(message),
            _ => None,
        }
    }
}

/// The channel, shared by the shell and the proxy.
#[derive(Clone)]
pub struct Tabs(Rc<TabChannel>);

impl Tabs {
    /// Wraps an open channel.
    pub fn new(channel: TabChannel) -> Self {
        Tabs(Rc::new(channel))
    }

    /// Posts `message` to the profile's other tabs.
    pub fn tell(&self, message: &TabMessage) {
        self.0.post(&message.encode());
    }
}

/// A network search's posts on the channel: each entry's bytes and whose device it came
/// through.
pub type PostBytes = Vec<(Vec<u8>, Option<AuthorId>)>;

/// How many questions a follower may have open with the holder; asking more drops the
/// oldest (its answer would no longer be shown anyway).
pub const MAX_QUESTIONS: usize = 16;

enum Question {
    Names(oneshot::Sender<Result<Vec<(AuthorId, String)>, String>>),
    Holders(oneshot::Sender<Result<Vec<AuthorId>, String>>),
    Posts(oneshot::Sender<Result<kith_app::PostHits, String>>),
    Kept(oneshot::Sender<Result<(), String>>),
}

/// A follower tab's network: every call becomes a message to the holder. When the holder
/// closes before answering, the question fails ("the tab running Kith's node closed") as this
/// proxy is replaced.
pub struct TabNetwork {
    me: AuthorId,
    tabs: Tabs,
    next: Cell<u64>,
    questions: RefCell<BTreeMap<u64, Question>>,
}

fn answered<T>(rx: oneshot::Receiver<Result<T, String>>) -> NetResult<T>
where
    T: 'static,
{
    async move {
        match rx.await {
            Ok(r) => r.map_err(NetFailure::Failed),
            Err(_) => Err(NetFailure::Failed(
                "the tab running Kith's node closed before answering".into(),
            )),
        }
    }
    .boxed_local()
}

impl TabNetwork {
    /// The proxy for `me`'s app.
    pub fn new(me: AuthorId, tabs: Tabs) -> Self {
        TabNetwork {
            me,
            tabs,
            // Answers are broadcast to every tab: each tab numbers its questions from a
            // random start, so one tab does not take another's answer.
            next: Cell::new((js_sys::Math::random() * 9_007_199_254_740_991.0) as u64),
            questions: RefCell::new(BTreeMap::new()),
        }
    }

    fn ask(&self, question: Question) -> u64 {
        let id = self.next.get().wrapping_add(1);
        self.next.set(id);
        let mut q = self.questions.borrow_mut();
        q.insert(id, question);
        while q.len() > MAX_QUESTIONS {
            q.pop_first();
        }
        id
    }

    /// The question `id`, if it is one of this tab's and of the kind `is` accepts (an answer of
    /// another kind is another tab's, and leaves it waiting).
    fn take(&self, id: u64, is: impl Fn(&Question) -> bool) -> Option<Question> {
        let mut q = self.questions.borrow_mut();
        if q.get(&id).is_some_and(is) {
            q.remove(&id)
        } else {
            None
        }
    }

    /// Takes the holder's answer to one of this tab's questions; `false` if `message` is none.
    pub fn answer(&self, message: &TabMessage) -> bool {
        match message {
            TabMessage::Found { id, result } => {
                if let Some(Question::Names(tx)) =
                    self.take(*id, |q| matches!(q, Question::Names(_)))
                {
                    let _ = tx.send(result.clone());
                }
                true
            }
            TabMessage::Holders { id, result } => {
                if let Some(Question::Holders(tx)) =
                    self.take(*id, |q| matches!(q, Question::Holders(_)))
                {
                    let _ = tx.send(result.clone());
                }
                true
            }
            TabMessage::Posts { id, result } => {
                if let Some(Question::Posts(tx)) =
                    self.take(*id, |q| matches!(q, Question::Posts(_)))
                {
                    let now = kith_net::now_ms();
                    let _ = tx.send(result.as_ref().map_err(Clone::clone).map(|found| {
                        found
                            .iter()
                            .filter_map(|(b, via)| {
                                Some((kith_core::validate_detached(b, now).ok()?, *via))
                            })
                            .collect()
                    }));
                }
                true
            }
            TabMessage::Kept { id, result } => {
                if let Some(Question::Kept(tx)) = self.take(*id, |q| matches!(q, Question::Kept(_)))
                {
                    let _ = tx.send(result.clone());
                }
                true
            }
            _ => false,
        }
    }
}

impl Network for TabNetwork {
    fn publish(&self, entry: VerifiedEntry) -> NetResult<()> {
        // Stored already; the holder reads it from the store.
        if entry.author() == self.me {
            self.tabs.tell(&TabMessage::Publish { seq: entry.seq() });
        }
        futures::future::ready(Ok(())).boxed_local()
    }

    fn follow_live(&self, author: AuthorId) -> NetResult<()> {
        self.tabs.tell(&TabMessage::FollowLive { author });
        futures::future::ready(Ok(())).boxed_local()
    }

    fn provide(&self, author: AuthorId) -> NetResult<()> {
        self.tabs.tell(&TabMessage::Provide { author });
        futures::future::ready(Ok(())).boxed_local()
    }

    fn sync(&self, author: AuthorId) {
        self.tabs.tell(&TabMessage::Sync { author });
    }

    fn lookup_name(&self, handle: String) -> NetResult<Vec<(AuthorId, String)>> {
        let (tx, rx) = oneshot::channel();
        let id = self.ask(Question::Names(tx));
        self.tabs.tell(&TabMessage::Lookup { id, handle });
        answered(rx)
    }

    fn claim_name(&self, _claim: NameClaim) -> NetResult<()> {
        // The holder claims the handle whenever its node comes online.
        futures::future::ready(Ok(())).boxed_local()
    }

    fn find_holders(&self, author: AuthorId) -> NetResult<Vec<AuthorId>> {
        let (tx, rx) = oneshot::channel();
        let id = self.ask(Question::Holders(tx));
        self.tabs.tell(&TabMessage::FindHolders { id, author });
        answered(rx)
    }

    fn retry_now(&self) {
        self.tabs.tell(&TabMessage::RetryNow);
    }

    fn search_posts(
        &self,
        words: String,
        ttl: u8,
    ) -> NetResult<Vec<(VerifiedEntry, Option<AuthorId>)>> {
        let (tx, rx) = oneshot::channel();
        let id = self.ask(Question::Posts(tx));
        self.tabs.tell(&TabMessage::SearchPosts { id, words, ttl });
        answered(rx)
    }

    fn send_letter(&self, letter: kith_core::Letter, sealed: Vec<u8>) -> NetResult<()> {
        let (tx, rx) = oneshot::channel();
        let id = self.ask(Question::Kept(tx));
        self.tabs
            .tell(&TabMessage::SendLetter { id, letter, sealed });
        answered(rx)
    }

    fn fetch_image(&self, author: AuthorId, seq: u64, index: u8) -> NetResult<()> {
        let (tx, rx) = oneshot::channel();
        let id = self.ask(Question::Kept(tx));
        self.tabs.tell(&TabMessage::FetchImage {
            id,
            author,
            seq,
            index,
        });
        answered(rx)
    }

    fn read_letters(
        &self,
        peer: AuthorId,
        up_to_ms: u64,
        id: kith_core::LetterId,
        receipt: Vec<u8>,
    ) -> NetResult<()> {
        self.tabs.tell(&TabMessage::ReadLetters {
            peer,
            up_to_ms,
            id,
            receipt,
        });
        futures::future::ready(Ok(())).boxed_local()
    }
}

/// The holder's side: carries out a follower's request with this tab's network (`None`
/// while it is not started) and answers questions on the channel. Long calls run as tasks of
/// their own. Returns `false` if `message` is not a request.
pub async fn serve<S: Store>(
    message: &TabMessage,
    me: AuthorId,
    store: &S,
    net: Option<Rc<dyn Network>>,
    tabs: &Tabs,
) -> bool {
    let not_yet = || NetFailure::NotConnected.to_string();
    match message.clone() {
        TabMessage::Publish { seq } => {
            let entry = store.range(&me, seq, 1).await.map(|mut v| v.pop());
            if let (Some(net), Ok(Some(e))) = (net, entry) {
                platform::spawn_local(async move {
                    if let Err(err) = net.publish(e).await {
                        tracing::info!("#{seq} not published live ({err}); followers will sync it");
                    }
                });
            }
        }
        TabMessage::FollowLive { author } => {
            if let Some(net) = net {
                platform::spawn_local(async move {
                    if let Err(e) = net.follow_live(author).await {
                        tracing::warn!("following {author} live: {e}");
                    }
                });
            }
        }
        TabMessage::Provide { author } => {
            if let Some(net) = net {
                platform::spawn_local(async move {
                    if let Err(e) = net.provide(author).await {
                        tracing::warn!("announcing {author}'s feed: {e}");
                    }
                });
            }
        }
        TabMessage::Sync { author } => {
            if let Some(net) = net {
                net.sync(author);
            }
        }
        TabMessage::SendLetter { id, letter, sealed } => {
            let result = match net {
                Some(net) => net
                    .send_letter(letter.clone(), sealed)
                    .await
                    .map_err(|e| e.to_string()),
                // No network here yet: kept, and delivered from the outbox once it runs.
                None => kith_store::dms::send(store, &letter, &sealed, kith_app::now_ms())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            if let Err(e) = &result {
                tracing::warn!("keeping a message from another tab: {e}");
            }
            let kept = result.is_ok();
            tabs.tell(&TabMessage::Kept { id, result });
            if kept {
                tabs.tell(&TabMessage::Changed { author: letter.to });
            }
        }
        TabMessage::FetchImage {
            id,
            author,
            seq,
            index,
        } => {
            let tabs = tabs.clone();
            platform::spawn_local(async move {
                let result = match net {
                    Some(net) => net
                        .fetch_image(author, seq, index)
                        .await
                        .map_err(|e| e.to_string()),
                    None => Err(not_yet()),
                };
                tabs.tell(&TabMessage::Kept { id, result });
            });
        }
        TabMessage::ReadLetters {
            peer,
            up_to_ms,
            id,
            receipt,
        } => {
            let result = match net {
                Some(net) => net
                    .read_letters(peer, up_to_ms, id, receipt)
                    .await
                    .map_err(|e| e.to_string()),
                None => async {
                    if kith_store::dms::mark_read(store, &peer, up_to_ms).await? {
                        kith_store::dms::queue_receipt(
                            store,
                            id,
                            peer,
                            &receipt,
                            kith_app::now_ms(),
                        )
                        .await?;
                    }
                    Ok::<(), kith_store::InboxError>(())
                }
                .await
                .map_err(|e| e.to_string()),
            };
            match result {
                // Every tab's count of unread messages follows.
                Ok(()) => tabs.tell(&TabMessage::Changed { author: peer }),
                Err(e) => tracing::warn!("saving what another tab read: {e}"),
            }
        }
        TabMessage::Lookup { id, handle } => {
            let Some(net) = net else {
                tabs.tell(&TabMessage::Found {
                    id,
                    result: Err(not_yet()),
                });
                return true;
            };
            let tabs = tabs.clone();
            platform::spawn_local(async move {
                let result = net.lookup_name(handle).await.map_err(|e| e.to_string());
                tabs.tell(&TabMessage::Found { id, result });
            });
        }
        TabMessage::FindHolders { id, author } => {
            let Some(net) = net else {
                tabs.tell(&TabMessage::Holders {
                    id,
                    result: Err(not_yet()),
                });
                return true;
            };
            let tabs = tabs.clone();
            platform::spawn_local(async move {
                let result = net.find_holders(author).await.map_err(|e| e.to_string());
                tabs.tell(&TabMessage::Holders { id, result });
            });
        }
        TabMessage::SearchPosts { id, words, ttl } => {
            let Some(net) = net else {
                tabs.tell(&TabMessage::Posts {
                    id,
                    result: Err(not_yet()),
                });
                return true;
            };
            let tabs = tabs.clone();
            let (words, ttl) = (words.clone(), ttl);
            platform::spawn_local(async move {
                let result = net
                    .search_posts(words, ttl)
                    .await
                    .map(|found| {
                        found
                            .into_iter()
                            .map(|(e, via)| (e.encode(), via))
                            .collect()
                    })
                    .map_err(|e| e.to_string());
                tabs.tell(&TabMessage::Posts { id, result });
            });
        }
        TabMessage::RetryNow => {
            if let Some(net) = net {
                net.retry_now();
            }
        }
        _ => return false,
    }
    true
}
