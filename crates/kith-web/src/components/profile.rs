//! A profile: name, bio, identicon, fingerprint, posts, who they follow, follow/unfollow;
//! for me also my follow link, its QR code and the profile editor.

use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::avatar::Avatar;
use super::post::PostCard;
use super::qr::Qr;
use super::use_send;
use crate::browser;
use crate::routes::Route;
use crate::runtime::Command;
use crate::state::{Me, ProfileView};
use crate::text::ago;

/// Props for [`ProfilePage`].
#[derive(Properties, PartialEq)]
pub struct ProfileProps {
    /// The profile (None while it loads).
    pub profile: Option<ProfileView>,
    /// Me.
    pub me: Me,
    /// Whether the author is connected right now.
    pub online: bool,
    /// Now (ms since the epoch).
    pub now_ms: u64,
}

/// Someone's profile screen.
#[function_component(ProfilePage)]
pub fn profile_page(props: &ProfileProps) -> Html {
    let send = use_send();
    let Some(p) = &props.profile else {
        return html! { <section class="card"><p class="muted">{ "Loading profile…" }</p></section> };
    };
    let author = p.person.author;
    let message_button = if p.is_me {
        html! {}
    } else {
        html! { <a id="message" class="button secondary" href={Route::Conversation(author).to_fragment()}>{ "Message" }</a> }
    };
    let follow_button = if p.is_me {
        html! {}
    } else if p.followed {
        html! { <button id="unfollow" type="button" class="button secondary"
        onclick={send.reform(move |_: MouseEvent| Command::Unfollow(author))}>{ "Unfollow" }</button> }
    } else {
        html! { <button id="follow" type="button" class="button"
        onclick={send.reform(move |_: MouseEvent| Command::Follow(author))}>{ "Follow" }</button> }
    };
    let stance = p.stance;
    let stance_buttons = if p.is_me {
        html! {}
    } else {
        use kith_store::Stance;
        let button = |id: &'static str, label: &'static str, to: Option<Stance>| {
            html! { <button id={id} type="button" class="button secondary small"
            onclick={send.reform(move |_: MouseEvent| Command::SetStance { author, stance: to })}>{ label }</button> }
        };
        html! {
            <div class="row stance">
                { match stance {
                    Some(Stance::Muted) => button("unmute", "Unmute", None),
                    Some(Stance::Blocked) => html! {},
                    None => button("mute", "Mute", Some(Stance::Muted)),
                } }
                { match stance {
                    Some(Stance::Blocked) => button("unblock", "Unblock", None),
                    _ => button("block", "Block", Some(Stance::Blocked)),
                } }
            </div>
        }
    };
    let sync_line = if p.is_me {
        html! {}
    } else if props.online {
        html! { <p class="sync-line" id="last-synced"><span class="badge online">{ "online" }</span>{ " Receiving posts live." }</p> }
    } else {
        let when = p
            .last_synced_ms
            .map(|t| format!("last synced {}", ago(t, props.now_ms)))
            .unwrap_or_else(|| "not synced yet".into());
        let from = p
            .synced_from
            .as_ref()
            .map(|f| format!(", served by {f}"))
            .unwrap_or_default();
        html! { <p class="sync-line" id="last-synced"><span class="badge">{ "author offline" }</span>{ format!(" {when}{from}.") }</p> }
    };
    html! {
        <>
        <section class="card profile" aria-labelledby="profile-name" data-author={author.to_hex()}>
            <div class="profile-head">
                <Avatar author={author} image={p.person.avatar} size={72} />
                <div class="who">
                    <h2 id="profile-name">{ p.person.display_name() }</h2>
                    if let Some(h) = &p.person.handle {
                        <p class="handle">{ format!("@{h}") }</p>
                    }
                    <p class="fp">{ "Fingerprint " }<code id="profile-fingerprint">{ &p.person.fingerprint }</code></p>
                </div>
                { message_button }
                { follow_button }
            </div>
            if !p.person.bio.is_empty() {
                <p class="bio">{ &p.person.bio }</p>
            }
            { sync_line }
            if let Some(s) = stance {
                <p id="stance-note" class="notice-line" data-stance={s.word()}>{ match s {
                    kith_store::Stance::Muted => "You muted this person: their posts and replies are hidden everywhere else on this device.",
                    kith_store::Stance::Blocked => "You blocked this person: their posts and replies are hidden, and this device does not serve them your posts.",
                } }</p>
            }
            { stance_buttons }
            if p.forked {
                <p id="forked" class="error" role="alert">{ "Warning: this author signed two different versions of their feed. Kith kept the first and the evidence." }</p>
            }
            if p.is_me {
                <MyLink me={props.me.clone()} />
                <EditProfile name={p.person.name.clone()} bio={p.person.bio.clone()} />
            }
        </section>
        if !p.follows.is_empty() {
            <section class="card" aria-labelledby="follows-title">
                <h3 id="follows-title">{ format!("Follows {}", p.follows.len()) }</h3>
                <ul class="people" id="follows">
                    { for p.follows.iter().map(|f| html! {
                        <li>
                            <Avatar author={f.author} size={28} />
                            <a href={Route::Profile(f.author).to_fragment()}>{ f.display_name() }</a>
                            <code class="fp">{ super::short_fp(&f.fingerprint) }</code>
                        </li>
                    }) }
                </ul>
            </section>
        }
        if p.posts.is_empty() {
            <div class="card empty"><p>{
                if p.followed || p.is_me { "No posts yet." } else { "Follow to fetch their posts from them or their followers." }
            }</p></div>
        }
        // Only keyed children in this list, so Yew moves cards instead of rebuilding them.
        <section class="posts" id="profile-posts" aria-label="Posts">
            { for p.posts.iter().map(|t| html! {
                <PostCard key={format!("{}:{}", t.post.id.author, t.post.id.seq)} thread={t.clone()} now_ms={props.now_ms} />
            }) }
        </section>
        </>
    }
}

#[derive(Properties, PartialEq)]
struct MyLinkProps {
    me: Me,
}

#[function_component(MyLink)]
fn my_link(props: &MyLinkProps) -> Html {
    let link = props.me.web_link.clone();
    let copied = use_state(|| false);
    let onclick = {
        let link = link.clone();
        let copied = copied.clone();
        Callback::from(move |_: MouseEvent| {
            browser::copy(&link);
            copied.set(true);
        })
    };
    html! {
        <div class="my-link">
            <h3>{ "Your follow link" }</h3>
            <p class="muted">{ "Anyone who opens it lands on your profile with a Follow button." }</p>
            <div class="row">
                <input id="my-link" type="text" readonly=true value={link.clone()} aria-label="Your follow link" />
                <button type="button" class="button secondary" {onclick}>{ if *copied { "Copied" } else { "Copy" } }</button>
            </div>
            <Qr text={link} label="QR code of your follow link" />
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct EditProps {
    name: String,
    bio: String,
}

#[function_component(EditProfile)]
fn edit_profile(props: &EditProps) -> Html {
    let send = use_send();
    let name = use_node_ref();
    let bio = use_node_ref();
    // A new picture, made ready in the browser (resized to an avatar, encoded anew).
    let avatar = use_state(|| None::<Result<Vec<u8>, String>>);
    let preparing = use_state(|| false);
    let on_avatar = {
        let (avatar, preparing) = (avatar.clone(), preparing.clone());
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<HtmlInputElement>() else {
                return;
            };
            let Some(file) = browser::chosen_files(&input, 1).pop() else {
                return;
            };
            let (avatar, preparing) = (avatar.clone(), preparing.clone());
            preparing.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let ready = browser::prepare_image(&file, kith_core::image::AVATAR_SIDE).await;
                avatar.set(Some(ready));
                preparing.set(false);
            });
        })
    };
    let onsubmit = {
        let (name, bio, avatar) = (name.clone(), bio.clone(), avatar.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let n = name
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            let b = bio
                .cast::<HtmlTextAreaElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            let picture = match &*avatar {
                Some(Ok(bytes)) => Some(bytes.clone()),
                _ => None,
            };
            send.emit(Command::UpdateProfile {
                name: n,
                bio: b,
                avatar: picture,
            });
            avatar.set(None);
        })
    };
    html! {
        <details class="edit-profile">
            <summary>{ "Edit profile" }</summary>
            <form {onsubmit}>
                <label for="edit-name">{ "Display name" }</label>
                <input id="edit-name" ref={name} type="text" maxlength="64" value={props.name.clone()} />
                <label for="edit-bio">{ "Bio" }</label>
                <textarea id="edit-bio" ref={bio} maxlength="500" rows="3" value={props.bio.clone()} />
                <label for="edit-avatar">{ "Picture" }</label>
                <input id="edit-avatar" type="file" accept="image/jpeg,image/png,image/webp,image/heic,image/avif"
                    onchange={on_avatar} />
                if let Some(Err(e)) = &*avatar {
                    <p class="error small" role="alert">{ e }</p>
                }
                <button type="submit" class="button" disabled={*preparing}>
                    { if *preparing { "Preparing the picture…" } else { "Save" } }
                </button>
            </form>
        </details>
    }
}
