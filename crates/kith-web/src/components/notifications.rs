//! The Notifications screen: replies, mentions, reactions and follows from anyone, newest
//! first, each with who did it, what it said, and a Follow button for people not followed.

use kith_core::NoteKind;
use yew::prelude::*;

use super::avatar::Avatar;
use super::post::post_text;
use super::use_send;
use crate::routes::Route;
use crate::runtime::Command;
use crate::state::{NoteView, Notifications};
use crate::text::ago;

/// Props for [`NotificationsPage`].
#[derive(Properties, PartialEq)]
pub struct NotificationsProps {
    /// What kith-app computed.
    pub notifications: Notifications,
    /// Now, in ms since the epoch.
    pub now_ms: u64,
}

fn kind_word(kind: NoteKind) -> &'static str {
    match kind {
        NoteKind::Reply => "reply",
        NoteKind::Mention => "mention",
        NoteKind::Reaction => "reaction",
        NoteKind::Follow => "follow",
    }
}

fn item(n: &NoteView, now_ms: u64, send: &Callback<Command>) -> Html {
    let who = n.who.author;
    let name = n.who.display_name();
    let what = match (&n.emoji, n.kind) {
        (Some(e), NoteKind::Reaction) => format!("reacted {e} to your post"),
        _ => n.kind.phrase().to_owned(),
    };
    let follow = (!n.followed).then(|| {
        let send = send.clone();
        html! {
            <button type="button" class="button small note-follow"
                onclick={Callback::from(move |_: MouseEvent| send.emit(Command::Follow(who)))}>{ "Follow" }</button>
        }
    });
    html! {
        <li class={classes!("note", n.unread.then_some("unread"))} data-kind={kind_word(n.kind)}
            data-author={who.to_hex()}>
            <Avatar author={who} size={36} />
            <div class="note-body">
                <p class="note-line">
                    <a class="name" href={Route::Profile(who).to_fragment()}>{ name }</a>
                    { " " }{ what }
                    if !n.followed { <span class="badge muted">{ "not followed" }</span> }
                    <time class="when">{ ago(n.received_ms, now_ms) }</time>
                </p>
                if let Some(t) = &n.about_text {
                    <p class="note-about muted small">{ "On your post: " }{ t }</p>
                }
                if let Some(p) = &n.post { { post_text(&p.text) } }
            </div>
            { for follow }
        </li>
    }
}

/// The list, or a word saying there is nothing yet.
#[function_component(NotificationsPage)]
pub fn notifications_page(props: &NotificationsProps) -> Html {
    let send = use_send();
    let items = &props.notifications.items;
    html! {
        <section class="card notifications" aria-labelledby="notifications-title">
            <h1 id="notifications-title">{ "Notifications" }</h1>
            if items.is_empty() {
                <p id="no-notifications" class="muted">
                    { "Nothing yet. When someone replies to you, mentions you, reacts to your posts or follows you, it shows here, whether you follow them or not." }
                </p>
            } else {
                <ul id="notes" class="notes">
                    { for items.iter().map(|n| item(n, props.now_ms, &send)) }
                </ul>
            }
        </section>
    }
}
