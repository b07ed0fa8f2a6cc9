//! Logging to the browser console: a small `tracing` subscriber.
//!
//! The app, kith-net and libp2p log through `tracing`. This prints each event at [`MAX_LEVEL`]
//! or above as one console line, `LEVEL target: message key=value …`, through
//! `console.error`, `warn`, `info` or `debug` by level (see [`crate::browser::console`]).
//! Spans are disabled: nothing here reads them, and a disabled span costs a callsite check.
//! It stands in for tracing-subscriber's `fmt` layer, which the bundle carried for the same
//! lines.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// The most verbose level logged (set DEBUG while debugging).
pub const MAX_LEVEL: Level = Level::INFO;

/// Makes the console subscriber the global one (once; later calls change nothing).
pub fn init() {
    let _ = tracing::subscriber::set_global_default(Console);
}

struct Console;

impl Subscriber for Console {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && *metadata.level() <= MAX_LEVEL
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(MAX_LEVEL))
    }

    // Never called: `enabled` turns every span off.
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        crate::browser::console(*event.metadata().level(), &line_of(event));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// `LEVEL target: message key=value …` for `event`.
fn line_of(event: &Event<'_>) -> String {
    let meta = event.metadata();
    let mut line = Line {
        text: format!("{} {}:", meta.level(), meta.target()),
    };
    event.record(&mut line);
    line.text
}

/// One event's console line, built from its fields.
struct Line {
    text: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.text, " {value}");
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, " {value:?}");
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// A subscriber that keeps the lines instead of printing them.
    struct Keep(std::sync::Mutex<Vec<String>>);

    impl Subscriber for Keep {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            Console.enabled(m)
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            if let Ok(mut v) = self.0.lock() {
                v.push(line_of(event));
            }
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[wasm_bindgen_test]
    fn one_line_per_event_at_info_and_above() {
        let keep = std::sync::Arc::new(Keep(std::sync::Mutex::new(Vec::new())));
        tracing::subscriber::with_default(keep.clone(), || {
            let peer = "12D3Koo";
            tracing::info!(target: "kith_net::agent", %peer, n = 3, "synced {} entries", 3);
            tracing::warn!(target: "kith", reason = "gone", "lost");
            tracing::debug!(target: "kith", "not shown");
            let _span = tracing::info_span!("ignored").entered();
            tracing::error!(target: "kith", "inside a span");
        });
        let lines = keep.0.lock().expect("lines").clone();
        assert_eq!(
            lines,
            vec![
                "INFO kith_net::agent: synced 3 entries peer=12D3Koo n=3".to_owned(),
                "WARN kith: lost reason=\"gone\"".to_owned(),
                "ERROR kith: inside a span".to_owned(),
            ]
        );
    }
}
