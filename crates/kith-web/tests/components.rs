//! Components rendered into a real DOM in headless Chromium, driven like a person would:
//! typing, clicking; what they send to the runtime is read from the context's handle.
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use kith_core::{AuthorId, EntryRef, Hash};
use kith_net::TransportKind;
use kith_web::components::compose::Compose;
use kith_web::components::discover::DiscoverPage;
use kith_web::components::nav::Nav;
use kith_web::components::notifications::NotificationsPage;
use kith_web::components::onboarding::suggest_handle;
use kith_web::components::post::PostCard;
use kith_web::components::status::StatusBar;
use kith_web::components::timeline::HomeTimeline;
use kith_web::runtime::{Command, Handle};
use kith_web::state::{
    Conn, Me, NoteView, Notifications, OwnCheck, Person, PostView, Search, TextSearch, ThreadView,
};
use kith_web::tabs::{TabMessage, TabStatus};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

#[derive(Properties, PartialEq)]
struct HarnessProps {
    handle: Handle,
    children: Html,
}

/// Provides the handle, as the app does.
#[function_component(Harness)]
fn harness(props: &HarnessProps) -> Html {
    html! {
        <ContextProvider<Handle> context={props.handle.clone()}>{ props.children.clone() }</ContextProvider<Handle>>
    }
}

fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("document")
}

/// Renders `content` into a fresh element; returns it and what the components send.
async fn mount(content: Html) -> (web_sys::Element, UnboundedReceiver<Command>) {
    let root = document().create_element("div").expect("div");
    document()
        .body()
        .expect("body")
        .append_child(&root)
        .expect("append");
    let (handle, rx) = Handle::new();
    yew::Renderer::<Harness>::with_root_and_props(
        root.clone(),
        HarnessProps {
            handle,
            children: content,
        },
    )
    .render();
    settle().await;
    (root, rx)
}

async fn settle() {
    gloo_timers::future::sleep(Duration::from_millis(30)).await;
}

fn find(root: &web_sys::Element, selector: &str) -> web_sys::Element {
    root.query_selector(selector)
        .expect("selector")
        .unwrap_or_else(|| panic!("{selector} not rendered"))
}

fn text(root: &web_sys::Element, selector: &str) -> String {
    find(root, selector).text_content().unwrap_or_default()
}

async fn click(root: &web_sys::Element, selector: &str) {
    find(root, selector)
        .dyn_into::<web_sys::HtmlElement>()
        .expect("html element")
        .click();
    settle().await;
}

async fn type_into(root: &web_sys::Element, selector: &str, value: &str) {
    let el = find(root, selector);
    if let Some(t) = el.dyn_ref::<web_sys::HtmlTextAreaElement>() {
        t.set_value(value);
    } else if let Some(i) = el.dyn_ref::<web_sys::HtmlInputElement>() {
        i.set_value(value);
    }
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    let ev = InputEvent::new_with_event_init_dict("input", &init.unchecked_into()).expect("event");
    el.dispatch_event(&ev).expect("dispatch");
    settle().await;
}

fn person(n: u8, name: &str) -> Person {
    let a = AuthorId([n; 32]);
    Person {
        author: a,
        name: name.into(),
        bio: String::new(),
        fingerprint: a.fingerprint(),
        handle: None,
        avatar: None,
    }
}

fn thread(n: u8, seq: u64, text: &str, mine: bool) -> ThreadView {
    let p = person(n, "Alice");
    ThreadView {
        post: PostView {
            id: EntryRef {
                author: p.author,
                seq,
                hash: Hash([seq as u8; 32]),
            },
            author: p,
            ts_ms: 1_700_000_000_000,
            text: text.into(),
            images: Vec::new(),
            reply_to: None,
            reactions: vec![("❤️".into(), 2, true)],
            mine,
            unfollowed: false,
        },
        replies: Vec::new(),
    }
}

#[wasm_bindgen_test]
async fn a_post_is_text_never_html_and_links_are_safe() {
    let evil = "<script>window.__kith_pwned=1</script> <img src=x onerror=\"window.__kith_pwned=1\"> \
                javascript:window.__kith_pwned=1 https://example.org/ok";
    let t = thread(1, 1, evil, false);
    let (root, _rx) = mount(html! { <PostCard thread={t} now_ms={1_700_000_060_000u64} /> }).await;
    assert_eq!(text(&root, ".post-text"), evil);
    let body = find(&root, ".post-text");
    assert!(body.query_selector("script, img").expect("dom").is_none());
    let links = body.query_selector_all("a").expect("dom");
    assert_eq!(links.length(), 1);
    let a: web_sys::Element = links.get(0).expect("dom").unchecked_into();
    assert_eq!(
        a.get_attribute("href").as_deref(),
        Some("https://example.org/ok")
    );
    assert!(a.get_attribute("rel").expect("dom").contains("noopener"));
    assert!(
        js_sys::Reflect::get(&web_sys::window().expect("dom"), &"__kith_pwned".into())
            .expect("dom")
            .is_undefined()
    );
    assert_eq!(text(&root, ".when"), "1 min ago");
    // Not mine: no delete button; the reaction count and my own reaction show.
    assert!(root.query_selector(".delete").expect("dom").is_none());
    assert_eq!(text(&root, "button.react.mine .react-count"), "2");
}

#[wasm_bindgen_test]
async fn deleting_asks_first_and_replying_and_reacting_send_commands() {
    let t = thread(1, 7, "mine", true);
    let id = t.post.id;
    let (root, mut rx) = mount(html! { <PostCard thread={t} now_ms={0u64} /> }).await;
    click(&root, ".delete").await;
    click(&root, ".confirm .secondary").await; // Cancel
    assert!(rx.try_recv().is_err(), "cancel sends nothing");
    click(&root, ".delete").await;
    click(&root, ".delete-confirm").await;
    assert_eq!(rx.next().await, Some(Command::Delete(id)));
    click(&root, "button.react[data-emoji='👍']").await;
    assert_eq!(
        rx.next().await,
        Some(Command::React {
            target: id,
            emoji: "👍".into()
        })
    );
    click(&root, ".reply-button").await;
    type_into(&root, ".post form.compose textarea", "a reply").await;
    click(&root, ".post form.compose button[type=submit]").await;
    assert_eq!(
        rx.next().await,
        Some(Command::Post {
            text: "a reply".into(),
            reply_to: Some(id),
            images: Vec::new(),
        })
    );
    assert!(
        root.query_selector("form.compose").expect("dom").is_none(),
        "the reply box closes"
    );
}

#[wasm_bindgen_test]
async fn compose_counts_characters_and_refuses_too_long_posts() {
    let posted = Rc::new(RefCell::new(Vec::<String>::new()));
    let sink = posted.clone();
    let on_post = Callback::from(move |d: kith_web::components::compose::Draft| {
        sink.borrow_mut().push(d.text)
    });
    let (root, _rx) = mount(html! { <Compose id={AttrValue::Static("c")} {on_post} /> }).await;
    let button = || {
        find(&root, "button[type=submit]")
            .dyn_into::<web_sys::HtmlButtonElement>()
            .expect("dom")
    };
    assert!(button().disabled(), "empty: nothing to post");
    type_into(&root, "#c", "héllo 👋").await;
    assert_eq!(text(&root, ".count"), "7 / 2000");
    assert!(!button().disabled());
    type_into(&root, "#c", &"x".repeat(2001)).await;
    assert_eq!(text(&root, ".count"), "2001 / 2000");
    assert!(root.query_selector(".count.over").expect("dom").is_some());
    assert!(button().disabled());
    type_into(&root, "#c", "ok").await;
    click(&root, "button[type=submit]").await;
    assert_eq!(*posted.borrow(), vec!["ok".to_owned()]);
    assert_eq!(
        find(&root, "#c")
            .dyn_into::<web_sys::HtmlTextAreaElement>()
            .expect("dom")
            .value(),
        "",
        "the box empties after posting"
    );
}

#[wasm_bindgen_test]
async fn the_timeline_offers_new_posts_as_a_pill() {
    let shown = Rc::new(Cell::new(0));
    let s = shown.clone();
    let threads = vec![thread(1, 2, "two", false), thread(1, 1, "one", false)];
    let (root, _rx) = mount(html! {
        <HomeTimeline {threads} new_posts={3} more={true} now_ms={0u64}
            on_post={Callback::noop()} on_show_new={Callback::from(move |()| s.set(s.get() + 1))}
            on_more={Callback::noop()} />
    })
    .await;
    assert_eq!(text(&root, "#new-posts"), "3 new posts");
    assert_eq!(
        root.query_selector_all("#timeline > article.post")
            .expect("dom")
            .length(),
        2
    );
    click(&root, "#new-posts").await;
    assert_eq!(shown.get(), 1);
    assert!(root.query_selector("#load-more").expect("dom").is_some());
}

#[wasm_bindgen_test]
async fn search_results_show_fingerprints_and_follow() {
    let hits = vec![person(1, "Alice"), person(2, "Alice")];
    let search = Search::Done {
        handle: "alice".into(),
        hits: hits.clone(),
    };
    let (root, mut rx) = mount(html! {
        <DiscoverPage {search} text_search={TextSearch::default()} now_ms={0u64}
            suggestions={vec![]} following={vec![hits[1].author]} />
    })
    .await;
    let rows = root.query_selector_all("#search-results li").expect("dom");
    assert_eq!(rows.length(), 2);
    let all = text(&root, "#search-results");
    assert!(all.contains(&hits[0].fingerprint) && all.contains(&hits[1].fingerprint));
    assert!(text(&root, "#search-status").contains("2 claims @alice"));
    // The one already followed has no Follow button.
    assert_eq!(
        root.query_selector_all("button.follow-result")
            .expect("dom")
            .length(),
        1
    );
    click(&root, "button.follow-result").await;
    assert_eq!(rx.next().await, Some(Command::Follow(hits[0].author)));
    // A pasted id that is not one says why.
    type_into(&root, "#paste-link", "not a link").await;
    click(&root, "#paste-link ~ button").await;
    assert!(text(&root, "[role=alert]").contains("follow link"));
}

#[wasm_bindgen_test]
async fn typing_in_search_searches_the_posts_held_here_and_lists_them() {
    let text_search = TextSearch {
        query: "rus".into(),
        posts: vec![
            thread(1, 2, "rust two", false),
            thread(1, 1, "rusty one", false),
        ],
        total: 60,
    };
    let (root, mut rx) = mount(html! {
        <DiscoverPage search={Search::Idle} {text_search} now_ms={0u64}
            suggestions={vec![]} following={vec![]} />
    })
    .await;
    assert_eq!(
        root.query_selector_all("#post-results article.post")
            .expect("dom")
            .length(),
        2
    );
    assert!(
        text(&root, "#post-results-status").contains("60 posts on this device match; the newest 2")
    );
    type_into(&root, "#search", "rust m").await;
    assert_eq!(rx.next().await, Some(Command::SearchText("rust m".into())));
}

#[wasm_bindgen_test]
async fn notifications_say_who_did_what_and_offer_a_follow_and_the_nav_counts_the_unread() {
    let carol = person(3, "Carol");
    let reply = thread(3, 4, "nice one", false).post;
    let notifications = Notifications {
        items: vec![
            NoteView {
                kind: kith_core::NoteKind::Reaction,
                who: carol.clone(),
                followed: false,
                post: None,
                about: Some(thread(1, 1, "mine", true).post.id),
                about_text: Some("mine".into()),
                emoji: Some("🎉".into()),
                received_ms: 2_000,
                unread: true,
            },
            NoteView {
                kind: kith_core::NoteKind::Reply,
                who: carol.clone(),
                followed: false,
                post: Some(reply),
                about: None,
                about_text: None,
                emoji: None,
                received_ms: 1_000,
                unread: false,
            },
        ],
        unread: 1,
    };
    let (root, mut rx) =
        mount(html! { <NotificationsPage {notifications} now_ms={3_000u64} /> }).await;
    let items = root.query_selector_all("#notes li.note").expect("dom");
    assert_eq!(items.length(), 2);
    assert_eq!(
        find(&root, "#notes li.note.unread")
            .get_attribute("data-kind")
            .as_deref(),
        Some("reaction")
    );
    assert!(text(&root, "#notes li.note.unread").contains("Carol reacted 🎉 to your post"));
    assert!(text(&root, "#notes li[data-kind=reply]").contains("nice one"));
    click(&root, "#notes li[data-kind=reply] .note-follow").await;
    assert_eq!(rx.next().await, Some(Command::Follow(carol.author)));

    let (root, _rx) = mount(html! {
        <NotificationsPage notifications={Notifications::default()} now_ms={0u64} />
    })
    .await;
    assert!(text(&root, "#no-notifications").contains("Nothing yet"));

    let me = Me {
        person: person(1, "Alice"),
        uri: String::new(),
        web_link: String::new(),
    };
    let (root, _rx) = mount(html! {
        <Nav route={kith_web::routes::Route::Home} me={me.clone()} unread={3usize} />
    })
    .await;
    assert_eq!(text(&root, "#unread"), "3");
    assert_eq!(
        find(&root, "#nav-notifications")
            .get_attribute("aria-label")
            .as_deref(),
        Some("Notifications, 3 unread")
    );
    let (root, _rx) = mount(html! {
        <Nav route={kith_web::routes::Route::Home} me={me} unread={0usize} />
    })
    .await;
    assert!(root.query_selector("#unread").expect("dom").is_none());
}

#[wasm_bindgen_test]
async fn a_reply_from_someone_not_followed_is_marked_with_a_follow() {
    let mut t = thread(1, 1, "mine", true);
    let mut reply = thread(3, 4, "a stranger's reply", false);
    reply.post.unfollowed = true;
    reply.post.reply_to = Some(t.post.id);
    t.replies.push(reply);
    let (root, mut rx) = mount(html! { <PostCard thread={t} now_ms={0u64} /> }).await;
    assert!(text(&root, ".replies .not-followed").contains("not followed"));
    click(&root, ".replies .follow-replier").await;
    assert_eq!(rx.next().await, Some(Command::Follow(AuthorId([3; 32]))));
}

#[wasm_bindgen_test]
async fn posts_found_across_the_network_say_who_passed_them_on() {
    let net_search = kith_web::state::NetSearch::Done {
        query: "zebra".into(),
        posts: vec![(
            thread(4, 1, "A zebra crossing", false).post,
            Some(person(6, "Cal")),
        )],
    };
    let (root, _rx) = mount(html! {
        <DiscoverPage search={Search::Idle} text_search={TextSearch::default()} {net_search}
            now_ms={0u64} suggestions={vec![]} following={vec![]} />
    })
    .await;
    assert_eq!(
        find(&root, "#net-results")
            .get_attribute("data-total")
            .as_deref(),
        Some("1")
    );
    assert!(text(&root, "#net-results .net-hit").contains("A zebra crossing"));
    assert!(text(&root, "#net-results .via").contains("Found via Cal"));
    let net_search = kith_web::state::NetSearch::Searching("zebra".into());
    let (root, _rx) = mount(html! {
        <DiscoverPage search={Search::Idle} text_search={TextSearch::default()} {net_search}
            now_ms={0u64} suggestions={vec![]} following={vec![]} />
    })
    .await;
    assert_eq!(
        find(&root, "#net-results-status")
            .get_attribute("data-state")
            .as_deref(),
        Some("searching")
    );
}

#[wasm_bindgen_test]
async fn the_status_bar_says_how_and_offers_a_retry() {
    let retried = Rc::new(Cell::new(false));
    let r = retried.clone();
    let conn = Conn::Disconnected {
        reason: "kith-node is unreachable".into(),
        retry_in_ms: 2500,
    };
    let (root, _rx) = mount(html! {
        <StatusBar {conn} peers={0} on_retry={Callback::from(move |()| r.set(true))} />
    })
    .await;
    assert_eq!(
        find(&root, "#status")
            .get_attribute("data-state")
            .as_deref(),
        Some("disconnected")
    );
    assert_eq!(
        text(&root, "#status-detail"),
        "kith-node is unreachable. Retrying in 2.5 s."
    );
    click(&root, "#retry").await;
    assert!(retried.get());

    let conn = Conn::Connected {
        node: "n".into(),
        transport: TransportKind::WebRtcDirect,
        at_ms: 1.0,
    };
    let (root, _rx) = mount(html! { <StatusBar {conn} peers={3} /> }).await;
    assert_eq!(
        text(&root, "#status-headline"),
        "Connected via WebRTC-direct"
    );
    assert_eq!(text(&root, "#status-detail"), "3 peers");
    assert!(root.query_selector("#retry").expect("dom").is_none());

    // kith-node is down, friends are still there directly: the bar says both.
    let conn = Conn::Disconnected {
        reason: "kith-node is unreachable".into(),
        retry_in_ms: 4000,
    };
    let (root, _rx) = mount(html! { <StatusBar {conn} peers={2} direct={2} /> }).await;
    assert_eq!(text(&root, "#status-headline"), "kith-node unreachable");
    assert_eq!(
        text(&root, "#status-detail"),
        "2 friends connected directly. Retrying kith-node in 4.0 s."
    );
    assert!(root.query_selector("#retry").expect("dom").is_some());
    // And while it is being retried.
    let conn = Conn::Connecting { attempt: 3 };
    let (root, _rx) = mount(html! { <StatusBar {conn} peers={1} direct={1} /> }).await;
    assert_eq!(text(&root, "#status-headline"), "kith-node unreachable");
    assert_eq!(
        text(&root, "#status-detail"),
        "1 friend connected directly. Reconnecting to kith-node (attempt 3)."
    );
}

#[wasm_bindgen_test]
async fn after_a_restore_home_says_posting_waits_and_offers_to_go_ahead() {
    let went = Rc::new(Cell::new(0));
    let g = went.clone();
    let (root, _rx) = mount(html! {
        <HomeTimeline threads={vec![]} new_posts={0} more={false} now_ms={0u64}
            on_post={Callback::noop()} on_show_new={Callback::noop()} on_more={Callback::noop()}
            own_check={Some(OwnCheck::Checking)} on_go_ahead={Callback::from(move |()| g.set(g.get() + 1))} />
    })
    .await;
    assert_eq!(
        find(&root, "#own-check")
            .get_attribute("data-state")
            .as_deref(),
        Some("checking")
    );
    assert!(text(&root, "#own-check").contains("another device"));
    click(&root, "#go-ahead").await;
    assert_eq!(went.get(), 1);
    let (root, _rx) = mount(html! {
        <HomeTimeline threads={vec![]} new_posts={0} more={false} now_ms={0u64}
            on_post={Callback::noop()} on_show_new={Callback::noop()} on_more={Callback::noop()}
            own_check={Some(OwnCheck::Unreachable)} />
    })
    .await;
    assert!(text(&root, "#own-check").contains("Nobody holding your posts"));
    let (root, _rx) = mount(html! {
        <HomeTimeline threads={vec![]} new_posts={0} more={false} now_ms={0u64}
            on_post={Callback::noop()} on_show_new={Callback::noop()} on_more={Callback::noop()} />
    })
    .await;
    assert!(root.query_selector("#own-check").expect("dom").is_none());
}

#[wasm_bindgen_test]
async fn a_tab_without_the_node_says_so() {
    let conn = Conn::Connected {
        node: "n".into(),
        transport: TransportKind::WebSocket,
        at_ms: 1.0,
    };
    let (root, _rx) = mount(html! { <StatusBar {conn} peers={0} via_tab={true} /> }).await;
    assert_eq!(
        find(&root, "#status")
            .get_attribute("data-via-tab")
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        text(&root, "#status-detail"),
        "through another Kith tab of this browser"
    );
}

#[wasm_bindgen_test]
fn tab_messages_round_trip_and_foreign_text_is_ignored() {
    let author = AuthorId([3; 32]);
    let messages = [
        TabMessage::Changed { author },
        TabMessage::Publish { seq: 7 },
        TabMessage::Found {
            id: 2,
            result: Ok(vec![(author, "alice".into())]),
        },
        TabMessage::Holders {
            id: 3,
            result: Err("offline".into()),
        },
        TabMessage::Status(TabStatus::Online {
            node: "n".into(),
            transport: TransportKind::WebSocket,
        }),
    ];
    for m in messages {
        assert_eq!(TabMessage::decode(&m.encode()), Some(m));
    }
    assert_eq!(TabMessage::decode("{\"Nonsense\":1}"), None);
    assert_eq!(TabMessage::decode("not a message"), None);
    let mut trailing = TabMessage::Publish { seq: 7 }.encode();
    trailing.push('\u{1}');
    assert_eq!(TabMessage::decode(&trailing), None, "bytes left over");
    let mut wide = TabMessage::Publish { seq: 7 }.encode();
    wide.push('é');
    wide.push('\u{2603}');
    assert_eq!(TabMessage::decode(&wide), None, "not one byte a character");
}

#[wasm_bindgen_test]
fn handles_are_suggested_from_names() {
    assert_eq!(suggest_handle("Alice Liddell"), "alice_liddell");
    assert_eq!(suggest_handle("  Zoë-B. "), "zo_b");
    assert!(kith_core::name::normalize_handle(&suggest_handle("Alice Liddell")).is_ok());
}

/// A post's images show as placeholders of their shape, and are asked for (once each) only
/// when they come near the viewport.
#[wasm_bindgen_test]
async fn a_posts_images_wait_as_placeholders_and_are_asked_for_when_near() {
    use kith_core::image::{MAX_IMAGE_SIDE, samples};
    let mut t = thread(1, 4, "two pictures", false);
    let views: Vec<kith_app::view::ImageView> = (0..2u8)
        .map(|i| kith_app::view::ImageView {
            author: t.post.id.author,
            seq: 4,
            index: i,
            image: kith_core::ImageRef::of(&samples::png(40, 30, i, 0), MAX_IMAGE_SIDE)
                .expect("image"),
        })
        .collect();
    t.post.images = views.clone();
    // Far below the viewport first.
    document()
        .document_element()
        .expect("html")
        .scroll_into_view_with_bool(true);
    let (root, mut rx) = mount(html! {
        <>
            <div class="far-above" style="height: 6000px"></div>
            <PostCard thread={t} now_ms={1_700_000_000_000u64} />
        </>
    })
    .await;
    let waiting = root
        .query_selector_all(".post-images .picture-wait")
        .expect("dom");
    assert_eq!(waiting.length(), 2);
    let shape = find(&root, ".picture-wait svg");
    assert_eq!(shape.get_attribute("viewBox").as_deref(), Some("0 0 40 30"));
    gloo_timers::future::sleep(Duration::from_millis(300)).await;
    assert!(
        rx.try_recv().is_err(),
        "nothing is asked for while the pictures are far from view"
    );
    find(&root, ".post-images").scroll_into_view();
    let mut asked = vec![rx.next().await, rx.next().await];
    asked.sort_by_key(|c| format!("{c:?}"));
    let mut want: Vec<Option<Command>> =
        views.iter().map(|v| Some(Command::LoadImage(*v))).collect();
    want.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(asked, want);
}
