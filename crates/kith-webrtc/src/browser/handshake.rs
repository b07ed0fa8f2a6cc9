//! The `/webrtc` handshake over a signalling stream (libp2p/specs `webrtc/webrtc.md`):
//! offer and answer, then trickle ICE both ways until the browser says `connected`.

use std::future::poll_fn;
use std::task::Poll;

use futures::{AsyncRead, AsyncWrite, AsyncWriteExt as _, FutureExt as _, StreamExt as _};
use wasm_bindgen::JsCast as _;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RtcIceCandidateInit, RtcPeerConnectionState, RtcSdpType, RtcSessionDescriptionInit};

use super::connection::{Connection, Peer, js_error};
use crate::proto::{Signal, SignalKind};
use crate::signal::{self, MAX_SIGNALS};
use crate::{Config, Error};

/// The dialer's side: offers, and returns the connection once it is up.
pub(crate) async fn offer<S>(mut stream: S, config: &Config) -> Result<Connection, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut peer = Peer::new(config)?;
    // In-band, not negotiated: it puts the m=application line in the SDP.
    let init = peer.open_channel("init");
    let offer = JsFuture::from(peer.pc.create_offer())
        .await
        .map_err(js_error)?;
    let sdp = sdp_of(&offer)?;
    signal::write(&mut stream, &Signal::new(SignalKind::SdpOffer, sdp.clone())).await?;
    set_description(&peer, RtcSdpType::Offer, &sdp, true).await?;
    let mut received = 0usize;
    let answer = loop {
        let Some(message) = signal::read(&mut stream).await? else {
            return Err(Error::Protocol(
                "the signalling stream ended before the answer".into(),
            ));
        };
        received += 1;
        if received > MAX_SIGNALS {
            return Err(Error::Protocol("too many signalling messages".into()));
        }
        match message.kind {
            Some(SignalKind::SdpAnswer) => break message.data,
            other => tracing::debug!("ignoring {other:?} before the answer"),
        }
    };
    set_description(&peer, RtcSdpType::Answer, &answer, false).await?;
    trickle(&mut peer, &mut stream, received).await?;
    // The spec's dialer waits for `init` to open, then closes it.
    poll_fn(|cx| init.poll_open(cx))
        .await
        .map_err(|e| Error::Signaling(format!("the init channel did not open: {e}")))?;
    init.close();
    drop(init);
    let _ = stream.close().await;
    Ok(Connection::new(peer))
}

/// The listener's side: answers an offer, and returns the connection once it is up.
pub(crate) async fn answer<S>(mut stream: S, config: &Config) -> Result<Connection, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut peer = Peer::new(config)?;
    let Some(message) = signal::read(&mut stream).await? else {
        return Err(Error::Protocol(
            "the signalling stream ended before the offer".into(),
        ));
    };
    if message.kind != Some(SignalKind::SdpOffer) {
        return Err(Error::Protocol(format!(
            "expected an SDP offer, got {:?}",
            message.kind
        )));
    }
    set_description(&peer, RtcSdpType::Offer, &message.data, false).await?;
    let answer = JsFuture::from(peer.pc.create_answer())
        .await
        .map_err(js_error)?;
    let sdp = sdp_of(&answer)?;
    signal::write(
        &mut stream,
        &Signal::new(SignalKind::SdpAnswer, sdp.clone()),
    )
    .await?;
    set_description(&peer, RtcSdpType::Answer, &sdp, true).await?;
    trickle(&mut peer, &mut stream, 1).await?;
    let _ = stream.close().await;
    Ok(Connection::new(peer))
}

fn sdp_of(description: &wasm_bindgen::JsValue) -> Result<String, Error> {
    js_sys::Reflect::get(description, &"sdp".into())
        .ok()
        .and_then(|v| v.as_string())
        .ok_or_else(|| Error::Js("a session description without sdp".into()))
}

async fn set_description(
    peer: &Peer,
    kind: RtcSdpType,
    sdp: &str,
    local: bool,
) -> Result<(), Error> {
    let init = RtcSessionDescriptionInit::new(kind);
    init.set_sdp(sdp);
    let promise = if local {
        peer.pc.set_local_description(&init)
    } else {
        peer.pc.set_remote_description(&init)
    };
    JsFuture::from(promise).await.map_err(js_error)?;
    Ok(())
}

/// Sends our candidates and adds the peer's until the connection is up. The peer closing
/// its side ends only the reading.
async fn trickle<S>(peer: &mut Peer, stream: &mut S, mut received: usize) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut candidates = peer.take_candidates();
    let peer = &*peer;
    let (reader, mut writer) = futures::AsyncReadExt::split(stream);
    let mut remote = Box::pin(futures::stream::unfold(reader, |mut r| async move {
        let next = signal::read(&mut r).await;
        match next {
            Ok(None) => None,
            Ok(Some(message)) => Some((Ok(message), r)),
            Err(e) => Some((Err(e), r)),
        }
    }))
    .fuse();
    loop {
        let connected = poll_fn(|cx| {
            let state = peer.state();
            match state {
                RtcPeerConnectionState::Connected => Poll::Ready(Ok(())),
                RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed => {
                    Poll::Ready(Err(Error::ConnectionLost(format!(
                        "the connection became {state:?} during the handshake"
                    ))))
                }
                _ => {
                    peer.on_state_change(cx);
                    Poll::Pending
                }
            }
        });
        futures::select! {
            result = connected.fuse() => return result,
            local = candidates.next() => {
                if let Some(json) = local {
                    signal::write(&mut writer, &Signal::new(SignalKind::IceCandidate, json)).await?;
                }
            }
            message = remote.next() => match message {
                None => {} // the peer sent all it had; wait for the state
                Some(message) => {
                    let message = message?;
                    received += 1;
                    if received > MAX_SIGNALS {
                        return Err(Error::Protocol("too many signalling messages".into()));
                    }
                    if message.kind == Some(SignalKind::IceCandidate) {
                        add_candidate(peer, &message.data).await?;
                    }
                }
            },
        }
    }
}

async fn add_candidate(peer: &Peer, json: &str) -> Result<(), Error> {
    if json.is_empty() || json == "null" {
        return Ok(()); // the end of the peer's candidates
    }
    let value = js_sys::JSON::parse(json)
        .map_err(|_| Error::Protocol("an ICE candidate that is not JSON".into()))?;
    if value.is_null() {
        return Ok(());
    }
    let init: &RtcIceCandidateInit = value.unchecked_ref();
    JsFuture::from(
        peer.pc
            .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(init)),
    )
    .await
    .map_err(js_error)?;
    Ok(())
}
