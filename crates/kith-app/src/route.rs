//! Screens and their addresses. The app routes on the URL's fragment (`#/discover`), so every
//! screen works from a bookmark, the back button, and the offline app shell alike, and a
//! follow link (`https://host/#kith://follow/<id>`) opens the app on that person's profile.

use kith_core::{AuthorId, FollowLink};

/// A screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    /// The home timeline.
    #[default]
    Home,
    /// Search, suggestions, paste a link.
    Discover,
    /// Someone's profile (mine too).
    Profile(AuthorId),
    /// Connection, peers, who holds my posts.
    Network,
    /// Backup, storage, theme.
    Settings,
    /// Replies, mentions, reactions and follows from anyone.
    Notifications,
    /// Direct messages: conversations and requests.
    Messages,
    /// One conversation.
    Conversation(AuthorId),
}

impl Route {
    /// Parses a URL fragment (with or without the leading `#`). Unknown fragments open home.
    pub fn parse(fragment: &str) -> Route {
        let f = fragment.trim_start_matches('#');
        if f.contains(kith_core::social::LINK_PREFIX) {
            return FollowLink::parse(f).map_or(Route::Home, |l| Route::Profile(l.author));
        }
        let path = f.trim_start_matches('/');
        let (head, rest) = path.split_once('/').unwrap_or((path, ""));
        match head {
            "discover" => Route::Discover,
            "network" => Route::Network,
            "settings" => Route::Settings,
            "notifications" => Route::Notifications,
            "messages" if rest.is_empty() => Route::Messages,
            "messages" => AuthorId::from_hex(rest).map_or(Route::Messages, Route::Conversation),
            "profile" => AuthorId::from_hex(rest).map_or(Route::Home, Route::Profile),
            _ => Route::Home,
        }
    }

    /// The fragment for this screen, with the `#`.
    pub fn to_fragment(self) -> String {
        match self {
            Route::Home => "#/".into(),
            Route::Discover => "#/discover".into(),
            Route::Network => "#/network".into(),
            Route::Settings => "#/settings".into(),
            Route::Notifications => "#/notifications".into(),
            Route::Profile(a) => format!("#/profile/{}", a.to_hex()),
            Route::Messages => "#/messages".into(),
            Route::Conversation(a) => format!("#/messages/{}", a.to_hex()),
        }
    }
}

/// What the person typed or pasted into "follow a link or id": a follow link, a web link
/// holding one, or a bare 64-digit id.
pub fn parse_person(text: &str) -> Result<AuthorId, String> {
    let text = text.trim();
    if let Some(a) = AuthorId::from_hex(text) {
        return Ok(a);
    }
    if let Route::Profile(a) = Route::parse(text.split_once('#').map_or(text, |(_, f)| f)) {
        return Ok(a);
    }
    FollowLink::parse(text)
        .map(|l| l.author)
        .map_err(|e| format!("{e}. Paste someone's follow link or their 64-character id."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_round_trip_and_links_open_profiles() {
        let a = AuthorId([7; 32]);
        for r in [
            Route::Home,
            Route::Discover,
            Route::Network,
            Route::Settings,
            Route::Notifications,
            Route::Profile(a),
            Route::Messages,
            Route::Conversation(a),
        ] {
            assert_eq!(Route::parse(&r.to_fragment()), r);
        }
        let link = format!("#kith://follow/{}", a.to_hex());
        assert_eq!(Route::parse(&link), Route::Profile(a));
        assert_eq!(Route::parse("#/profile/zz"), Route::Home);
        assert_eq!(Route::parse(""), Route::Home);
        assert_eq!(Route::parse("#/messages/zz"), Route::Messages);
        assert_eq!(parse_person(&a.to_hex()), Ok(a));
        assert_eq!(
            parse_person(&format!("http://127.0.0.1:8080/{link}")),
            Ok(a)
        );
        assert!(
            parse_person("hello")
                .expect_err("not a person")
                .contains("follow link")
        );
    }
}
