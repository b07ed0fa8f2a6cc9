//! Post text as the screen shows it: plain text, with web addresses made into safe links.
//!
//! Nothing here produces HTML. The UI renders [`Segment::Text`] as a text node and
//! [`Segment::Link`] as an anchor whose `href` is an `http:` or `https:` address and nothing
//! else, so `<script>`, `<img onerror>` and `javascript:` stay inert text.

/// A piece of a post's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Shown as is.
    Text(String),
    /// A web address.
    Link(String),
}

const SCHEMES: [&str; 2] = ["https://", "http://"];
/// Characters that end a link when they end it (sentence punctuation, closing brackets).
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '\'', '"'];

fn link_end(s: &str) -> usize {
    let end = s
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`'))
        .unwrap_or(s.len());
    s[..end].trim_end_matches(TRAILING).len()
}

/// Splits `text` into plain text and `http(s)` links.
pub fn segments(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let hit = SCHEMES
            .iter()
            .filter_map(|s| {
                rest.char_indices()
                    .find(|(i, _)| {
                        rest[*i..]
                            .get(..s.len())
                            .is_some_and(|p| p.eq_ignore_ascii_case(s))
                    })
                    .map(|(i, _)| (i, s.len()))
            })
            .min();
        let Some((at, scheme_len)) = hit else {
            plain.push_str(rest);
            break;
        };
        let len = link_end(&rest[at..]);
        if len <= scheme_len {
            // A bare scheme: text.
            plain.push_str(&rest[..at + scheme_len]);
            rest = &rest[at + scheme_len..];
            continue;
        }
        plain.push_str(&rest[..at]);
        if !plain.is_empty() {
            out.push(Segment::Text(std::mem::take(&mut plain)));
        }
        out.push(Segment::Link(rest[at..at + len].to_owned()));
        rest = &rest[at + len..];
    }
    if !plain.is_empty() {
        out.push(Segment::Text(plain));
    }
    out
}

/// How many characters `text` counts against the post limit (Unicode scalar values, as
/// kith-core counts them).
pub fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// "3 min ago" style age of `ts_ms` at `now_ms`.
pub fn ago(ts_ms: u64, now_ms: u64) -> String {
    let s = now_ms.saturating_sub(ts_ms) / 1000;
    match s {
        0..=9 => "just now".into(),
        10..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// "1.2 MB" style size.
pub fn bytes(n: u64) -> String {
    match n {
        0..=999 => format!("{n} B"),
        1_000..=999_999 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn only_web_addresses_become_links() {
        let s =
            segments("see https://example.org/a?b=1. and javascript:alert(1) <script>x</script>");
        assert_eq!(
            s,
            vec![
                Segment::Text("see ".into()),
                Segment::Link("https://example.org/a?b=1".into()),
                Segment::Text(". and javascript:alert(1) <script>x</script>".into()),
            ]
        );
        assert_eq!(
            segments("http:// alone"),
            vec![Segment::Text("http:// alone".into())]
        );
        assert_eq!(
            segments("(HTTP://x.y)"),
            vec![
                Segment::Text("(".into()),
                Segment::Link("HTTP://x.y".into()),
                Segment::Text(")".into()),
            ]
        );
        assert_eq!(segments(""), vec![]);
        assert_eq!(char_count("héllo 👋"), 7);
        assert_eq!(ago(0, 90_000), "1 min ago");
        assert_eq!(bytes(1_500), "1.5 kB");
    }
}
