//! The top bar: brand, navigation, and my own card.

use yew::prelude::*;

use super::avatar::Avatar;
use crate::routes::Route;
use crate::state::Me;

/// Props for [`Nav`].
#[derive(Properties, PartialEq)]
pub struct NavProps {
    /// The open screen.
    pub route: Route,
    /// Me.
    pub me: Me,
    /// Notifications not read yet.
    #[prop_or_default]
    pub unread: usize,
    /// Direct messages not read yet (requests left out).
    #[prop_or_default]
    pub unread_messages: u32,
}

/// Navigation links; the open one is marked for assistive technology.
#[function_component(Nav)]
pub fn nav(props: &NavProps) -> Html {
    let me = props.me.person.author;
    let link = |route: Route, label: &'static str, id: &'static str| {
        let current = props.route == route;
        html! {
            <li><a id={id} href={route.to_fragment()} aria-current={current.then_some("page")}
                class={classes!(current.then_some("current"))}>{ label }</a></li>
        }
    };
    html! {
        <nav class="nav" aria-label="Main">
            <ul>
                { link(Route::Home, "Home", "nav-home") }
                { link(Route::Discover, "Discover", "nav-discover") }
                <li>
                    <a id="nav-notifications" href={Route::Notifications.to_fragment()}
                        aria-current={(props.route == Route::Notifications).then_some("page")}
                        class={classes!((props.route == Route::Notifications).then_some("current"))}
                        aria-label={if props.unread > 0 { format!("Notifications, {} unread", props.unread) } else { "Notifications".to_owned() }}>
                        { "Notifications" }
                        if props.unread > 0 { <span id="unread" class="unread-count" aria-hidden="true">{ props.unread.min(99) }</span> }
                    </a>
                </li>
                <li>
                    <a id="nav-messages" href={Route::Messages.to_fragment()}
                        aria-current={matches!(props.route, Route::Messages | Route::Conversation(_)).then_some("page")}
                        class={classes!(matches!(props.route, Route::Messages | Route::Conversation(_)).then_some("current"))}
                        aria-label={if props.unread_messages > 0 { format!("Messages, {} unread", props.unread_messages) } else { "Messages".to_owned() }}>
                        { "Messages" }
                        if props.unread_messages > 0 { <span id="unread-messages" class="unread-count" aria-hidden="true">{ props.unread_messages.min(99) }</span> }
                    </a>
                </li>
                { link(Route::Profile(me), "Profile", "nav-profile") }
                { link(Route::Network, "Network", "nav-network") }
                { link(Route::Settings, "Settings", "nav-settings") }
            </ul>
            <div class="me-card">
                <Avatar author={me} image={props.me.person.avatar} size={36} />
                <div>
                    <strong id="my-name">{ props.me.person.display_name() }</strong>
                    if let Some(h) = &props.me.person.handle { <span class="handle">{ format!("@{h}") }</span> }
                    <span class="fp">{ "Fingerprint " }<code id="my-fingerprint">{ &props.me.person.fingerprint }</code></span>
                </div>
            </div>
        </nav>
    }
}
