//! Discover: search handles in the DHT, friends-of-friends suggestions, paste a link or id.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::avatar::Avatar;
use super::use_send;
use crate::routes::{Route, parse_person};
use crate::runtime::Command;
use crate::state::{Person, Search};

/// Props for [`DiscoverPage`].
#[derive(Properties, PartialEq)]
pub struct DiscoverProps {
    /// The search.
    pub search: Search,
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
    html! {
        <>
        <section class="card" aria-labelledby="search-title">
            <h2 id="search-title">{ "Find people" }</h2>
            <form class="row" onsubmit={on_search} role="search">
                <label for="search" class="sr-only">{ "Handle" }</label>
                <input id="search" ref={query} type="search" placeholder="@handle" autocomplete="off" />
                <button type="submit" class="button">{ "Search" }</button>
            </form>
            { results }
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
