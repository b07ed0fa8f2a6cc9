//! View state and the reducer: pure, so it is tested without a node or a DOM.
//!
//! kith-app's `App` computes what the screens show (timelines, profiles, search results) as
//! its owned view types and sends them as `Update`s, which reach the reducer as
//! [`Action::App`]; the shell adds connection news. The reducer only decides how they combine
//! with what the person is doing (which screen is open, notices); the "N new posts" pill is
//! kith-app's [`HomeFeed`].

use std::collections::BTreeMap;
use std::rc::Rc;

use kith_core::AuthorId;
use kith_net::{Event, TransportKind};
use yew::Reducible;

use crate::routes::Route;
use kith_app::Update;

pub use kith_app::view::{
    FeedUsage, HomeFeed, Me, NetSearch, NoteView, Notifications, OwnCheck, Person, PostView,
    ProfileView, Search, TextSearch, Theme, ThreadView,
};

/// The connection to kith-node, as the person sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    /// Fetching the node's address or dialing it.
    Connecting {
        /// 1 for the first try, counting up while the node stays unreachable.
        attempt: u32,
    },
    /// Connected to the node.
    Connected {
        /// The node's peer id.
        node: String,
        /// The transport in use.
        transport: TransportKind,
        /// `performance.now()` when the connection came up.
        at_ms: f64,
    },
    /// Not connected; a retry is scheduled.
    Disconnected {
        /// What went wrong, in words.
        reason: String,
        /// How long until the next try.
        retry_in_ms: u64,
    },
}

/// Where the app is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Opening the store.
    Loading,
    /// No identity yet: the welcome screen.
    Onboarding {
        /// Creating or restoring is under way.
        busy: bool,
        /// Why the last attempt failed.
        error: Option<String>,
    },
    /// Ready.
    Ready,
    /// The app cannot run in this browser (no IndexedDB, say).
    Failed(String),
}

/// A message shown for a while (a toast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// For dismissing.
    pub id: u32,
    /// The words.
    pub text: String,
    /// An error, rather than news.
    pub error: bool,
}

/// How many notices are kept at once.
pub const MAX_NOTICES: usize = 4;

/// Everything the screens show.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Where the app is in its life.
    pub phase: Phase,
    /// Me, once known.
    pub me: Option<Me>,
    /// The screen open.
    pub route: Route,
    /// This tab's peer id (empty until the identity is known).
    pub local_peer: String,
    /// The connection to kith-node.
    pub conn: Conn,
    /// The check for posts made on another device, while it is pending.
    pub own_check: Option<OwnCheck>,
    /// Whether the node runs in another tab of this browser profile (this tab shows its
    /// connection and asks it for network work; see `tabs.rs`).
    pub via_tab: bool,
    /// Connected peers and the best transport open to each (a direct connection over a
    /// relayed one).
    pub peers: BTreeMap<String, TransportKind>,
    /// Whose node each connected peer is, as it said in identify (a device claim checked by
    /// kith-net); only connected peers are kept.
    pub persons: BTreeMap<String, AuthorId>,
    /// The latest ping round trip to the node, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The latest ping round trip to each connected peer, in milliseconds.
    pub peer_rtt_ms: BTreeMap<String, f64>,
    /// Feeds being synced: (whose, fetched, known missing).
    pub syncing: BTreeMap<AuthorId, (String, u64, u64)>,
    /// Who I follow.
    pub following: std::collections::BTreeSet<AuthorId>,
    /// The home timeline as computed, with the posts that wait behind the pill.
    pub home: HomeFeed,
    /// The profile on screen.
    pub profile: Option<ProfileView>,
    /// The handle search.
    pub search: Search,
    /// The search of the posts held here.
    pub text_search: TextSearch,
    /// People followed by people I follow, with how many of them follow each.
    pub suggestions: Vec<(Person, usize)>,
    /// Who currently announces my feed in the DHT; `None` while asking.
    pub holders: Option<Result<Vec<Person>, String>>,
    /// Storage per feed.
    pub usage: Vec<FeedUsage>,
    /// Whether the browser granted persistent storage.
    pub persisted: Option<bool>,
    /// How much of one other person's feed this browser keeps; `None` until read.
    pub feed_limits: Option<kith_store::FeedLimits>,
    /// Who is muted or blocked here.
    pub people: Vec<(Person, kith_store::Stance)>,
    /// The notifications, and how many are unread.
    pub notifications: Notifications,
    /// The conversations, and how many messages are unread.
    pub messages: kith_app::messages::Messages,
    /// The conversation open (or last open).
    pub conversation: Option<kith_app::messages::ConversationView>,
    /// The latest search of the posts others hold.
    pub net_search: NetSearch,
    /// The theme.
    pub theme: Theme,
    /// Messages on screen.
    pub notices: Vec<Notice>,
    /// Counter for notice ids.
    pub next_notice: u32,
    /// The images the screens asked for: an object URL once the bytes are here, or why not.
    pub pictures: Pictures,
}

/// Where an image the screens show stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picture {
    /// Its bytes are here, at this object URL.
    Url(String),
    /// It could not be had; why.
    Unavailable(String),
}

/// The images' states by hash (shared: the model is cloned at every action, the map only when
/// it changes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pictures(pub Rc<BTreeMap<kith_core::Hash, Picture>>);

impl Pictures {
    /// The state of the image `hash`, if asked for.
    pub fn get(&self, hash: &kith_core::Hash) -> Option<&Picture> {
        self.0.get(hash)
    }
}

/// The object URLs the shell made for images, at most [`MAX_IMAGE_URLS`]: a new one pushes
/// out the one made longest ago, which the shell then revokes (and the screens ask for
/// again if they still show it).
#[derive(Debug, Default)]
pub struct UrlShelf {
    urls: std::collections::VecDeque<(kith_core::Hash, String)>,
}

/// The most image object URLs kept at once.
pub const MAX_IMAGE_URLS: usize = 200;

impl UrlShelf {
    /// Keeps `url` for `hash`; returns what was pushed out (an older URL of the same image
    /// included).
    pub fn keep(&mut self, hash: kith_core::Hash, url: String) -> Vec<(kith_core::Hash, String)> {
        let mut out = Vec::new();
        if let Some(i) = self.urls.iter().position(|(h, _)| *h == hash) {
            out.extend(self.urls.remove(i));
        }
        self.urls.push_back((hash, url));
        while self.urls.len() > MAX_IMAGE_URLS {
            out.extend(self.urls.pop_front());
        }
        out
    }
}

impl Default for Model {
    fn default() -> Self {
        Model::new()
    }
}

impl Model {
    /// The state at page load.
    pub fn new() -> Self {
        Model {
            phase: Phase::Loading,
            me: None,
            route: Route::Home,
            local_peer: String::new(),
            conn: Conn::Connecting { attempt: 1 },
            via_tab: false,
            own_check: None,
            peers: BTreeMap::new(),
            persons: BTreeMap::new(),
            rtt_ms: None,
            peer_rtt_ms: BTreeMap::new(),
            syncing: BTreeMap::new(),
            following: Default::default(),
            home: HomeFeed::default(),
            profile: None,
            search: Search::Idle,
            text_search: TextSearch::default(),
            suggestions: Vec::new(),
            holders: None,
            usage: Vec::new(),
            persisted: None,
            feed_limits: None,
            people: Vec::new(),
            notifications: Notifications::default(),
            messages: Default::default(),
            conversation: None,
            net_search: NetSearch::Idle,
            theme: Theme::System,
            notices: Vec::new(),
            next_notice: 1,
            pictures: Pictures::default(),
        }
    }

    /// Whether a node of `author`'s (any of their devices) is connected to this one.
    pub fn is_connected(&self, author: &AuthorId) -> bool {
        self.link_to(author).is_some()
    }

    /// How `author` is connected: directly (`WebRtc`) if any of their devices is, else the
    /// transport of another connection; `None` when not connected.
    pub fn link_to(&self, author: &AuthorId) -> Option<TransportKind> {
        let mut links = self
            .persons
            .iter()
            .filter(|(_, p)| *p == author)
            .filter_map(|(peer, _)| self.peers.get(peer).copied());
        let first = links.next()?;
        Some(
            std::iter::once(first)
                .chain(links)
                .find(|t| *t == TransportKind::WebRtc)
                .unwrap_or(first),
        )
    }

    /// How many peers are connected directly (browser to browser, over `/webrtc`).
    pub fn direct_peers(&self) -> usize {
        self.peers
            .values()
            .filter(|t| **t == TransportKind::WebRtc)
            .count()
    }

    /// The home threads on screen: those not newer than the cutoff.
    pub fn home_shown(&self) -> impl Iterator<Item = &ThreadView> {
        self.home.shown()
    }

    /// How many new top-level posts wait behind the pill.
    pub fn home_new(&self) -> usize {
        self.home.waiting()
    }
}

/// Everything that can change the view state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// What kith-app's `App` says the screens show ([`Update::Changed`] and
    /// [`Update::Download`] are the shell's to carry out and leave the model as it is).
    App(Update),
    /// The app cannot run (the store did not open).
    Failed(String),
    /// This tab's peer id.
    LocalPeer(String),
    /// A new attempt to reach the node started.
    Connecting {
        /// The attempt number.
        attempt: u32,
    },
    /// The node is reachable.
    Connected {
        /// Its peer id.
        node: String,
        /// The transport that won.
        transport: TransportKind,
        /// `performance.now()`.
        at_ms: f64,
    },
    /// The node could not be reached, or the connection was lost.
    Disconnected {
        /// Why.
        reason: String,
        /// When the next try is.
        retry_in_ms: u64,
    },
    /// Something the node reported.
    Net(Event),
    /// The node runs in another tab (`true`), or in this one from now on (`false`).
    ViaTab(bool),
    /// Dismiss a message.
    Dismiss(u32),
    /// An image's bytes are at this object URL.
    ImageUrl {
        /// The image's hash.
        hash: kith_core::Hash,
        /// The URL.
        url: String,
    },
    /// The object URL of an image was revoked (pushed out of the [`UrlShelf`]).
    ImageGone(kith_core::Hash),
}

impl Reducible for Model {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Failed(e) => next.phase = Phase::Failed(e),
            Action::LocalPeer(p) => next.local_peer = p,
            Action::App(update) => match update {
                Update::Onboarding { busy, error } => {
                    next.phase = Phase::Onboarding { busy, error }
                }
                Update::Ready(me) => {
                    next.phase = Phase::Ready;
                    next.me = Some(me);
                }
                Update::Me(me) => next.me = Some(me),
                Update::Route(route) => {
                    if route != next.route {
                        next.profile = None;
                    }
                    next.route = route;
                }
                Update::SyncProgress {
                    author,
                    name,
                    have,
                    want,
                } => {
                    next.syncing.insert(author, (name, have, want));
                }
                Update::SyncDone(author) => {
                    next.syncing.remove(&author);
                }
                Update::Home { threads, more } => next.home.update(threads, more),
                Update::Following(f) => next.following = f,
                Update::ShowNew => next.home.show_new(),
                Update::Profile(p) => next.profile = Some(*p),
                Update::Search(s) => next.search = s,
                Update::TextSearch(s) => next.text_search = s,
                Update::NetSearch(s) => next.net_search = s,
                Update::Suggestions(s) => next.suggestions = s,
                Update::Holders(h) => next.holders = h,
                Update::Usage(u) => next.usage = u,
                Update::Persisted(p) => next.persisted = Some(p),
                Update::FeedLimits(l) => next.feed_limits = Some(l),
                Update::People(p) => next.people = p,
                Update::Notifications(n) => next.notifications = n,
                Update::Messages(m) => next.messages = m,
                Update::Conversation(c) => next.conversation = Some(*c),
                Update::Theme(t) => next.theme = t,
                Update::OwnCheck(c) => next.own_check = c,
                Update::Notice { text, error } => {
                    let id = next.next_notice;
                    next.next_notice += 1;
                    next.notices.push(Notice { id, text, error });
                    let excess = next.notices.len().saturating_sub(MAX_NOTICES);
                    next.notices.drain(..excess);
                }
                Update::ImageUnavailable { hash, reason } => {
                    Rc::make_mut(&mut next.pictures.0).insert(hash, Picture::Unavailable(reason));
                }
                Update::Changed(_) | Update::Download { .. } | Update::Image { .. } => {
                    return self;
                }
            },
            Action::Connecting { attempt } => next.conn = Conn::Connecting { attempt },
            Action::Connected {
                node,
                transport,
                at_ms,
            } => {
                next.peers.insert(node.clone(), transport);
                next.conn = Conn::Connected {
                    node,
                    transport,
                    at_ms,
                };
            }
            Action::Disconnected {
                reason,
                retry_in_ms,
            } => {
                next.conn = Conn::Disconnected {
                    reason,
                    retry_in_ms,
                };
                next.rtt_ms = None;
                next.syncing.clear();
            }
            Action::Net(Event::Connected {
                peer, transport, ..
            }) => {
                let best = next.peers.entry(peer.to_string()).or_insert(transport);
                if transport == TransportKind::WebRtc {
                    *best = transport;
                }
            }
            Action::Net(Event::Disconnected {
                peer,
                left: Some(left),
                ..
            }) => {
                next.peers.insert(peer.to_string(), left);
            }
            Action::Net(Event::Disconnected {
                peer, remaining: 0, ..
            }) => {
                next.peers.remove(&peer.to_string());
                next.persons.remove(&peer.to_string());
                next.peer_rtt_ms.remove(&peer.to_string());
            }
            Action::Net(Event::Identified {
                peer,
                person: Some(person),
            }) if next.peers.contains_key(&peer.to_string()) => {
                next.persons.insert(peer.to_string(), person);
            }
            Action::Net(Event::Ping { peer, rtt }) => {
                let ms = rtt.as_secs_f64() * 1000.0;
                if matches!(&next.conn, Conn::Connected { node, .. } if *node == peer.to_string()) {
                    next.rtt_ms = Some(ms);
                }
                if next.peers.contains_key(&peer.to_string()) {
                    next.peer_rtt_ms.insert(peer.to_string(), ms);
                }
            }
            Action::Net(_) => return self,
            Action::ViaTab(v) => {
                next.via_tab = v;
                if !v {
                    // This tab's own node starts from scratch.
                    next.peers.clear();
                    next.persons.clear();
                    next.conn = Conn::Connecting { attempt: 1 };
                }
            }
            Action::Dismiss(id) => next.notices.retain(|n| n.id != id),
            Action::ImageUrl { hash, url } => {
                Rc::make_mut(&mut next.pictures.0).insert(hash, Picture::Url(url));
            }
            Action::ImageGone(hash) => {
                Rc::make_mut(&mut next.pictures.0).remove(&hash);
            }
        }
        if next == *self { self } else { Rc::new(next) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_core::{EntryRef, Hash};
    use kith_net::PeerId;
    use std::time::Duration;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn reduce(model: Model, actions: Vec<Action>) -> Model {
        let mut m = Rc::new(model);
        for a in actions {
            m = m.reduce(a);
        }
        (*m).clone()
    }

    fn thread(author: u8, seq: u64, ts: u64) -> ThreadView {
        let a = AuthorId([author; 32]);
        ThreadView {
            post: PostView {
                id: EntryRef {
                    author: a,
                    seq,
                    hash: Hash([seq as u8; 32]),
                },
                author: Person {
                    author: a,
                    name: String::new(),
                    bio: String::new(),
                    fingerprint: a.fingerprint(),
                    handle: None,
                    avatar: None,
                },
                ts_ms: ts,
                text: format!("post {seq}"),
                images: Vec::new(),
                reply_to: None,
                reactions: Vec::new(),
                mine: false,
                unfollowed: false,
            },
            replies: Vec::new(),
        }
    }

    #[wasm_bindgen_test]
    fn new_posts_wait_behind_the_pill_until_shown() {
        let m = reduce(
            Model::new(),
            vec![Action::App(Update::Home {
                threads: vec![thread(1, 2, 200), thread(1, 1, 100)],
                more: false,
            })],
        );
        assert_eq!(m.home_shown().count(), 2);
        assert_eq!(m.home_new(), 0);
        // Two newer posts arrive live, and an old one is deleted: the deletion shows at once,
        // the new ones wait.
        let m = reduce(
            m,
            vec![Action::App(Update::Home {
                threads: vec![thread(2, 1, 400), thread(1, 3, 300), thread(1, 2, 200)],
                more: true,
            })],
        );
        assert_eq!(m.home_new(), 2);
        let shown: Vec<u64> = m.home_shown().map(|t| t.post.ts_ms).collect();
        assert_eq!(shown, vec![200]);
        assert!(m.home.more);
        let m = reduce(m, vec![Action::App(Update::ShowNew)]);
        assert_eq!(m.home_new(), 0);
        assert_eq!(m.home_shown().count(), 3);
    }

    #[wasm_bindgen_test]
    fn an_empty_timeline_shows_its_first_posts_directly() {
        let m = reduce(
            Model::new(),
            vec![
                Action::App(Update::Home {
                    threads: vec![],
                    more: false,
                }),
                Action::App(Update::Home {
                    threads: vec![thread(1, 1, 100)],
                    more: false,
                }),
            ],
        );
        assert_eq!(m.home_shown().count(), 1);
        assert_eq!(m.home_new(), 0);
    }

    #[wasm_bindgen_test]
    fn a_person_is_connected_through_any_of_their_devices() {
        let alice = AuthorId([1; 32]);
        let (laptop, phone) = (PeerId::random(), PeerId::random());
        let connected = |peer| {
            Action::Net(Event::Connected {
                peer,
                address: "/memory/1".parse().expect("addr"),
                transport: TransportKind::Other,
                connections: 1,
            })
        };
        let identified = |peer| {
            Action::Net(Event::Identified {
                peer,
                person: Some(alice),
            })
        };
        let m = reduce(Model::new(), vec![connected(laptop), connected(phone)]);
        // Connected, but nobody said who they are yet.
        assert!(!m.is_connected(&alice));
        let m = reduce(m, vec![identified(laptop), identified(phone)]);
        assert!(m.is_connected(&alice));
        let gone = |peer| {
            Action::Net(Event::Disconnected {
                peer,
                remaining: 0,
                cause: None,
                left: None,
            })
        };
        let m = reduce(m, vec![gone(laptop)]);
        assert!(m.is_connected(&alice), "still through the phone");
        let m = reduce(m, vec![gone(phone)]);
        assert!(!m.is_connected(&alice));
        assert!(m.persons.is_empty());
        // A peer that is not connected is not remembered.
        let m = reduce(m, vec![identified(laptop)]);
        assert!(m.persons.is_empty());
    }

    #[wasm_bindgen_test]
    fn a_direct_connection_is_shown_over_the_relayed_one_and_falls_back() {
        let alice = AuthorId([9; 32]);
        let peer = PeerId::random();
        let connected = |transport| {
            Action::Net(Event::Connected {
                peer,
                address: "/ip4/127.0.0.1/tcp/1".parse().expect("addr"),
                transport,
                connections: 1,
            })
        };
        let m = reduce(
            Model::new(),
            vec![
                connected(TransportKind::Relayed),
                Action::Net(Event::Identified {
                    peer,
                    person: Some(alice),
                }),
            ],
        );
        assert_eq!(m.link_to(&alice), Some(TransportKind::Relayed));
        assert_eq!(m.direct_peers(), 0);
        let m = reduce(m, vec![connected(TransportKind::WebRtc)]);
        assert_eq!(m.link_to(&alice), Some(TransportKind::WebRtc));
        assert_eq!(m.direct_peers(), 1);
        // The circuit goes: still direct.
        let closed = |left: Option<TransportKind>| {
            Action::Net(Event::Disconnected {
                peer,
                remaining: u32::from(left.is_some()),
                cause: None,
                left,
            })
        };
        let m = reduce(m, vec![closed(Some(TransportKind::WebRtc))]);
        assert_eq!(m.link_to(&alice), Some(TransportKind::WebRtc));
        // The direct connection goes while a relayed one is open again: relayed.
        let m = reduce(
            m,
            vec![
                connected(TransportKind::Relayed),
                closed(Some(TransportKind::Relayed)),
            ],
        );
        assert_eq!(m.link_to(&alice), Some(TransportKind::Relayed));
        let m = reduce(m, vec![closed(None)]);
        assert_eq!(m.link_to(&alice), None);
        assert!(!m.is_connected(&alice));
    }

    #[wasm_bindgen_test]
    fn connection_ping_and_loss() {
        let node = PeerId::random();
        let m = reduce(
            Model::new(),
            vec![
                Action::Connected {
                    node: node.to_string(),
                    transport: TransportKind::WebSocket,
                    at_ms: 12.0,
                },
                Action::Net(Event::Ping {
                    peer: node,
                    rtt: Duration::from_micros(1500),
                }),
                Action::Net(Event::Ping {
                    peer: PeerId::random(),
                    rtt: Duration::from_millis(9),
                }),
                Action::App(Update::SyncProgress {
                    author: AuthorId([3; 32]),
                    name: "Carol".into(),
                    have: 5,
                    want: 10,
                }),
            ],
        );
        assert_eq!(m.rtt_ms, Some(1.5));
        assert_eq!(m.peers.len(), 1);
        // Each connected peer's round trip; a peer not connected gets none.
        assert_eq!(m.peer_rtt_ms.get(&node.to_string()), Some(&1.5));
        assert_eq!(m.peer_rtt_ms.len(), 1);
        assert_eq!(m.syncing.len(), 1);
        let m = reduce(
            m,
            vec![
                Action::Net(Event::Disconnected {
                    peer: node,
                    remaining: 0,
                    cause: None,
                    left: None,
                }),
                Action::Disconnected {
                    reason: "lost".into(),
                    retry_in_ms: 500,
                },
            ],
        );
        assert!(m.peers.is_empty());
        assert!(m.peer_rtt_ms.is_empty());
        assert_eq!(m.rtt_ms, None);
        assert!(m.syncing.is_empty());
        assert!(matches!(
            m.conn,
            Conn::Disconnected {
                retry_in_ms: 500,
                ..
            }
        ));
    }

    #[wasm_bindgen_test]
    fn notices_are_capped_and_dismissed_and_unchanged_state_is_reused() {
        let mut m = Model::new();
        for i in 0..6 {
            m = reduce(
                m,
                vec![Action::App(Update::Notice {
                    text: format!("n{i}"),
                    error: false,
                })],
            );
        }
        assert_eq!(m.notices.len(), MAX_NOTICES);
        assert_eq!(m.notices[0].text, "n2");
        let id = m.notices[0].id;
        let m = reduce(m, vec![Action::Dismiss(id)]);
        assert_eq!(m.notices.len(), MAX_NOTICES - 1);
        let m = Rc::new(m);
        let same = m.clone().reduce(Action::Dismiss(9999));
        assert!(Rc::ptr_eq(&m, &same));
        let same = same.reduce(Action::Net(Event::RoutingUpdated {
            peer: PeerId::random(),
        }));
        assert!(Rc::ptr_eq(&m, &same));
    }

    #[wasm_bindgen_test]
    fn changing_screens_drops_the_old_profile() {
        let a = AuthorId([1; 32]);
        let m = reduce(
            Model::new(),
            vec![Action::App(Update::Route(Route::Profile(a)))],
        );
        assert_eq!(m.route, Route::Profile(a));
        let m = reduce(m, vec![Action::App(Update::Route(Route::Settings))]);
        assert_eq!(m.profile, None);
        assert_eq!(Theme::parse(Theme::Dark.as_str()), Theme::Dark);
        assert_eq!(Theme::parse("junk"), Theme::System);
    }

    #[wasm_bindgen_test]
    fn image_urls_are_bounded_and_an_image_unavailable_says_why() {
        let mut shelf = UrlShelf::default();
        let h = |i: usize| {
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Hash(b)
        };
        for i in 0..MAX_IMAGE_URLS {
            assert!(shelf.keep(h(i), format!("blob:{i}")).is_empty());
        }
        // Past the bound, the oldest goes; the same image again replaces its older URL.
        assert_eq!(
            shelf.keep(h(999), "blob:999".into()),
            [(h(0), "blob:0".to_owned())]
        );
        assert_eq!(
            shelf.keep(h(5), "blob:5b".into()),
            [(h(5), "blob:5".to_owned())]
        );
        let m = reduce(
            Model::new(),
            vec![
                Action::ImageUrl {
                    hash: h(1),
                    url: "blob:1".into(),
                },
                Action::App(Update::ImageUnavailable {
                    hash: h(2),
                    reason: "nobody online".into(),
                }),
            ],
        );
        assert_eq!(m.pictures.get(&h(1)), Some(&Picture::Url("blob:1".into())));
        assert_eq!(
            m.pictures.get(&h(2)),
            Some(&Picture::Unavailable("nobody online".into()))
        );
        let m = reduce(m, vec![Action::ImageGone(h(1))]);
        assert_eq!(m.pictures.get(&h(1)), None);
    }
}
