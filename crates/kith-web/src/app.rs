//! The root component: owns the reducer, provides the runtime handle, starts the runtime once,
//! and lays out the screens.

use std::rc::Rc;

use gloo_events::EventListener;
use yew::prelude::*;

use crate::browser;
use crate::components::discover::DiscoverPage;
use crate::components::messages::{ConversationPage, MessagesPage};
use crate::components::nav::Nav;
use crate::components::notices::Notices;
use crate::components::notifications::NotificationsPage;
use crate::components::onboarding::Onboarding;
use crate::components::profile::ProfilePage;
use crate::components::settings::SettingsPage;
use crate::components::status::{NetworkPanel, StatusBar, SyncBar};
use crate::components::timeline::HomeTimeline;
use crate::routes::Route;
use crate::runtime::{self, Command, Handle};
use crate::state::{Action, Model, Phase, Pictures};

/// How long a notice stays on screen.
const NOTICE_MS: u32 = 6_000;

/// The app.
#[function_component(App)]
pub fn app() -> Html {
    let model = use_reducer(Model::new);
    // The command channel, made once: the handle goes into the context, the receiving end
    // to the runtime.
    let channel = use_mut_ref(|| {
        let (handle, rx) = Handle::new();
        (handle, Some(rx))
    });
    let handle = channel.borrow().0.clone();
    let now = use_state(kith_net::now_ms);
    {
        // The one effect that starts the runtime; it turns node events into actions.
        let dispatcher = model.dispatcher();
        let handle = handle.clone();
        use_effect_with((), move |()| {
            let dispatch: runtime::Dispatch = Rc::new(move |a: Action| dispatcher.dispatch(a));
            if let Some(rx) = channel.borrow_mut().1.take() {
                wasm_bindgen_futures::spawn_local(runtime::run(rx, dispatch));
            }
            let listeners = web_sys::window().map(|w| {
                let h = handle.clone();
                let on_hash = EventListener::new(&w, "hashchange", move |_| {
                    h.send(Command::Open(Route::parse(&browser::fragment())));
                    browser::scroll_to_top();
                });
                let h = handle.clone();
                let on_online =
                    EventListener::new(&w, "online", move |_| h.send(Command::RetryNow));
                (on_hash, on_online)
            });
            move || drop(listeners)
        });
    }
    {
        // A clock for "3 min ago", and notices that leave after a while.
        let now = now.clone();
        use_effect_with((), move |()| {
            let interval =
                gloo_timers::callback::Interval::new(15_000, move || now.set(kith_net::now_ms()));
            move || drop(interval)
        });
    }
    {
        let dispatcher = model.dispatcher();
        let ids: Vec<u32> = model.notices.iter().map(|n| n.id).collect();
        use_effect_with(ids, move |ids| {
            let timers: Vec<_> = ids
                .iter()
                .map(|&id| {
                    let d = dispatcher.clone();
                    gloo_timers::callback::Timeout::new(NOTICE_MS, move || {
                        d.dispatch(Action::Dismiss(id))
                    })
                })
                .collect();
            move || drop(timers)
        });
    }
    let on_dismiss = {
        let d = model.dispatcher();
        Callback::from(move |id| d.dispatch(Action::Dismiss(id)))
    };
    let send = {
        let h = handle.clone();
        Callback::from(move |c: Command| h.send(c))
    };
    let notices = html! { <Notices notices={model.notices.clone()} on_dismiss={on_dismiss} /> };
    let body = match &model.phase {
        Phase::Loading => html! {
            <main class="welcome"><section class="card" aria-busy="true"><p class="muted">{ "Opening your data…" }</p></section></main>
        },
        Phase::Failed(e) => html! {
            <main class="welcome"><section class="card"><h1>{ "Kith cannot start here" }</h1><p class="error" role="alert" id="fatal">{ e }</p></section></main>
        },
        Phase::Onboarding { busy, error } => html! {
            <Onboarding busy={*busy} error={error.clone()}
                on_create={send.reform(|(name, handle, bio)| Command::CreateIdentity { name, handle, bio })}
                on_restore={send.reform(|(file, passphrase)| Command::Restore { file, passphrase })} />
        },
        Phase::Ready => ready(&model, &send, *now),
    };
    html! {
        <ContextProvider<Handle> context={handle.clone()}>
          <ContextProvider<Pictures> context={model.pictures.clone()}>
            <div class="app">
                <a class="skip" href="#main">{ "Skip to content" }</a>
                <header class="topbar">
                    <a class="brand" href="#/">{ "Kith" }</a>
                    if model.phase == Phase::Ready {
                        <StatusBar conn={model.conn.clone()} peers={model.peers.len()} direct={model.direct_peers()} via_tab={model.via_tab}
                            syncing={syncing(&model)} on_retry={send.reform(|()| Command::RetryNow)} />
                    }
                </header>
                { body }
                { notices }
            </div>
          </ContextProvider<Pictures>>
        </ContextProvider<Handle>>
    }
}

fn syncing(model: &Model) -> Vec<SyncBar> {
    model
        .syncing
        .values()
        .filter(|(_, have, want)| have + want > 0)
        .map(|(name, have, want)| SyncBar {
            name: name.clone(),
            have: *have,
            want: *want,
        })
        .collect()
}

fn ready(model: &UseReducerHandle<Model>, send: &Callback<Command>, now: u64) -> Html {
    let Some(me) = model.me.clone() else {
        return html! {};
    };
    let page = match model.route {
        Route::Home => {
            let d = model.dispatcher();
            let on_show_new = Callback::from(move |()| {
                d.dispatch(Action::App(kith_app::Update::ShowNew));
                browser::scroll_to_top();
            });
            let on_more = send.reform(|()| Command::LoadMore);
            html! {
                <HomeTimeline threads={model.home_shown().cloned().collect::<Vec<_>>()}
                    new_posts={model.home_new()} more={model.home.more} now_ms={now}
                    on_post={send.reform(|d: crate::components::compose::Draft| Command::Post { text: d.text, reply_to: None, images: d.images })}
                    own_check={model.own_check} on_go_ahead={send.reform(|()| Command::GoAhead)}
                    {on_show_new} {on_more} />
            }
        }
        Route::Discover => html! {
            <DiscoverPage search={model.search.clone()} text_search={model.text_search.clone()} net_search={model.net_search.clone()}
                suggestions={model.suggestions.clone()} now_ms={now}
                following={model.following.iter().copied().collect::<Vec<_>>()} />
        },
        Route::Profile(author) => {
            html! {
                <ProfilePage profile={model.profile.clone().filter(|p| p.person.author == author)}
                    me={me.clone()} online={model.is_connected(&author)} now_ms={now} />
            }
        }
        Route::Network => html! {
            <NetworkPanel model={(**model).clone()} on_find_holders={send.reform(|()| Command::FindHolders)} />
        },
        Route::Notifications => html! {
            <NotificationsPage notifications={model.notifications.clone()} now_ms={now} />
        },
        Route::Messages => html! {
            <MessagesPage messages={model.messages.clone()} now_ms={now} />
        },
        Route::Conversation(peer) => html! {
            <ConversationPage conversation={model.conversation.clone().filter(|c| c.who.author == peer)} now_ms={now} />
        },
        Route::Settings => html! {
            <SettingsPage usage={model.usage.clone()} persisted={model.persisted} feed_limits={model.feed_limits} people={model.people.clone()} theme={model.theme} me={me.person.author} />
        },
    };
    html! {
        <div class="layout">
            <Nav route={model.route} me={me} unread={model.notifications.unread} unread_messages={model.messages.unread} />
            <main id="main" tabindex="-1">{ page }</main>
        </div>
    }
}
