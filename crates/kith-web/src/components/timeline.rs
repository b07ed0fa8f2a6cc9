//! The home timeline: compose box, the "N new posts" pill, posts, infinite scroll.

use gloo_events::EventListener;
use yew::prelude::*;

use super::compose::Compose;
use super::post::PostCard;
use crate::browser;
use crate::state::{OwnCheck, ThreadView};

/// Props for [`HomeTimeline`].
#[derive(Properties, PartialEq)]
pub struct HomeProps {
    /// Threads on screen.
    pub threads: Vec<ThreadView>,
    /// New posts waiting behind the pill.
    pub new_posts: usize,
    /// Whether older posts exist.
    pub more: bool,
    /// Now (ms since the epoch).
    pub now_ms: u64,
    /// Post.
    pub on_post: Callback<super::compose::Draft>,
    /// Show the waiting posts.
    pub on_show_new: Callback<()>,
    /// Load older posts.
    pub on_more: Callback<()>,
    /// The check for posts made on another device, while pending.
    #[prop_or_default]
    pub own_check: Option<OwnCheck>,
    /// "Post anyway".
    #[prop_or_default]
    pub on_go_ahead: Callback<()>,
}

/// The home screen.
#[function_component(HomeTimeline)]
pub fn home_timeline(props: &HomeProps) -> Html {
    {
        // Infinite scroll: near the end of the page, ask for more, once per page length.
        let more = props.more;
        let on_more = props.on_more.clone();
        use_effect_with((more, props.threads.len()), move |(more, _)| {
            let fired = std::cell::Cell::new(false);
            let listener = (*more).then(|| {
                web_sys::window().map(|w| {
                    EventListener::new(&w, "scroll", move |_| {
                        if !fired.get() && browser::near_bottom(400.0) {
                            fired.set(true);
                            on_more.emit(());
                        }
                    })
                })
            });
            move || drop(listener)
        });
    }
    let has_posts = !props.threads.is_empty();
    use_effect_with(has_posts, |has| {
        if *has {
            // For the benchmarks: the moment the first post is on screen.
            browser::mark_once("kith:first-post");
        }
    });
    let n = props.new_posts;
    html! {
        <section class="timeline" aria-label="Home timeline">
            if let Some(check) = props.own_check {
                <div id="own-check" class="card own-check" role="status" data-state={match check {
                    OwnCheck::Checking => "checking",
                    OwnCheck::Unreachable => "unreachable",
                }}>
                    <p>{ match check {
                        OwnCheck::Checking => "Checking for posts you made on another device since this backup… \
                            Posting waits until your feed is up to date, so it never splits in two.",
                        OwnCheck::Unreachable => "Nobody holding your posts is online, so Kith cannot check \
                            for posts you made on another device since this backup. If you did not post \
                            anywhere else, go ahead.",
                    } }</p>
                    <button id="go-ahead" type="button" class="button small"
                        onclick={props.on_go_ahead.reform(|_: MouseEvent| ())}>{ "Post anyway" }</button>
                </div>
            }
            <div class="card">
                <Compose id={AttrValue::Static("compose")} on_post={props.on_post.clone()} />
            </div>
            if n > 0 {
                <button id="new-posts" type="button" class="pill"
                    onclick={props.on_show_new.reform(|_: MouseEvent| ())}>
                    { format!("{n} new post{}", if n == 1 { "" } else { "s" }) }
                </button>
            }
            if props.threads.is_empty() && n == 0 {
                <div class="card empty" id="empty-timeline">
                    <h2>{ "Your timeline is empty" }</h2>
                    <p>{ "Write your first post above, find people in Discover, or share your follow link from your profile." }</p>
                </div>
            }
            <div id="timeline" class="posts">
                { for props.threads.iter().map(|t| html! {
                    <PostCard key={format!("{}:{}", t.post.id.author, t.post.id.seq)} thread={t.clone()} now_ms={props.now_ms} />
                }) }
            </div>
            if props.more {
                <button type="button" class="button secondary wide" id="load-more"
                    onclick={props.on_more.reform(|_: MouseEvent| ())}>{ "Load older posts" }</button>
            }
        </section>
    }
}
