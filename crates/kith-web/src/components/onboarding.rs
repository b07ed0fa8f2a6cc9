//! The welcome screen: create an identity (display name, handle, optional bio) or restore one.

use kith_core::entry::{MAX_BIO_CHARS, MAX_NAME_CHARS};
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::settings::RestoreForm;

/// Props for [`Onboarding`].
#[derive(Properties, PartialEq)]
pub struct OnboardingProps {
    /// Working on it.
    pub busy: bool,
    /// The last attempt's error.
    pub error: Option<String>,
    /// Create: (name, handle, bio).
    pub on_create: Callback<(String, String, String)>,
    /// Restore: (file, passphrase).
    pub on_restore: Callback<(Vec<u8>, String)>,
}

/// A handle suggested from a display name: lower case letters, digits and `_`.
pub fn suggest_handle(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                Some(c)
            } else if c == ' ' || c == '_' || c == '-' || c == '.' {
                Some('_')
            } else {
                None
            }
        })
        .take(kith_core::name::MAX_HANDLE)
        .collect::<String>()
        .trim_matches('_')
        .to_owned()
}

/// The welcome screen.
#[function_component(Onboarding)]
pub fn onboarding(props: &OnboardingProps) -> Html {
    let name = use_state(String::new);
    let handle = use_state(|| None::<String>);
    let bio = use_node_ref();
    let shown_handle = (*handle).clone().unwrap_or_else(|| suggest_handle(&name));
    let onsubmit = {
        let (name, bio, on_create) = (name.clone(), bio.clone(), props.on_create.clone());
        let h = shown_handle.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let b = bio
                .cast::<HtmlTextAreaElement>()
                .map(|t| t.value())
                .unwrap_or_default();
            on_create.emit(((*name).clone(), h.clone(), b));
        })
    };
    html! {
        <main class="welcome">
            <section class="card" aria-labelledby="welcome-title">
                <h1 id="welcome-title">{ "Welcome to Kith" }</h1>
                <p>{ "Kith is a social network that runs in this tab. Your key and your posts live in this browser; the people who follow you keep copies and pass them on. No server holds them." }</p>
                <form class="stack" id="onboarding" {onsubmit}>
                    <label for="name">{ "Display name" }</label>
                    <input id="name" type="text" required=true maxlength={MAX_NAME_CHARS.to_string()} autocomplete="nickname"
                        value={(*name).clone()}
                        oninput={let name = name.clone(); Callback::from(move |e: InputEvent| {
                            if let Some(i) = e.target_dyn_into::<HtmlInputElement>() { name.set(i.value()); }
                        })} />
                    <label for="handle">{ "Handle" }</label>
                    <div class="row handle-row">
                        <span aria-hidden="true">{ "@" }</span>
                        <input id="handle" type="text" required=true maxlength="32" autocapitalize="none" spellcheck="false"
                            aria-describedby="handle-help" value={shown_handle.clone()}
                            oninput={let handle = handle.clone(); Callback::from(move |e: InputEvent| {
                                if let Some(i) = e.target_dyn_into::<HtmlInputElement>() { handle.set(Some(i.value())); }
                            })} />
                    </div>
                    <p id="handle-help" class="muted small">{ "How people search for you. Handles are not unique, so Kith always shows a fingerprint next to them." }</p>
                    <label for="bio">{ "Bio (optional)" }</label>
                    <textarea id="bio" ref={bio} rows="3" maxlength={MAX_BIO_CHARS.to_string()} />
                    if let Some(e) = &props.error { <p class="error" role="alert" id="onboarding-error">{ e }</p> }
                    <button id="create" type="submit" class="button" disabled={props.busy}>
                        { if props.busy { "Creating…" } else { "Create my identity" } }
                    </button>
                </form>
            </section>
            <section class="card" aria-labelledby="restore-title">
                <h2 id="restore-title">{ "Already on Kith?" }</h2>
                <p class="muted">{ "Restore your identity and posts from a backup file." }</p>
                <RestoreForm on_restore={props.on_restore.clone()} busy={props.busy} />
            </section>
        </main>
    }
}
