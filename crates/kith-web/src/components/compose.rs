//! Writing a post or a reply, with a live character count against the limit.

use kith_core::entry::MAX_POST_CHARS;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::text::char_count;

/// Props for [`Compose`].
#[derive(Properties, PartialEq)]
pub struct ComposeProps {
    /// Called with the text when the person posts.
    pub on_post: Callback<String>,
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
    let empty = text.trim().is_empty();
    let submit = {
        let text = text.clone();
        let on_post = props.on_post.clone();
        Callback::from(move |()| {
            let t = (*text).clone();
            if !t.trim().is_empty() && char_count(&t) <= MAX_POST_CHARS {
                on_post.emit(t);
                text.set(String::new());
            }
        })
    };
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
            <div class="compose-foot">
                <span id={count_id} class={classes!("count", over.then_some("over"))} aria-live="polite">
                    { format!("{n} / {MAX_POST_CHARS}") }
                </span>
                <button type="submit" class="button" disabled={empty || over}>{ props.button.clone() }</button>
            </div>
        </form>
    }
}
