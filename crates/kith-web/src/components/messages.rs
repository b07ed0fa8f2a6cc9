//! Direct messages: the list of conversations (requests apart) and one conversation with its
//! composer. kith-app computes both views; this only draws them and sends what is typed.

use kith_app::messages::{ConversationItem, ConversationView, Messages};
use kith_store::dms::Delivery;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use super::avatar::Avatar;
use super::use_send;
use crate::routes::Route;
use crate::runtime::Command;
use crate::text::ago;

/// Props for [`MessagesPage`].
#[derive(Properties, PartialEq)]
pub struct MessagesProps {
    /// What kith-app computed.
    pub messages: Messages,
    /// Now, in ms since the epoch.
    pub now_ms: u64,
}

fn row(c: &ConversationItem, now_ms: u64) -> Html {
    let who = c.who.author;
    html! {
        <li class={classes!("conversation", (c.unread > 0).then_some("unread"))} data-author={who.to_hex()}>
            <a href={Route::Conversation(who).to_fragment()}>
                <Avatar author={who} size={36} />
                <span class="name">{ c.who.display_name() }</span>
                if c.unread > 0 {
                    <span class="unread-count" aria-label={format!("{} unread", c.unread)}>{ c.unread.min(99) }</span>
                }
                <time class="when">{ ago(c.last_ms, now_ms) }</time>
            </a>
        </li>
    }
}

/// Conversations, most recent first, and the requests below them.
#[function_component(MessagesPage)]
pub fn messages_page(props: &MessagesProps) -> Html {
    let m = &props.messages;
    html! {
        <section class="card messages" aria-labelledby="messages-title">
            <h1 id="messages-title">{ "Messages" }</h1>
            <p class="muted small">{ "End-to-end encrypted: only you and the person you write to can read them. Write to someone from their profile." }</p>
            if m.conversations.is_empty() {
                <p id="no-conversations" class="muted">{ "No conversations yet." }</p>
            } else {
                <ul id="conversations" class="conversations">
                    { for m.conversations.iter().map(|c| row(c, props.now_ms)) }
                </ul>
            }
            if !m.requests.is_empty() {
                <h2 id="requests-title">{ format!("Requests ({})", m.requests.len()) }</h2>
                <p class="muted small">{ "From people you do not follow. They do not know you read them until you answer." }</p>
                <ul id="requests" class="conversations">
                    { for m.requests.iter().map(|c| row(c, props.now_ms)) }
                </ul>
            }
        </section>
    }
}

/// Props for [`ConversationPage`].
#[derive(Properties, PartialEq)]
pub struct ConversationProps {
    /// The conversation, once kith-app read it.
    pub conversation: Option<ConversationView>,
    /// Now, in ms since the epoch.
    pub now_ms: u64,
}

fn delivery_word(d: Delivery) -> &'static str {
    match d {
        Delivery::Sending => "sending",
        Delivery::Delivered => "delivered",
        Delivery::Read => "read",
        Delivery::Failed => "not delivered",
    }
}

/// The messages, oldest first, and a composer.
#[function_component(ConversationPage)]
pub fn conversation_page(props: &ConversationProps) -> Html {
    let send = use_send();
    let area = use_node_ref();
    let Some(c) = &props.conversation else {
        return html! { <section class="card"><p class="muted">{ "Loading messages…" }</p></section> };
    };
    let to = c.who.author;
    let onsubmit = {
        let area = area.clone();
        let send = send.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(t) = area.cast::<HtmlTextAreaElement>() {
                let text = t.value();
                if !text.trim().is_empty() {
                    send.emit(Command::SendMessage { to, text });
                    t.set_value("");
                }
            }
        })
    };
    html! {
        <section class="card conversation-page" aria-labelledby="conversation-title" data-author={to.to_hex()}>
            <h1 id="conversation-title">
                <a href={Route::Profile(to).to_fragment()}>{ c.who.display_name() }</a>
            </h1>
            if c.request {
                <p id="request-note" class="notice-line">{ "A request from someone you do not follow. Answer to accept it; until then they do not know you read it." }</p>
            }
            <ol id="letters" class="letters">
                { for c.messages.iter().map(|m| html! {
                    <li class={classes!("letter", if m.mine { "mine" } else { "theirs" })} data-id={m.id.to_hex()}>
                        <p class="letter-text">{ &m.text }</p>
                        <p class="letter-meta muted small">
                            <time>{ ago(m.sent_ms, props.now_ms) }</time>
                            if let Some(d) = m.delivery {
                                { " · " }<span class="delivery" data-delivery={delivery_word(d)}>{ delivery_word(d) }</span>
                            }
                        </p>
                    </li>
                }) }
            </ol>
            <form class="compose" {onsubmit}>
                <textarea ref={area} id="letter-text" class="compose-text" rows="2"
                    aria-label={format!("Message to {}", c.who.display_name())}
                    placeholder="Write a message" maxlength="4000" />
                <div class="compose-bar">
                    <button id="send-letter" type="submit" class="button">{ "Send" }</button>
                </div>
            </form>
        </section>
    }
}
