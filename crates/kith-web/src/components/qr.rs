//! A QR code of a follow link, drawn as SVG.

use yew::prelude::*;

/// Props for [`Qr`].
#[derive(Properties, PartialEq)]
pub struct QrProps {
    /// What the code holds.
    pub text: String,
    /// The accessible description.
    pub label: String,
}

/// A QR code, or nothing if the text is too long for one.
#[function_component(Qr)]
pub fn qr(props: &QrProps) -> Html {
    let Ok(code) = qrcode::QrCode::new(props.text.as_bytes()) else {
        return html! {};
    };
    let w = code.width();
    let colors = code.to_colors();
    let size = w + 8;
    let mut path = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            path.push_str(&format!("M{} {}h1v1h-1z", i % w + 4, i / w + 4));
        }
    }
    html! {
        <svg class="qr" role="img" aria-label={props.label.clone()} viewBox={format!("0 0 {size} {size}")}
            shape-rendering="crispEdges">
            <rect width={size.to_string()} height={size.to_string()} fill="#fff" />
            <path d={path} fill="#000" />
        </svg>
    }
}
