//! The libp2p [`Transport`](libp2p::core::Transport) for `/webrtc`: dials signal over the
//! connection the swarm has to the peer (through [`libp2p_stream::Control`]); the listener
//! answers the peer's signalling streams.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{FutureExt as _, StreamExt as _};
use futures_timer::Delay;
use libp2p::core::multiaddr::{Multiaddr, Protocol};
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::identity::PeerId;
use libp2p::swarm::StreamProtocol;
use send_wrapper::SendWrapper;

use super::connection::Connection;
use super::handshake;
use crate::signal::PROTOCOL;
use crate::{Config, Error, addr};

type Upgrade = Pin<Box<dyn Future<Output = Result<(PeerId, Connection), Error>> + Send>>;

/// The `/webrtc` transport; see the crate docs for where it goes in the swarm.
pub struct Transport {
    config: Config,
    control: libp2p_stream::Control,
    listener: Option<(ListenerId, libp2p_stream::IncomingStreams)>,
    events: VecDeque<TransportEvent<Upgrade, Error>>,
}

impl Transport {
    /// A transport that signals through `control` (from the swarm's
    /// [`libp2p_stream::Behaviour`]).
    pub fn new(config: Config, control: libp2p_stream::Control) -> Self {
        Self {
            config,
            control,
            listener: None,
            events: VecDeque::new(),
        }
    }
}

fn protocol() -> StreamProtocol {
    StreamProtocol::new(PROTOCOL)
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
        let mut control = self.control.clone();
        let config = self.config.clone();
        Ok(Box::pin(SendWrapper::new(async move {
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
                let upgrade: Upgrade = Box::pin(SendWrapper::new(async move {
                    in_time(&config, handshake::answer(stream, &config))
                        .await
                        .map(|connection| (peer, connection))
                }));
                Poll::Ready(TransportEvent::Incoming {
                    listener_id: id,
                    upgrade,
                    local_addr: addr::listen_addr(),
                    send_back_addr: Multiaddr::empty()
                        .with(Protocol::P2pCircuit)
                        .with(Protocol::WebRTC)
                        .with(Protocol::P2p(peer)),
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
