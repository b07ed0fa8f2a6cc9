//! The libp2p [`Transport`](libp2p::core::Transport) for `/webrtc`: dials signal over the
//! connection the swarm has to the peer (through [`libp2p_stream::Control`]); the listener
//! answers the peer's signalling streams.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{FutureExt as _, StreamExt as _};
use futures_timer::Delay;
use libp2p::core::multiaddr::Multiaddr;
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::identity::PeerId;
use libp2p::swarm::StreamProtocol;
use send_wrapper::SendWrapper;

use std::sync::{Arc, Mutex};

use super::connection::Connection;
use super::handshake;
use crate::budget::{Budget, Refused};
use crate::signal::PROTOCOL;
use crate::{Config, Error, addr};

type Upgrade = Pin<Box<dyn Future<Output = Result<(PeerId, Connection), Error>> + Send>>;

/// The `/webrtc` transport; see the crate docs for where it goes in the swarm.
pub struct Transport {
    config: Config,
    control: libp2p_stream::Control,
    budget: Arc<Mutex<Budget>>,
    listener: Option<(ListenerId, libp2p_stream::IncomingStreams)>,
    events: VecDeque<TransportEvent<Upgrade, Error>>,
}

impl Transport {
    /// A transport that signals through `control` (from the swarm's
    /// [`libp2p_stream::Behaviour`]).
    pub fn new(config: Config, control: libp2p_stream::Control) -> Self {
        let budget = Budget::new(config.max_peer_connections, config.max_answers_per_peer);
        Self {
            config,
            control,
            budget: Arc::new(Mutex::new(budget)),
            listener: None,
            events: VecDeque::new(),
        }
    }
}

fn protocol() -> StreamProtocol {
    StreamProtocol::new(PROTOCOL)
}

/// A handshake counted in the budget until it ends, either way.
struct Counted {
    budget: Arc<Mutex<Budget>>,
    peer: PeerId,
}

impl Counted {
    fn start(budget: &Arc<Mutex<Budget>>, peer: PeerId, inbound: bool) -> Result<Self, Refused> {
        lock(budget).start(peer, inbound)?;
        Ok(Self {
            budget: budget.clone(),
            peer,
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        lock(&self.budget).finish(&self.peer);
    }
}

fn lock(budget: &Mutex<Budget>) -> std::sync::MutexGuard<'_, Budget> {
    // One thread in the browser: a poisoned lock only means a panic elsewhere.
    budget
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `fut` for at most `config.handshake_timeout`.
async fn in_time<T>(
    config: &Config,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    futures::select! {
        result = fut.fuse() => result,
        () = Delay::new(config.handshake_timeout).fuse() => Err(Error::Timeout),
    }
}

impl libp2p::core::Transport for Transport {
    type Output = (PeerId, Connection);
    type Error = Error;
    type ListenerUpgrade = Upgrade;
    type Dial = Upgrade;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        if !addr::is_listen_addr(&addr) {
            return Err(TransportError::MultiaddrNotSupported(addr));
        }
        if self.listener.is_some() {
            return Err(TransportError::Other(Error::Signaling(
                "already listening on /webrtc".into(),
            )));
        }
        let incoming = self
            .control
            .accept(protocol())
            .map_err(|e| TransportError::Other(Error::Signaling(e.to_string())))?;
        self.listener = Some((id, incoming));
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        if !matches!(&self.listener, Some((ours, _)) if *ours == id) {
            return false;
        }
        self.listener = None;
        self.events.push_back(TransportEvent::ListenerClosed {
            listener_id: id,
            reason: Ok(()),
        });
        true
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        _: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        let Some(peer) = addr::dial_target(&addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        let counted = Counted::start(&self.budget, peer, false)
            .map_err(|e| TransportError::Other(Error::Refused(e.to_string())))?;
        let mut control = self.control.clone();
        let config = self.config.clone();
        Ok(Box::pin(SendWrapper::new(async move {
            let _counted = counted;
            in_time(&config, async {
                let stream = control
                    .open_stream(peer, protocol())
                    .await
                    .map_err(|e| Error::Signaling(e.to_string()))?;
                handshake::offer(stream, &config).await
            })
            .await
            .map(|connection| (peer, connection))
        })))
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        if let Some(event) = self.events.pop_front() {
            return Poll::Ready(event);
        }
        let config = self.config.clone();
        let Some((id, incoming)) = &mut self.listener else {
            return Poll::Pending;
        };
        let id = *id;
        match incoming.poll_next_unpin(cx) {
            Poll::Ready(Some((peer, stream))) => {
                let counted = Counted::start(&self.budget, peer, true);
                let upgrade: Upgrade = Box::pin(SendWrapper::new(async move {
                    // A refused offer is answered with nothing: dropping the stream resets it.
                    let _counted = counted.map_err(|e| Error::Refused(e.to_string()))?;
                    in_time(&config, handshake::answer(stream, &config))
                        .await
                        .map(|connection| (peer, connection))
                }));
                Poll::Ready(TransportEvent::Incoming {
                    listener_id: id,
                    upgrade,
                    local_addr: addr::listen_addr(),
                    // Where the dialer can be reached is not known here (its offer came over
                    // some relayed connection). identify sends this back as the "observed
                    // address", and js-libp2p's identify throws on one that is not IP-based
                    // (`/p2p-circuit/webrtc/p2p/…` failed identify over the connection);
                    // an empty address is skipped by both.
                    send_back_addr: Multiaddr::empty(),
                })
            }
            Poll::Ready(None) => {
                self.listener = None;
                Poll::Ready(TransportEvent::ListenerClosed {
                    listener_id: id,
                    reason: Ok(()),
                })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
