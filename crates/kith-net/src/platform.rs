//! Everything that differs between the browser and native targets, behind one API:
//! [`build_swarm`], [`spawn`], [`spawn_local`] and [`sleep`].
//!
//! - Browser (`wasm32`): WebSocket (`websocket-websys`) and WebRTC-direct (`webrtc-websys`)
//!   to reach kith-node, the circuit-relay client to reach other browsers through it,
//!   `/webrtc` (kith-webrtc) to reach them directly, and tasks on the page's event loop.
//! - Native: TCP and WebSocket (with DNS), the relay client, and tasks on tokio.

use std::time::Duration;

use libp2p::Swarm;
use libp2p::identity::Keypair;

use crate::{Behaviour, Config, NetError};

fn setup_err(e: impl std::fmt::Display) -> NetError {
    NetError::Setup(e.to_string())
}

/// Builds the swarm with this target's transports.
///
/// In the browser the transports are tried in this order: `/webrtc` first (the relay
/// client's transport would take `…/p2p-circuit/webrtc` dials too), then the relayed
/// circuit, WebSocket and WebRTC-direct.
#[cfg(target_arch = "wasm32")]
pub fn build_swarm(keypair: Keypair, config: &Config) -> Result<Swarm<Behaviour>, NetError> {
    use futures::future::Either;
    use libp2p::core::Transport as _;
    use libp2p::core::muxing::StreamMuxerBox;
    use libp2p::core::upgrade::Version;
    use libp2p::{noise, relay, webrtc_websys, websocket_websys, yamux};

    let idle = config.idle_timeout;
    let signalling = libp2p_stream::Behaviour::new();
    let control = signalling.new_control();
    let (relay_transport, relay) = relay::client::new(keypair.public().to_peer_id());
    let webrtc_config = config.webrtc.clone();
    Ok(libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_wasm_bindgen()
        .with_other_transport(|key| {
            let noise = noise::Config::new(key)?;
            let direct = kith_webrtc::Transport::new(webrtc_config, control)
                .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
            let relayed = relay_transport
                .upgrade(Version::V1Lazy)
                .authenticate(noise.clone())
                .multiplex(yamux::Config::default())
                .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
            let websocket = websocket_websys::Transport::default()
                .upgrade(Version::V1Lazy)
                .authenticate(noise)
                .multiplex(yamux::Config::default())
                .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
            let webrtc_direct = webrtc_websys::Transport::new(webrtc_websys::Config::new(key))
                .map(|(peer, conn), _| (peer, StreamMuxerBox::new(conn)));
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                direct
                    .or_transport(relayed)
                    .or_transport(websocket)
                    .or_transport(webrtc_direct)
                    .map(|either, _| match either {
                        Either::Left(Either::Left(Either::Left(out)))
                        | Either::Left(Either::Left(Either::Right(out)))
                        | Either::Left(Either::Right(out))
                        | Either::Right(out) => out,
                    }),
            )
        })
        .map_err(setup_err)?
        .with_behaviour(|key| Behaviour::new(key, relay, signalling, config))
        .map_err(setup_err)?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build())
}

/// Builds the swarm with this target's transports.
#[cfg(not(target_arch = "wasm32"))]
pub fn build_swarm(keypair: Keypair, config: &Config) -> Result<Swarm<Behaviour>, NetError> {
    use libp2p::{noise, tcp, yamux};

    let idle = config.idle_timeout;
    let builder = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(setup_err)?
        .with_dns()
        .map_err(setup_err)?;
    // `with_websocket` is async only because it may read the system's DNS configuration.
    let builder = futures::executor::block_on(
        builder.with_websocket(noise::Config::new, yamux::Config::default),
    )
    .map_err(setup_err)?;
    Ok(builder
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(setup_err)?
        .with_behaviour(|key, relay| {
            Behaviour::new(key, relay, libp2p_stream::Behaviour::new(), config)
        })
        .map_err(setup_err)?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build())
}

/// Whether this target has a transport for `kind`.
#[cfg(target_arch = "wasm32")]
pub fn can_dial(kind: crate::TransportKind) -> bool {
    use crate::TransportKind::*;
    matches!(kind, WebRtcDirect | WebSocket | Relayed | WebRtc)
}

/// Whether this target listens for `/webrtc` (browser to browser).
pub const LISTENS_WEBRTC: bool = cfg!(target_arch = "wasm32");

/// Whether this target has a transport for `kind`.
#[cfg(not(target_arch = "wasm32"))]
pub fn can_dial(kind: crate::TransportKind) -> bool {
    use crate::TransportKind::*;
    matches!(kind, Tcp | WebSocket | Relayed)
}

/// Runs a future in the background: on the page's event loop, or on tokio.
#[cfg(target_arch = "wasm32")]
pub fn spawn(fut: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(fut);
}

/// Runs a future in the background: on the page's event loop, or on tokio.
#[cfg(not(target_arch = "wasm32"))]
pub fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(fut);
}

/// Runs a future that is not `Send` in the background: on the page's event loop, or natively
/// on the current tokio `LocalSet` (which the caller must be running in).
#[cfg(target_arch = "wasm32")]
pub fn spawn_local(fut: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(fut);
}

/// Runs a future that is not `Send` in the background: on the page's event loop, or natively
/// on the current tokio `LocalSet` (which the caller must be running in).
#[cfg(not(target_arch = "wasm32"))]
pub fn spawn_local(fut: impl Future<Output = ()> + 'static) {
    tokio::task::spawn_local(fut);
}

/// Waits for `d` without blocking the thread.
#[cfg(target_arch = "wasm32")]
pub async fn sleep(d: Duration) {
    futures_timer::Delay::new(d).await;
}

/// Waits for `d` without blocking the thread.
#[cfg(not(target_arch = "wasm32"))]
pub async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}
