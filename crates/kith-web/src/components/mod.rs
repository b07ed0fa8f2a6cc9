//! Plain components: data and callbacks in, HTML out. Components that act on the network
//! send a [`Command`](crate::runtime::Command) through [`use_send`], which reads the
//! [`Handle`](crate::runtime::Handle) from the context the app provides (tests provide their
//! own and read what was sent).

pub mod avatar;
pub mod compose;
pub mod discover;
pub mod messages;
pub mod nav;
pub mod notices;
pub mod notifications;
pub mod onboarding;
pub mod picture;
pub mod post;
pub mod profile;
pub mod qr;
pub mod settings;
pub mod status;
pub mod timeline;

use yew::prelude::*;

use crate::runtime::{Command, Handle};

/// A callback that sends a command to the runtime (or nowhere, outside a provider).
#[hook]
pub fn use_send() -> Callback<Command> {
    let handle = use_context::<Handle>();
    Callback::from(move |c: Command| {
        if let Some(h) = &handle {
            h.send(c);
        }
    })
}

/// The first characters of a fingerprint, for compact places.
pub fn short_fp(fp: &str) -> &str {
    &fp[..9.min(fp.len())]
}
