//! An image of a post or a profile: a placeholder of its shape until its bytes are here, then
//! the image from its object URL.

use kith_app::view::ImageView;
use yew::prelude::*;

use super::use_send;
use crate::browser;
use crate::runtime::Command;
use crate::state::{Picture as Shown, Pictures};

/// Props for [`Picture`].
#[derive(Properties, PartialEq)]
pub struct PictureProps {
    /// Which image.
    pub view: ImageView,
    /// The text for screen readers.
    pub alt: AttrValue,
    /// Extra classes.
    #[prop_or_default]
    pub class: Classes,
}

/// The image, asked for once when its placeholder first comes near the viewport
/// ([`Command::LoadImage`], through `browser::when_near_view`): the app reads it from the
/// store, or fetches it from the author or a holder of the feed. Until then a placeholder
/// of the image's shape (an SVG with its proportions, as the CSP allows no inline styles), and
/// if it cannot be had, why, with a way to try again.
#[function_component(Picture)]
pub fn picture(props: &PictureProps) -> Html {
    let send = use_send();
    let pictures = use_context::<Pictures>().unwrap_or_default();
    let view = props.view;
    let hash = view.hash();
    let state = pictures.get(&hash).cloned();
    let spot = use_node_ref();
    {
        let send = send.clone();
        let wanted = state.is_none();
        let spot = spot.clone();
        use_effect_with((view, wanted), move |(view, wanted)| {
            let view = *view;
            let mut watch = None;
            if *wanted {
                let near = {
                    let send = send.clone();
                    move || send.emit(Command::LoadImage(view))
                };
                watch = spot
                    .cast::<web_sys::Element>()
                    .and_then(|el| browser::when_near_view(&el, near));
                // Without a way to watch, the image loads at once.
                if watch.is_none() {
                    send.emit(Command::LoadImage(view));
                }
            }
            move || drop(watch)
        });
    }
    let (w, h) = (view.image.width, view.image.height);
    let hex = hash.to_hex();
    match state {
        Some(Shown::Url(url)) => html! {
            <img class={classes!("picture", props.class.clone())} src={url} alt={props.alt.clone()}
                width={w.to_string()} height={h.to_string()} decoding="async" data-hash={hex} />
        },
        Some(Shown::Unavailable(reason)) => html! {
            <span class={classes!("picture-wait", "unavailable", props.class.clone())} data-hash={hex}>
                <svg class="picture-shape" viewBox={format!("0 0 {w} {h}")} aria-hidden="true" />
                <span class="picture-note small">
                    { format!("Image unavailable: {reason}. ") }
                    <button type="button" class="link-button retry-image"
                        onclick={Callback::from(move |_: MouseEvent| send.emit(Command::LoadImage(view)))}>
                        { "Try again" }
                    </button>
                </span>
            </span>
        },
        None => html! {
            <span ref={spot} class={classes!("picture-wait", props.class.clone())} data-hash={hex}
                role="img" aria-label={format!("{} (loading)", props.alt)} aria-busy="true">
                <svg class="picture-shape" viewBox={format!("0 0 {w} {h}")} aria-hidden="true" />
            </span>
        },
    }
}
