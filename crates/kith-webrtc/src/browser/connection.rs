//! The `RTCPeerConnection` and the stream muxer over it.
//!
//! [`Peer`] owns the browser object and its handlers from the moment it is created, so a
//! data channel the other side opens right after the handshake is never missed: it is wrapped
//! (handlers attached) and queued, bounded. [`Connection`] is the libp2p
//! [`StreamMuxer`]: outbound streams are new data channels, inbound ones come from that queue,
//! and the connection counts as lost when the browser says `failed` or `closed`, or stays
//! `disconnected` past the grace period.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::channel::mpsc;
use libp2p::core::muxing::{StreamMuxer, StreamMuxerEvent};
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::{Closure, JsValue};
use web_sys::{
    Event, RtcConfiguration, RtcDataChannelEvent, RtcIceServer, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState,
};

use super::channel::{Channel, Stream};
use super::deadline::Deadline;
use crate::{Config, Error};

/// Local ICE candidates waiting to be signalled; more are dropped (a tab has a handful).
const MAX_LOCAL_CANDIDATES: usize = 64;

struct Shared {
    inbound: VecDeque<Channel>,
    inbound_waker: Option<Waker>,
    state_waker: Option<Waker>,
}

impl Shared {
    /// A state change: whoever waits on the connection or its inbound streams looks again.
    fn wake_all(&mut self) {
        if let Some(w) = self.state_waker.take() {
            w.wake();
        }
        if let Some(w) = self.inbound_waker.take() {
            w.wake();
        }
    }
}

type Handler<T> = Closure<dyn FnMut(T)>;

/// An `RTCPeerConnection` with its handlers; see the module docs.
pub(crate) struct Peer {
    pub(crate) pc: RtcPeerConnection,
    shared: Rc<RefCell<Shared>>,
    live_inbound: Rc<Cell<usize>>,
    config: Config,
    /// Local ICE candidates as JSON, for the handshake.
    candidates: Option<mpsc::Receiver<String>>,
    _on_datachannel: Handler<RtcDataChannelEvent>,
    _on_state: Handler<Event>,
    _on_candidate: Handler<RtcPeerConnectionIceEvent>,
    /// The SCTP transport (`pc.sctp`, absent from web-sys) and its state handler, once the
    /// connection is up: its `closed` state is the peer closing, noticed at once.
    sctp: Option<(JsValue, Handler<Event>)>,
}

pub(crate) fn js_error(e: JsValue) -> Error {
    Error::Js(
        e.as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| format!("{e:?}")),
    )
}

fn ice_servers(config: &Config) -> js_sys::Array {
    let servers = js_sys::Array::new();
    for s in &config.ice_servers {
        let urls = js_sys::Array::new();
        for u in &s.urls {
            urls.push(&JsValue::from_str(u));
        }
        let server = RtcIceServer::new();
        server.set_urls(&urls);
        if let Some(user) = &s.username {
            server.set_username(user);
        }
        if let Some(credential) = &s.credential {
            server.set_credential(credential);
        }
        servers.push(&server);
    }
    servers
}

impl Peer {
    /// Creates the peer connection and attaches every handler.
    pub(crate) fn new(config: &Config) -> Result<Self, Error> {
        let rtc = RtcConfiguration::new();
        rtc.set_ice_servers(&ice_servers(config));
        let pc = RtcPeerConnection::new_with_configuration(&rtc).map_err(js_error)?;
        let shared = Rc::new(RefCell::new(Shared {
            inbound: VecDeque::new(),
            inbound_waker: None,
            state_waker: None,
        }));
        let live_inbound = Rc::new(Cell::new(0));
        let on_datachannel = Closure::<dyn FnMut(RtcDataChannelEvent)>::new({
            let shared = shared.clone();
            let live = live_inbound.clone();
            let config = config.clone();
            move |ev: RtcDataChannelEvent| {
                let dc = ev.channel();
                if dc.label() == "init" {
                    // The offerer's handshake channel carries no stream, and the offerer
                    // closes it once it is open. Closing it here first raced js-libp2p's
                    // dialer, which then waits for an `open` that never comes (1 dial in 10
                    // timed out); it is one channel per connection, closed by the offerer
                    // or with the connection.
                    return;
                }
                let mut s = shared.borrow_mut();
                if s.inbound.len() >= config.max_pending_inbound
                    || live.get() >= config.max_inbound_streams
                {
                    tracing::debug!(
                        pending = s.inbound.len(),
                        live = live.get(),
                        "refusing a data channel: too many streams from the peer"
                    );
                    dc.close();
                    return;
                }
                live.set(live.get() + 1);
                let channel = Channel::new(dc, config.max_buffered, Some(live.clone()));
                s.inbound.push_back(channel);
                if let Some(w) = s.inbound_waker.take() {
                    w.wake();
                }
            }
        });
        let on_state = Closure::<dyn FnMut(Event)>::new({
            let shared = shared.clone();
            move |_: Event| {
                shared.borrow_mut().wake_all();
            }
        });
        let (mut tx, candidates) = mpsc::channel(MAX_LOCAL_CANDIDATES);
        let on_candidate = Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
            move |ev: RtcPeerConnectionIceEvent| {
                let Some(candidate) = ev.candidate() else {
                    return; // gathering is over
                };
                if candidate.candidate().is_empty() {
                    return;
                }
                let json = js_sys::JSON::stringify(&candidate.to_json())
                    .ok()
                    .and_then(|s| s.as_string());
                if let Some(json) = json
                    && tx.try_send(json).is_err()
                {
                    tracing::debug!("local ICE candidate dropped: the queue is full");
                }
            },
        );
        pc.set_ondatachannel(Some(on_datachannel.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        Ok(Self {
            pc,
            shared,
            live_inbound,
            config: config.clone(),
            candidates: Some(candidates),
            _on_datachannel: on_datachannel,
            _on_state: on_state,
            _on_candidate: on_candidate,
            sctp: None,
        })
    }

    /// The local ICE candidates (as JSON), once; an empty stream after.
    pub(crate) fn take_candidates(&mut self) -> mpsc::Receiver<String> {
        self.candidates.take().unwrap_or_else(|| mpsc::channel(0).1)
    }

    /// Watches the SCTP transport, which exists once the remote description is set.
    pub(crate) fn watch_sctp(&mut self) {
        let Ok(sctp) = js_sys::Reflect::get(&self.pc, &"sctp".into()) else {
            return;
        };
        if !sctp.is_object() {
            return;
        }
        let on_change = Closure::<dyn FnMut(Event)>::new({
            let shared = self.shared.clone();
            move |_: Event| {
                shared.borrow_mut().wake_all();
            }
        });
        if js_sys::Reflect::set(&sctp, &"onstatechange".into(), on_change.as_ref()).is_ok() {
            self.sctp = Some((sctp, on_change));
        }
    }

    /// Whether the SCTP transport closed (the peer closed its side, or it aborted).
    pub(crate) fn sctp_closed(&self) -> bool {
        self.sctp.as_ref().is_some_and(|(sctp, _)| {
            js_sys::Reflect::get(sctp, &"state".into())
                .ok()
                .and_then(|s| s.as_string())
                .is_some_and(|s| s == "closed")
        })
    }

    /// The browser's view of the connection.
    pub(crate) fn state(&self) -> RtcPeerConnectionState {
        self.pc.connection_state()
    }

    /// Wakes `cx` at the next connection state change.
    pub(crate) fn on_state_change(&self, cx: &mut Context<'_>) {
        self.shared.borrow_mut().state_waker = Some(cx.waker().clone());
    }

    /// Opens a data channel with `label`, handlers attached.
    pub(crate) fn open_channel(&self, label: &str) -> Channel {
        Channel::new(
            self.pc.create_data_channel(label),
            self.config.max_buffered,
            None,
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.pc.set_ondatachannel(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.set_onicecandidate(None);
        if let Some((sctp, _)) = &self.sctp {
            let _ = js_sys::Reflect::set(sctp, &"onstatechange".into(), &JsValue::NULL);
        }
        self.shared.borrow_mut().inbound.clear();
        self.pc.close();
    }
}

/// A `/webrtc` connection: the libp2p stream muxer over a connected [`Peer`].
pub struct Connection {
    peer: SendWrapper<Peer>,
    disconnected: Option<Deadline>,
}

impl Connection {
    pub(crate) fn new(mut peer: Peer) -> Self {
        peer.watch_sctp();
        Self {
            peer: SendWrapper::new(peer),
            disconnected: None,
        }
    }

    /// The error if the connection is over; otherwise registers `cx` for the next change.
    fn check(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        let peer = &*self.peer;
        peer.on_state_change(cx);
        if peer.sctp_closed() {
            return Err(Error::ConnectionLost(
                "the peer closed the connection".into(),
            ));
        }
        match peer.state() {
            RtcPeerConnectionState::Failed => {
                return Err(Error::ConnectionLost("the connection failed".into()));
            }
            RtcPeerConnectionState::Closed => {
                return Err(Error::ConnectionLost("the connection closed".into()));
            }
            RtcPeerConnectionState::Disconnected => {
                let grace = peer.config.disconnected_grace;
                let timer = self
                    .disconnected
                    .get_or_insert_with(|| Deadline::after(grace));
                if timer.poll_passed(cx) {
                    return Err(Error::ConnectionLost(format!("disconnected for {grace:?}")));
                }
            }
            _ => self.disconnected = None,
        }
        Ok(())
    }
}

impl StreamMuxer for Connection {
    type Substream = Stream;
    type Error = Error;

    fn poll_inbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let timeout = self.peer.config.fin_ack_timeout;
        let mut s = self.peer.shared.borrow_mut();
        if let Some(channel) = s.inbound.pop_front() {
            return Poll::Ready(Ok(Stream::new(channel, timeout)));
        }
        s.inbound_waker = Some(cx.waker().clone());
        drop(s);
        match self.check(cx) {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_outbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        self.check(cx)?;
        let channel = self.peer.open_channel("");
        Poll::Ready(Ok(Stream::new(channel, self.peer.config.fin_ack_timeout)))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.peer.pc.close();
        Poll::Ready(Ok(()))
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        match self.check(cx) {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("live_inbound", &self.peer.live_inbound.get())
            .finish_non_exhaustive()
    }
}
