//! Settings: backup and restore, storage per feed, persistence, the cap on one person's feed,
//! forget a feed, the people muted or blocked, theme.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::avatar::Avatar;
use super::use_send;
use crate::runtime::{Command, MIN_PASSPHRASE};
use crate::state::{FeedUsage, Theme};
use crate::text::bytes;

/// Props for [`SettingsPage`].
#[derive(Properties, PartialEq)]
pub struct SettingsProps {
    /// Storage per feed.
    pub usage: Vec<FeedUsage>,
    /// Persistent storage granted?
    pub persisted: Option<bool>,
    /// How much of one other person's feed is kept; `None` until read.
    pub feed_limits: Option<kith_store::FeedLimits>,
    /// Who is muted or blocked, in name order.
    pub people: Vec<(crate::state::Person, kith_store::Stance)>,
    /// The theme.
    pub theme: Theme,
    /// My key (my feed cannot be forgotten).
    pub me: kith_core::AuthorId,
}

/// A passphrase field and a file field that send a restore command.
#[derive(Properties, PartialEq)]
pub struct RestoreProps {
    /// Called with the file's bytes and the passphrase.
    pub on_restore: Callback<(Vec<u8>, String)>,
    /// Disabled while busy.
    #[prop_or_default]
    pub busy: bool,
}

/// Restore from a backup file.
#[function_component(RestoreForm)]
pub fn restore_form(props: &RestoreProps) -> Html {
    let file = use_node_ref();
    let pass = use_node_ref();
    let error = use_state(|| None::<String>);
    let onsubmit = {
        let (file, pass, error) = (file.clone(), pass.clone(), error.clone());
        let on_restore = props.on_restore.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (Some(f), Some(p)) = (
                file.cast::<HtmlInputElement>(),
                pass.cast::<HtmlInputElement>(),
            ) else {
                return;
            };
            let (on_restore, error) = (on_restore.clone(), error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match crate::browser::read_chosen_file(&f).await {
                    Ok(bytes) => {
                        error.set(None);
                        on_restore.emit((bytes, p.value()));
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    html! {
        <form class="stack" {onsubmit}>
            <label for="restore-file">{ "Backup file" }</label>
            <input id="restore-file" ref={file} type="file" accept=".kith,application/octet-stream" />
            <label for="restore-pass">{ "Its passphrase" }</label>
            <input id="restore-pass" ref={pass} type="password" autocomplete="current-password" />
            if let Some(e) = &*error { <p class="error" role="alert">{ e }</p> }
            <button id="restore-button" type="submit" class="button secondary" disabled={props.busy}>{ "Restore" }</button>
        </form>
    }
}

/// The settings screen.
#[function_component(SettingsPage)]
pub fn settings_page(props: &SettingsProps) -> Html {
    let send = use_send();
    let pass = use_node_ref();
    let on_backup = {
        let (send, pass) = (send.clone(), pass.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(p) = pass.cast::<HtmlInputElement>() {
                send.emit(Command::Backup {
                    passphrase: p.value(),
                });
                p.set_value("");
            }
        })
    };
    let on_restore = send.reform(|(file, passphrase)| Command::Restore { file, passphrase });
    let theme_radio = |t: Theme, label: &'static str| {
        let send = send.clone();
        let id = format!("theme-{}", t.as_str());
        html! {
            <label for={id.clone()} class="radio">
                <input type="radio" name="theme" id={id} checked={props.theme == t}
                    onchange={Callback::from(move |_: Event| send.emit(Command::SetTheme(t)))} />
                { label }
            </label>
        }
    };
    let (max_entries, max_mb) = (use_node_ref(), use_node_ref());
    let on_limits = {
        let (send, max_entries, max_mb) = (send.clone(), max_entries.clone(), max_mb.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let read = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .and_then(|i| i.value().trim().parse::<u64>().ok())
            };
            if let (Some(entries), Some(megabytes)) = (read(&max_entries), read(&max_mb)) {
                send.emit(Command::SetFeedLimits { entries, megabytes });
            }
        })
    };
    let total: u64 = props.usage.iter().map(|u| u.bytes).sum();
    html! {
        <>
        <section class="card" aria-labelledby="backup-title">
            <h2 id="backup-title">{ "Backup" }</h2>
            <p class="muted">{ "One file with your key (encrypted with your passphrase) and every post this browser holds. Restore it here or in another browser." }</p>
            <form class="stack" onsubmit={on_backup}>
                <label for="backup-pass">{ format!("Passphrase (at least {MIN_PASSPHRASE} characters)") }</label>
                <input id="backup-pass" ref={pass} type="password" autocomplete="new-password" />
                <button id="backup-button" type="submit" class="button">{ "Download backup" }</button>
            </form>
            <h3>{ "Restore" }</h3>
            <RestoreForm {on_restore} />
        </section>
        <section class="card" aria-labelledby="storage-title">
            <h2 id="storage-title">{ "Storage" }</h2>
            <p id="persisted">{ match props.persisted {
                Some(true) => "Persistent storage: granted. The browser will not clear Kith's data on its own.",
                Some(false) => "Persistent storage: not granted. Under storage pressure the browser may clear Kith's data; keep a backup.",
                None => "Persistent storage: checking…",
            } }</p>
            if props.persisted == Some(false) {
                <button type="button" class="button secondary" onclick={send.reform(|_: MouseEvent| Command::RequestPersistence)}>{ "Ask for persistent storage" }</button>
            }
            if let Some(l) = props.feed_limits {
                <form id="feed-limits" class="row" onsubmit={on_limits}>
                    <span>{ "Keep at most" }</span>
                    <label for="max-entries" class="sr-only">{ "Entries of one person's feed" }</label>
                    <input id="max-entries" ref={max_entries} type="number" inputmode="numeric"
                        min={kith_store::limits::MIN_MAX_ENTRIES.to_string()} value={l.entries.to_string()} />
                    <span>{ "entries or" }</span>
                    <label for="max-mb" class="sr-only">{ "Megabytes of one person's feed" }</label>
                    <input id="max-mb" ref={max_mb} type="number" inputmode="numeric"
                        min={(kith_store::limits::MIN_MAX_BYTES / (1024 * 1024)).to_string()}
                        value={(l.bytes / (1024 * 1024)).to_string()} />
                    <span>{ "MB of each person's feed." }</span>
                    <button type="submit" class="button secondary small">{ "Save" }</button>
                </form>
            }
            <table id="storage" class="storage">
                <caption>{ format!("{} in {} feeds", bytes(total), props.usage.len()) }</caption>
                <thead><tr><th scope="col">{ "Feed" }</th><th scope="col">{ "Entries" }</th><th scope="col">{ "Size" }</th><th scope="col"><span class="sr-only">{ "Actions" }</span></th></tr></thead>
                <tbody>
                { for props.usage.iter().map(|u| {
                    let author = u.person.author;
                    let name = u.person.display_name();
                    html! {
                        <tr data-author={author.to_hex()} data-entries={u.entries.to_string()} data-bytes={u.bytes.to_string()}>
                            <td><Avatar author={author} size={24} />{ " " }{ name.clone() }{ if u.followed || author == props.me { "" } else { " (not followed)" } }</td>
                            <td>{ u.entries }</td>
                            <td>{ bytes(u.bytes) }</td>
                            <td>
                                if author != props.me {
                                    <button type="button" class="button danger small forget" aria-label={format!("Forget {name}'s feed")}
                                        onclick={send.reform(move |_: MouseEvent| Command::Forget(author))}>{ "Forget" }</button>
                                }
                            </td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        </section>
        <section class="card" aria-labelledby="people-title">
            <h2 id="people-title">{ "Muted and blocked" }</h2>
            <p class="muted">{ "Muted people are hidden on this device: timeline, threads and suggestions. Blocked people are hidden too, and this device does not serve them your posts. Both stay on this device and in its backup." }</p>
            if props.people.is_empty() {
                <p id="no-people" class="muted">{ "Nobody." }</p>
            } else {
                <ul class="people" id="people">
                    { for props.people.iter().map(|(person, stance)| {
                        let author = person.author;
                        let name = person.display_name();
                        let undo = match stance {
                            kith_store::Stance::Muted => "Unmute",
                            kith_store::Stance::Blocked => "Unblock",
                        };
                        html! {
                            <li data-author={author.to_hex()} data-stance={stance.word()}>
                                <Avatar author={author} size={24} />
                                <a href={crate::routes::Route::Profile(author).to_fragment()}>{ name.clone() }</a>
                                <span class="badge">{ stance.word() }</span>
                                <button type="button" class="button secondary small undo-stance"
                                    aria-label={format!("{undo} {name}")}
                                    onclick={send.reform(move |_: MouseEvent| Command::SetStance { author, stance: None })}>{ undo }</button>
                            </li>
                        }
                    }) }
                </ul>
            }
        </section>
        <section class="card" aria-labelledby="theme-title">
            <h2 id="theme-title">{ "Theme" }</h2>
            <fieldset class="row">
                <legend class="sr-only">{ "Theme" }</legend>
                { theme_radio(Theme::System, "Follow the system") }
                { theme_radio(Theme::Light, "Light") }
                { theme_radio(Theme::Dark, "Dark") }
            </fieldset>
        </section>
        </>
    }
}
