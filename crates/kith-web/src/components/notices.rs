//! Messages that come and go (toasts).

use yew::prelude::*;

use crate::state::Notice;

/// Props for [`Notices`].
#[derive(Properties, PartialEq)]
pub struct NoticesProps {
    /// What to show.
    pub notices: Vec<Notice>,
    /// Dismiss one.
    pub on_dismiss: Callback<u32>,
}

/// The notice stack, announced to screen readers.
#[function_component(Notices)]
pub fn notices(props: &NoticesProps) -> Html {
    html! {
        <div class="notices" aria-live="polite">
            { for props.notices.iter().map(|n| {
                let id = n.id;
                html! {
                    <div class={classes!("notice", n.error.then_some("error"))} role={if n.error { "alert" } else { "status" }}>
                        <span>{ &n.text }</span>
                        <button type="button" class="icon-button" aria-label="Dismiss"
                            onclick={props.on_dismiss.reform(move |_: MouseEvent| id)}>{ "×" }</button>
                    </div>
                }
            }) }
        </div>
    }
}
