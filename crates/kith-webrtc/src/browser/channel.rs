//! A data channel as a libp2p stream: the browser's events feed [`StreamState`], and
//! [`Stream`] reads and writes through it.
//!
//! Handlers are attached the moment the channel exists (messages that arrive before anyone
//! reads wait in the bounded buffer) and detached before their closures are dropped, so the
//! browser never calls a dropped closure.

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::{AsyncRead, AsyncWrite};
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::Closure;
use web_sys::{Event, MessageEvent, RtcDataChannel, RtcDataChannelState, RtcDataChannelType};

use super::deadline::Deadline;
use crate::stream::{Read, StreamState};

/// Writes wait while the browser holds more than this for the channel.
const HIGH_WATER: u32 = 1024 * 1024;
/// … and resume when it falls to this.
const LOW_WATER: u32 = 256 * 1024;

#[derive(Default)]
struct Wakers {
    read: Option<Waker>,
    write: Option<Waker>,
}

impl Wakers {
    fn wake_all(&mut self) {
        if let Some(w) = self.read.take() {
            w.wake();
        }
        if let Some(w) = self.write.take() {
            w.wake();
        }
    }
}

struct Shared {
    state: StreamState,
    opened: bool,
    closed: bool,
    failure: Option<String>,
    wakers: Wakers,
}

type Handler<T> = Closure<dyn FnMut(T)>;

/// One data channel with its handlers; see the module docs.
pub(crate) struct Channel {
    dc: RtcDataChannel,
    shared: Rc<RefCell<Shared>>,
    /// The connection's count of live inbound streams, if this is one.
    live: Option<Rc<Cell<usize>>>,
    _on_open: Handler<Event>,
    _on_message: Handler<MessageEvent>,
    _on_close: Handler<Event>,
    _on_low: Handler<Event>,
}

fn send_all(dc: &RtcDataChannel, state: &mut StreamState) {
    while let Some(msg) = state.next_outgoing() {
        if let Err(e) = dc.send_with_u8_array(&msg) {
            tracing::debug!("control message not sent: {e:?}");
        }
    }
}

impl Channel {
    /// Wraps `dc`, attaching its handlers at once.
    pub(crate) fn new(
        dc: RtcDataChannel,
        max_buffered: usize,
        live: Option<Rc<Cell<usize>>>,
    ) -> Self {
        dc.set_binary_type(RtcDataChannelType::Arraybuffer);
        dc.set_buffered_amount_low_threshold(LOW_WATER);
        let shared = Rc::new(RefCell::new(Shared {
            state: StreamState::new(max_buffered),
            opened: dc.ready_state() == RtcDataChannelState::Open,
            closed: matches!(
                dc.ready_state(),
                RtcDataChannelState::Closing | RtcDataChannelState::Closed
            ),
            failure: None,
            wakers: Wakers::default(),
        }));
        let on_open = Closure::<dyn FnMut(Event)>::new({
            let shared = shared.clone();
            move |_: Event| {
                let mut s = shared.borrow_mut();
                s.opened = true;
                s.wakers.wake_all();
            }
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let shared = shared.clone();
            let dc = dc.clone();
            move |ev: MessageEvent| {
                let bytes = js_sys::Uint8Array::new(&ev.data()).to_vec();
                let mut s = shared.borrow_mut();
                if let Err(violation) = s.state.receive(&bytes) {
                    tracing::debug!("resetting a stream: {violation}");
                    s.failure = Some(violation.to_string());
                    send_all(&dc, &mut s.state);
                    dc.close();
                } else {
                    send_all(&dc, &mut s.state);
                }
                s.wakers.wake_all();
            }
        });
        let on_close = Closure::<dyn FnMut(Event)>::new({
            let shared = shared.clone();
            move |_: Event| {
                let mut s = shared.borrow_mut();
                s.closed = true;
                s.state.channel_closed();
                s.wakers.wake_all();
            }
        });
        let on_low = Closure::<dyn FnMut(Event)>::new({
            let shared = shared.clone();
            move |_: Event| {
                if let Some(w) = shared.borrow_mut().wakers.write.take() {
                    w.wake();
                }
            }
        });
        dc.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        dc.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        dc.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        dc.set_onbufferedamountlow(Some(on_low.as_ref().unchecked_ref()));
        Self {
            dc,
            shared,
            live,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
            _on_low: on_low,
        }
    }

    /// Ready once the channel is open; an error if it closed first.
    pub(crate) fn poll_open(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = self.shared.borrow_mut();
        if s.opened {
            return Poll::Ready(Ok(()));
        }
        if s.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        s.wakers.write = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Closes the channel without the stream protocol (the handshake's `init` channel).
    pub(crate) fn close(&self) {
        self.dc.close();
    }

    fn close_if_done(&self, s: &Shared) {
        if s.state.is_done() && !s.closed {
            self.dc.close();
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.dc.set_onopen(None);
        self.dc.set_onmessage(None);
        self.dc.set_onclose(None);
        self.dc.set_onbufferedamountlow(None);
        let mut s = self.shared.borrow_mut();
        if !s.closed {
            if !s.state.is_done() && s.opened {
                s.state.reset();
                send_all(&self.dc, &mut s.state);
            }
            self.dc.close();
        }
        if let Some(live) = &self.live {
            live.set(live.get().saturating_sub(1));
        }
    }
}

/// A libp2p stream over one data channel.
pub struct Stream {
    channel: SendWrapper<Channel>,
    fin_ack_timeout: Duration,
    fin_ack_deadline: Option<Deadline>,
}

impl Stream {
    pub(crate) fn new(channel: Channel, fin_ack_timeout: Duration) -> Self {
        Self {
            channel: SendWrapper::new(channel),
            fin_ack_timeout,
            fin_ack_deadline: None,
        }
    }
}

fn reset_error(s: &Shared) -> io::Error {
    match &s.failure {
        Some(why) => io::Error::new(io::ErrorKind::ConnectionReset, why.clone()),
        None => io::ErrorKind::ConnectionReset.into(),
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let channel = &*self.channel;
        let mut s = channel.shared.borrow_mut();
        let result = match s.state.read(buf) {
            Read::Data(n) => Poll::Ready(Ok(n)),
            Read::Eof => Poll::Ready(Ok(0)),
            Read::Reset => Poll::Ready(Err(reset_error(&s))),
            Read::Pending => {
                s.wakers.read = Some(cx.waker().clone());
                Poll::Pending
            }
        };
        channel.close_if_done(&s);
        result
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let channel = &*self.channel;
        match channel.poll_open(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        if channel.dc.buffered_amount() > HIGH_WATER {
            channel.shared.borrow_mut().wakers.write = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let s = channel.shared.borrow();
        let (msg, n) = match s.state.frame(buf) {
            Ok(framed) => framed,
            Err(refused) => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    refused.to_string(),
                )));
            }
        };
        drop(s);
        match channel.dc.send_with_u8_array(&msg) {
            Ok(()) => Poll::Ready(Ok(n)),
            Err(e) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("data channel send failed: {e:?}"),
            ))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Each write hands its message to the browser, which sends it in order.
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let channel = &*this.channel;
        match channel.poll_open(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(_)) => return Poll::Ready(Ok(())), // closed before it opened
            Poll::Ready(Ok(())) => {}
        }
        let mut s = channel.shared.borrow_mut();
        if let Some(fin) = s.state.close_write()
            && let Err(e) = channel.dc.send_with_u8_array(&fin)
        {
            tracing::debug!("FIN not sent: {e:?}");
            s.state.channel_closed();
        }
        if s.state.write_closed() {
            channel.close_if_done(&s);
            return Poll::Ready(Ok(()));
        }
        s.wakers.write = Some(cx.waker().clone());
        drop(s);
        let timeout = this.fin_ack_timeout;
        let deadline = this
            .fin_ack_deadline
            .get_or_insert_with(|| Deadline::after(timeout));
        if deadline.poll_passed(cx) {
            tracing::debug!("no FIN_ACK within {timeout:?}; the stream counts as closed");
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }
}
