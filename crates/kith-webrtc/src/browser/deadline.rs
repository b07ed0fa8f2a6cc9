//! A timer that stays expired once it has fired.
//!
//! In the browser `futures_timer::Delay` is gloo's `TimeoutFuture`, a oneshot channel that the
//! page's `setTimeout` completes. Polled again after it has returned `Ready`, it finds the
//! channel empty and throws (`unwrap_throw` on `Canceled`). The exception unwinds through the
//! polling task without running its destructors, so that task's cell stays borrowed and its
//! next wake panics ("RefCell already borrowed"), taking the page's node down. Natively a fired
//! `Delay` simply stays ready, so code that polls a deadline on every call (a muxer's `check`,
//! a stream's `poll_close`) works natively and breaks in the browser. [`Deadline`] remembers
//! that it fired and never polls the timer again.

use std::task::Context;
use std::time::Duration;

use futures::FutureExt as _;
use futures_timer::Delay;
use send_wrapper::SendWrapper;

/// A one-shot deadline that may be polled any number of times, before and after it passes.
pub(crate) enum Deadline {
    Running(SendWrapper<Delay>),
    Passed,
}

impl Deadline {
    pub(crate) fn after(d: Duration) -> Self {
        Self::Running(SendWrapper::new(Delay::new(d)))
    }

    /// Whether the deadline has passed; registers `cx` for the moment it does if not.
    pub(crate) fn poll_passed(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Self::Passed => true,
            Self::Running(timer) => {
                if timer.poll_unpin(cx).is_ready() {
                    *self = Self::Passed;
                    true
                } else {
                    false
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::Poll;

    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    use super::*;

    wasm_bindgen_test_configure!(run_in_browser);

    /// The page must survive polling a passed deadline again: with a bare `Delay` the second
    /// poll throws `Canceled` and this test dies with it.
    #[wasm_bindgen_test]
    async fn a_passed_deadline_stays_passed_however_often_it_is_polled() {
        let mut deadline = Deadline::after(Duration::from_millis(20));
        let mut first = true;
        poll_fn(|cx| {
            let passed = deadline.poll_passed(cx);
            if first {
                assert!(!passed, "a 20 ms deadline passed at once");
                first = false;
            }
            if passed {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        let again = poll_fn(|cx| Poll::Ready((0..3).all(|_| deadline.poll_passed(cx)))).await;
        assert!(again, "a passed deadline went back to running");
    }
}
