//! How components reach the app: a [`Handle`] in a Yew context sends [`Command`]s to the
//! runtime, which reads them one at a time.

use futures::channel::mpsc;
use kith_app::Command;

/// The handle components use to send commands, provided through a Yew context.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
}

impl PartialEq for Handle {
    fn eq(&self, other: &Self) -> bool {
        self.tx.same_receiver(&other.tx)
    }
}

impl Handle {
    /// A handle and the receiving end the runtime (or a test) reads.
    pub fn new() -> (Handle, mpsc::UnboundedReceiver<Command>) {
        let (tx, rx) = mpsc::unbounded();
        (Handle { tx }, rx)
    }

    /// Sends a command. The queue holds only the person's own clicks.
    pub fn send(&self, command: Command) {
        let _ = self.tx.unbounded_send(command);
    }
}
