//! Discover: one search box (the posts held here as the person types; a handle in the DHT
//! when submitted), friends-of-friends suggestions, paste a link or id.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::avatar::Avatar;
use super::post::PostCard;
use super::use_send;
use crate::routes::{Route, parse_person};
use crate::runtime::Command;
use crate::state::{NetSearch, Person, Search, TextSearch, ThreadView};

/// Props for [`DiscoverPage`].
#[derive(Properties, PartialEq)]
pub struct DiscoverProps {
    /// The handle search.
    pub search: Search,
    /// The search of the posts held here.
    pub text_search: TextSearch,
    /// The search of the posts others hold.
    #[prop_or_default]
    pub net_search: NetSearch,
    /// Now (ms since the epoch), for the posts' ages.
    pub now_ms: u64,
    /// Suggestions with how many people I follow follow each.
    pub suggestions: Vec<(Person, usize)>,
    /// Who I follow (to label buttons).
    pub following: Vec<kith_core::AuthorId>,
}

fn person_row(p: &Person, following: bool, note: Option<String>, send: &Callback<Command>) -> Html {
    let author = p.author;
    html! {
        <li class="person" data-author={author.to_hex()}>
            <Avatar author={author} size={40} />
            <div class="who">
                <a class="name" href={Route::Profile(author).to_fragment()}>{ p.display_name() }</a>
                if let Some(h) = &p.handle { <span class="handle">{ format!("@{h}") }</span> }
                <span class="fp">{ "Fingerprint " }<code>{ &p.fingerprint }</code></span>
                if let Some(n) = note { <span class="muted">{ n }</span> }
            </div>
            if following {
                <span class="badge">{ "Following" }</span>
            } else {
                <button type="button" class="button small follow-result"
                    onclick={send.reform(move |_: MouseEvent| Command::Follow(author))}>{ "Follow" }</button>
            }
        </li>
    }
}

/// The discover screen.
#[function_component(DiscoverPage)]
pub fn discover_page(props: &DiscoverProps) -> Html {
    let send = use_send();
    let query = use_node_ref();
    let link = use_node_ref();
    let link_error = use_state(|| None::<String>);
    let on_search = {
        let (send, query) = (send.clone(), query.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(q) = query.cast::<HtmlInputElement>() {
                send.emit(Command::Search(q.value()));
            }
        })
    };
    let on_input = send.reform(|e: InputEvent| {
        let value = e
            .target_dyn_into::<HtmlInputElement>()
            .map(|i| i.value())
            .unwrap_or_default();
        Command::SearchText(value)
    });
    let on_link = {
        let (link, link_error) = (link.clone(), link_error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let text = link
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            match parse_person(&text) {
                Ok(a) => {
                    link_error.set(None);
                    browser_open(Route::Profile(a));
                }
                Err(e) => link_error.set(Some(e)),
            }
        })
    };
    let results = match &props.search {
        Search::Idle => html! {},
        Search::Searching(h) => {
            html! { <p class="muted" id="search-status">{ format!("Looking up @{h} in the network…") }</p> }
        }
        Search::Failed(e) => html! { <p class="error" role="alert" id="search-status">{ e }</p> },
        Search::Done { handle, hits } if hits.is_empty() => html! {
            <p class="muted" id="search-status">{ format!("Nobody has claimed @{handle} (or they have not been online since the network last restarted).") }</p>
        },
        Search::Done { handle, hits } => html! {
            <>
            <p class="muted" id="search-status">{ format!("{} claim{} @{handle}. Names are not unique: check the fingerprint with the person.", hits.len(), if hits.len() == 1 { "" } else { "s" }) }</p>
            <ul class="people" id="search-results">
                { for hits.iter().map(|p| person_row(p, props.following.contains(&p.author), None, &send)) }
            </ul>
            </>
        },
    };
    let t = &props.text_search;
    let posts = if t.query.trim().is_empty() {
        html! {}
    } else {
        let shown = t.posts.len();
        let summary = match t.total {
            0 => format!("No post on this device matches “{}”.", t.query.trim()),
            n if n > shown => format!("{n} posts on this device match; the newest {shown}:"),
            1 => "1 post on this device matches:".to_owned(),
            n => format!("{n} posts on this device match:"),
        };
        html! {
            <div id="post-results" data-total={t.total.to_string()}>
                <p class="muted" id="post-results-status">{ summary }</p>
                <section class="posts" aria-label="Posts found">
                    { for t.posts.iter().map(|th| html! {
                        <PostCard key={format!("{}:{}", th.post.id.author, th.post.id.seq)} thread={th.clone()} now_ms={props.now_ms} />
                    }) }
                </section>
            </div>
        }
    };
    let network = match &props.net_search {
        NetSearch::Idle => html! {},
        NetSearch::Searching(q) => html! {
            <p class="muted" id="net-results-status" data-state="searching">{ format!("Asking the people you are connected to, and theirs, for “{q}”…") }</p>
        },
        NetSearch::Failed(e) => {
            html! { <p class="error" role="alert" id="net-results-status" data-state="failed">{ e }</p> }
        }
        NetSearch::Done { query, posts } => html! {
            <div id="net-results" data-total={posts.len().to_string()}>
                <p class="muted" id="net-results-status" data-state="done">{ match posts.len() {
                    0 => format!("Nobody within three hops holds a post with “{query}”."),
                    1 => "1 post from across the network, verified:".to_owned(),
                    n => format!("{n} posts from across the network, verified:"),
                } }</p>
                <section class="posts" aria-label="Posts found across the network">
                    { for posts.iter().map(|(p, via)| html! {
                        <div class="net-hit" key={format!("{}:{}", p.id.author, p.id.seq)}>
                            <p class="muted small via">{ match via {
                                Some(v) => format!("Found via {}", v.display_name()),
                                None => "Found via a peer".to_owned(),
                            } }</p>
                            <PostCard thread={ThreadView { post: p.clone(), replies: Vec::new() }} now_ms={props.now_ms} />
                        </div>
                    }) }
                </section>
            </div>
        },
    };
    html! {
        <>
        <section class="card" aria-labelledby="search-title">
            <h2 id="search-title">{ "Search" }</h2>
            <form class="row" onsubmit={on_search} role="search">
                <label for="search" class="sr-only">{ "Words, #tags or a @handle" }</label>
                <input id="search" ref={query} type="search" placeholder="Words, #tags or @handle" autocomplete="off" oninput={on_input} />
                <button type="submit" class="button">{ "Search" }</button>
            </form>
            <p class="muted small">{ "Posts held on this device show as you type. Search also asks the people you are connected to (and theirs) and looks a handle up in the network." }</p>
            { results }
            { posts }
            { network }
        </section>
        <section class="card" aria-labelledby="link-title">
            <h2 id="link-title">{ "Open a follow link" }</h2>
            <form class="row" onsubmit={on_link}>
                <label for="paste-link" class="sr-only">{ "Follow link or id" }</label>
                <input id="paste-link" ref={link} type="text" placeholder="Paste a follow link or a 64-character id" />
                <button type="submit" class="button secondary">{ "Open" }</button>
            </form>
            if let Some(e) = &*link_error { <p class="error" role="alert">{ e }</p> }
        </section>
        <section class="card" aria-labelledby="suggest-title">
            <h2 id="suggest-title">{ "Friends of friends" }</h2>
            if props.suggestions.is_empty() {
                <p class="muted">{ "Suggestions appear once you follow people who follow others." }</p>
            }
            <ul class="people" id="suggestions">
                { for props.suggestions.iter().map(|(p, n)| person_row(p, false,
                    Some(format!("followed by {n} you follow")), &send)) }
            </ul>
        </section>
        </>
    }
}

fn browser_open(route: Route) {
    crate::browser::set_fragment(&route.to_fragment());
}
