//! A person's avatar: their picture when their profile names one, else an identicon.

use kith_app::view::ImageView;
use kith_core::AuthorId;
use yew::prelude::*;

use super::picture::Picture;
use crate::identicon::identicon;

/// Props for [`Avatar`].
#[derive(Properties, PartialEq)]
pub struct AvatarProps {
    /// Whose.
    pub author: AuthorId,
    /// Size in CSS pixels.
    #[prop_or(40)]
    pub size: u32,
    /// Their picture, when their profile held here names one.
    #[prop_or_default]
    pub image: Option<ImageView>,
}

/// A person's identicon (decorative: the name next to it is what screen readers read).
#[function_component(Avatar)]
pub fn avatar(props: &AvatarProps) -> Html {
    if let Some(view) = props.image {
        let size = match props.size {
            0..=24 => "avatar-24",
            25..=32 => "avatar-32",
            33..=40 => "avatar-40",
            _ => "avatar-72",
        };
        return html! {
            <Picture view={view} alt="" class={classes!("avatar", "avatar-picture", size)} />
        };
    }
    let icon = identicon(&props.author);
    let fg = format!("hsl({} 65% 45%)", icon.hue);
    let bg = format!("hsl({} 60% 92%)", icon.hue);
    html! {
        <svg class="avatar" width={props.size.to_string()} height={props.size.to_string()}
            viewBox="0 0 5 5" aria-hidden="true" shape-rendering="crispEdges">
            <rect width="5" height="5" fill={bg} />
            { for icon.cells.iter().map(|(x, y)| html! {
                <rect x={x.to_string()} y={y.to_string()} width="1" height="1" fill={fg.clone()} />
            }) }
        </svg>
    }
}
