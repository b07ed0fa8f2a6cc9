//! Writing a post or a reply, with a live character count against the limit, and up to four
//! pictures, each made ready in the browser before it is attached (`browser::prepare_image`:
//! resized, encoded anew, metadata gone).

use kith_core::entry::MAX_POST_CHARS;
use kith_core::image::{MAX_IMAGES, POST_IMAGE_SIDE};
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::browser;
use crate::text::char_count;

/// What the person posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The text.
    pub text: String,
    /// The pictures, ready to post.
    pub images: Vec<Vec<u8>>,
}

/// A picture attached: its bytes, and an object URL for its preview.
#[derive(Clone, PartialEq)]
struct Attached {
    bytes: Vec<u8>,
    url: String,
}

/// Props for [`Compose`].
#[derive(Properties, PartialEq)]
pub struct ComposeProps {
    /// Called with the text and pictures when the person posts.
    pub on_post: Callback<Draft>,
    /// The field's accessible label.
    #[prop_or(AttrValue::Static("Write a post"))]
    pub label: AttrValue,
    /// Placeholder text.
    #[prop_or(AttrValue::Static("What's happening?"))]
    pub placeholder: AttrValue,
    /// The button's text.
    #[prop_or(AttrValue::Static("Post"))]
    pub button: AttrValue,
    /// The textarea's id.
    #[prop_or_default]
    pub id: Option<AttrValue>,
    /// Focus the field when shown.
    #[prop_or_default]
    pub autofocus: bool,
}

/// A text box, a counter (`12 / 2000`, red past the limit) and a Post button that is disabled
/// while the text is empty or too long. Ctrl+Enter (⌘+Enter) posts.
#[function_component(Compose)]
pub fn compose(props: &ComposeProps) -> Html {
    let text = use_state(String::new);
    let attached = use_state(Vec::<Attached>::new);
    let preparing = use_state(|| false);
    let problem = use_state(|| None::<String>);
    let area = use_node_ref();
    {
        let area = area.clone();
        use_effect_with(props.autofocus, move |focus| {
            if *focus && let Some(a) = area.cast::<HtmlTextAreaElement>() {
                let _ = a.focus();
            }
        });
    }
    let n = char_count(&text);
    let over = n > MAX_POST_CHARS;
    let empty = text.trim().is_empty() && attached.is_empty();
    let submit = {
        let text = text.clone();
        let attached = attached.clone();
        let on_post = props.on_post.clone();
        let preparing = preparing.clone();
        Callback::from(move |()| {
            let t = (*text).clone();
            if (!t.trim().is_empty() || !attached.is_empty())
                && char_count(&t) <= MAX_POST_CHARS
                && !*preparing
            {
                for a in attached.iter() {
                    browser::revoke_url(&a.url);
                }
                on_post.emit(Draft {
                    text: t,
                    images: attached.iter().map(|a| a.bytes.clone()).collect(),
                });
                text.set(String::new());
                attached.set(Vec::new());
            }
        })
    };
    let on_files = {
        let attached = attached.clone();
        let preparing = preparing.clone();
        let problem = problem.clone();
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<HtmlInputElement>() else {
                return;
            };
            let room = MAX_IMAGES.saturating_sub(attached.len());
            let files = browser::chosen_files(&input, room);
            input.set_value("");
            if files.is_empty() {
                problem.set(Some(format!("A post has at most {MAX_IMAGES} pictures.")));
                return;
            }
            let (attached, preparing, problem) =
                (attached.clone(), preparing.clone(), problem.clone());
            preparing.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let mut now = (*attached).clone();
                let mut errors = Vec::new();
                for f in files {
                    match browser::prepare_image(&f, POST_IMAGE_SIDE).await {
                        Ok(bytes) => match browser::object_url(&bytes, "image/webp") {
                            Ok(url) => now.push(Attached { bytes, url }),
                            Err(e) => errors.push(e),
                        },
                        Err(e) => errors.push(e),
                    }
                }
                attached.set(now);
                problem.set((!errors.is_empty()).then(|| errors.join(" ")));
                preparing.set(false);
            });
        })
    };
    // While pictures are being prepared the list is not changed by hand: the preparing task
    // adds to the list as it was when the files were chosen.
    let busy = *preparing;
    let previews = attached.iter().enumerate().map(|(i, a)| {
        let attached = attached.clone();
        html! {
            <span class="attached">
                <img src={a.url.clone()} alt={format!("Picture {}", i + 1)} />
                <button type="button" class="link-button remove-picture" aria-label={format!("Remove picture {}", i + 1)} disabled={busy}
                    onclick={Callback::from(move |_: MouseEvent| {
                        let mut now = (*attached).clone();
                        let gone = now.remove(i);
                        browser::revoke_url(&gone.url);
                        attached.set(now);
                    })}>{ "✕" }</button>
            </span>
        }
    });
    let oninput = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(a) = e.target_dyn_into::<HtmlTextAreaElement>() {
                text.set(a.value());
            }
        })
    };
    let onkeydown = {
        let submit = submit.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" && (e.ctrl_key() || e.meta_key()) {
                e.prevent_default();
                submit.emit(());
            }
        })
    };
    let onsubmit = submit.reform(|e: SubmitEvent| e.prevent_default());
    let count_id = format!("{}-count", props.id.as_deref().unwrap_or("compose"));
    html! {
        <form class="compose" {onsubmit}>
            <textarea ref={area} id={props.id.clone()} class="compose-text" rows="3"
                aria-label={props.label.clone()} aria-describedby={count_id.clone()}
                placeholder={props.placeholder.clone()} value={(*text).clone()} {oninput} {onkeydown} />
            if !attached.is_empty() {
                <div class="attachments">{ for previews }</div>
            }
            if let Some(p) = &*problem {
                <p class="error small" role="alert">{ p }</p>
            }
            <div class="compose-foot">
                <label class="button secondary small add-pictures">
                    { if *preparing { "Preparing…" } else { "Add pictures" } }
                    <input type="file" class="sr-only picture-input" accept="image/jpeg,image/png,image/webp,image/heic,image/avif"
                        multiple=true disabled={*preparing || attached.len() >= MAX_IMAGES} onchange={on_files} />
                </label>
                <span id={count_id} class={classes!("count", over.then_some("over"))} aria-live="polite">
                    { format!("{n} / {MAX_POST_CHARS}") }
                </span>
                <button type="submit" class="button" disabled={empty || over || *preparing}>{ props.button.clone() }</button>
            </div>
        </form>
    }
}
