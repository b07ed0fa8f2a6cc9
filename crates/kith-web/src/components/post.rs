//! One post with its replies: text shown as text, safe links, reply, react, delete.

use yew::prelude::*;

use super::avatar::Avatar;
use super::compose::{Compose, Draft};
use super::picture::Picture;
use super::use_send;
use crate::routes::Route;
use crate::runtime::{Command, REACTIONS};
use crate::state::ThreadView;
use crate::text::{Segment, ago, segments};

/// Props for [`PostCard`].
#[derive(Properties, PartialEq)]
pub struct PostProps {
    /// The post and its replies.
    pub thread: ThreadView,
    /// Now, in ms since the epoch (for "3 min ago").
    pub now_ms: u64,
    /// Nesting depth (0 for a top-level post).
    #[prop_or_default]
    pub depth: usize,
}

/// The text of a post. Every piece is a text node or an `http(s)` link; nothing is parsed
/// as HTML.
pub fn post_text(text: &str) -> Html {
    html! {
        <p class="post-text">
            { for segments(text).into_iter().map(|s| match s {
                Segment::Text(t) => html! { { t } },
                Segment::Link(href) => html! {
                    <a href={href.clone()} target="_blank" rel="noopener noreferrer nofollow ugc">{ href }</a>
                },
            }) }
        </p>
    }
}

/// A post card.
#[function_component(PostCard)]
pub fn post_card(props: &PostProps) -> Html {
    let send = use_send();
    let replying = use_state(|| false);
    let confirming = use_state(|| false);
    let p = &props.thread.post;
    let id = p.id;
    let name = p.author.display_name();
    let on_reply = {
        let send = send.clone();
        let replying = replying.clone();
        Callback::from(move |draft: Draft| {
            send.emit(Command::Post {
                text: draft.text,
                reply_to: Some(id),
                images: draft.images,
            });
            replying.set(false);
        })
    };
    let toggle_reply = {
        let replying = replying.clone();
        Callback::from(move |_: MouseEvent| replying.set(!*replying))
    };
    let reactions = REACTIONS.iter().map(|emoji| {
        let (count, mine) = p
            .reactions
            .iter()
            .find(|(e, _, _)| e == emoji)
            .map_or((0, false), |(_, n, m)| (*n, *m));
        let send = send.clone();
        let emoji_s = (*emoji).to_owned();
        let label = if mine {
            format!("Take back your {emoji} reaction")
        } else {
            format!("React with {emoji}")
        };
        html! {
            <button type="button" class={classes!("react", mine.then_some("mine"))} aria-label={label}
                aria-pressed={mine.to_string()} data-emoji={emoji_s.clone()}
                onclick={Callback::from(move |_: MouseEvent| send.emit(Command::React { target: id, emoji: emoji_s.clone() }))}>
                { *emoji }
                if count > 0 { <span class="react-count">{ count }</span> }
            </button>
        }
    });
    let delete = if !p.mine {
        html! {}
    } else if *confirming {
        let send = send.clone();
        let confirming2 = confirming.clone();
        let confirming3 = confirming.clone();
        html! {
            <span class="confirm" role="group" aria-label="Confirm delete">
                { "Delete this post for everyone? " }
                <button type="button" class="button danger small delete-confirm"
                    onclick={Callback::from(move |_: MouseEvent| { send.emit(Command::Delete(id)); confirming2.set(false); })}>{ "Delete" }</button>
                <button type="button" class="button secondary small"
                    onclick={Callback::from(move |_: MouseEvent| confirming3.set(false))}>{ "Cancel" }</button>
            </span>
        }
    } else {
        let confirming = confirming.clone();
        html! {
            <button type="button" class="link-button delete"
                onclick={Callback::from(move |_: MouseEvent| confirming.set(true))}>{ "Delete" }</button>
        }
    };
    html! {
        <article class={classes!("post", (props.depth > 0).then_some("reply"))}
            data-author={p.id.author.to_hex()} data-seq={p.id.seq.to_string()} data-ts={p.ts_ms.to_string()}
            aria-label={format!("Post by {name}")}>
            <header class="post-head">
                <Avatar author={p.id.author} image={p.author.avatar} size={if props.depth > 0 { 32 } else { 40 }} />
                <div class="who">
                    <a class="name" href={Route::Profile(p.id.author).to_fragment()}>{ name }</a>
                    <span class="fp" title="Fingerprint">{ super::short_fp(&p.author.fingerprint) }</span>
                    if p.unfollowed && props.depth > 0 {
                        <span class="stranger">
                            <span class="badge muted not-followed">{ "not followed" }</span>
                            <button type="button" class="link-button follow-replier"
                                onclick={{ let send = send.clone(); let who = p.id.author; Callback::from(move |_: MouseEvent| send.emit(Command::Follow(who))) }}>{ "Follow" }</button>
                        </span>
                    }
                </div>
                <time class="when" title={js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(p.ts_ms as f64)).to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED).as_string().unwrap_or_default()}>
                    { ago(p.ts_ms, props.now_ms) }
                </time>
            </header>
            if let (Some(parent), 0) = (p.reply_to, props.depth) {
                <p class="reply-context muted small">
                    { "Replying to " }
                    <a href={Route::Profile(parent.author).to_fragment()}>{ "a post by " }{ super::short_fp(&parent.author.fingerprint()) }</a>
                </p>
            }
            if !p.text.is_empty() { { post_text(&p.text) } }
            if !p.images.is_empty() {
                <div class={classes!("post-images", format!("n{}", p.images.len()))}>
                    { for p.images.iter().map(|v| html! {
                        <Picture view={*v} alt={format!("Picture {} of {} in {}'s post", v.index + 1, p.images.len(), p.author.display_name())} />
                    }) }
                </div>
            }
            <footer class="post-actions">
                <button type="button" class="link-button reply-button" aria-expanded={replying.to_string()}
                    onclick={toggle_reply}>{ "Reply" }</button>
                { for reactions }
                { delete }
            </footer>
            if *replying {
                <Compose on_post={on_reply} label={AttrValue::from(format!("Reply to {}", p.author.display_name()))}
                    placeholder="Write a reply" button="Reply" autofocus={true} />
            }
            if !props.thread.replies.is_empty() {
                <div class="replies">
                    { for props.thread.replies.iter().map(|t| html! {
                        <PostCard key={format!("{}:{}", t.post.id.author, t.post.id.seq)} thread={t.clone()}
                            now_ms={props.now_ms} depth={props.depth + 1} />
                    }) }
                </div>
            }
        </article>
    }
}
