//! The browser node against a real kith-node: started by `cargo xtask test`, found through
//! its `/bootstrap.json` (the address comes from `KITH_TEST_NODE` at build time).
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use kith_core::BootstrapDoc;
use kith_net::{Client, Config, Event, Keypair, PeerId, TransportKind, dial_plan, platform};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const NODE: &str = match option_env!("KITH_TEST_NODE") {
    Some(url) => url,
    None => "http://127.0.0.1:18080",
};

async fn bootstrap_doc() -> BootstrapDoc {
    let resp = gloo_net::http::Request::get(&format!("{NODE}/bootstrap.json"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("kith-node at {NODE} is not reachable: {e}"));
    assert!(resp.ok(), "bootstrap.json answered {}", resp.status());
    BootstrapDoc::parse(&resp.binary().await.expect("body")).expect("valid bootstrap.json")
}

fn start_node() -> (Client, mpsc::Receiver<Event>) {
    let (client, events, event_loop) =
        kith_net::new(Keypair::generate_ed25519(), Config::default()).expect("node builds");
    platform::spawn(event_loop.run());
    (client, events)
}

/// Waits up to `secs` for the first event `pick` accepts.
async fn wait_for<T>(
    events: &mut mpsc::Receiver<Event>,
    secs: u64,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    let found = async {
        while let Some(event) = events.next().await {
            if let Some(t) = pick(event) {
                return Some(t);
            }
        }
        None
    };
    futures::select! {
        t = found.fuse() => t.expect("event stream ended"),
        () = platform::sleep(Duration::from_secs(secs)).fuse() => panic!("no matching event within {secs} s"),
    }
}

async fn ping_over(kind: TransportKind) {
    let doc = bootstrap_doc().await;
    let (node, addrs) = dial_plan(&doc, Some(kind)).expect("the node offers this transport");
    let (client, mut events) = start_node();
    let connected = client.dial(node, addrs).await.expect("dial succeeds");
    assert_eq!(connected.transport, kind);
    assert_eq!(connected.peer, node);
    let rtt = wait_for(&mut events, 20, |e| match e {
        Event::Ping { peer, rtt } if peer == node => Some(rtt),
        _ => None,
    })
    .await;
    assert!(
        rtt > Duration::ZERO && rtt < Duration::from_secs(5),
        "rtt {rtt:?}"
    );
    assert_eq!(client.connected_peers().await.expect("peers"), vec![node]);
}

#[wasm_bindgen_test]
async fn ping_over_websocket() {
    ping_over(TransportKind::WebSocket).await;
}

#[wasm_bindgen_test]
async fn ping_over_webrtc_direct() {
    ping_over(TransportKind::WebRtcDirect).await;
}

#[wasm_bindgen_test]
async fn kademlia_bootstrap_completes() {
    let doc = bootstrap_doc().await;
    let (node, addrs) = dial_plan(&doc, None).expect("plan");
    let (client, mut events) = start_node();
    client.dial(node, addrs).await.expect("dial succeeds");
    wait_for(&mut events, 20, |e| match e {
        Event::RoutingUpdated { peer } if peer == node => Some(()),
        _ => None,
    })
    .await;
    client.bootstrap().await.expect("bootstrap completes");
    let table: Vec<PeerId> = client.routing_table().await.expect("table");
    assert!(table.contains(&node), "{table:?}");
}

#[wasm_bindgen_test]
async fn unreachable_node_is_a_clear_dial_error() {
    let doc = bootstrap_doc().await;
    let (node, _) = dial_plan(&doc, None).expect("plan");
    let (client, _events) = start_node();
    // Port 9 (discard) on loopback: nothing of ours listens there.
    let dead = format!("/ip4/127.0.0.1/tcp/9/ws/p2p/{node}")
        .parse()
        .expect("addr");
    let err = client.dial(node, vec![dead]).await.expect_err("must fail");
    assert!(matches!(err, kith_net::NetError::Dial { .. }), "{err}");
}

#[wasm_bindgen_test]
async fn posts_travel_between_the_browser_and_a_native_peer() {
    use kith_core::{Feed, Identity, Payload};
    // The native echo peer `cargo xtask test wasm` runs follows `asker` and answers each post
    // as `echo` (crates/kith-node/examples/echo_peer.rs).
    let asker = Identity::from_secret([0x42; 32]);
    let echo = Identity::from_secret([0x43; 32]);
    let doc = bootstrap_doc().await;
    let (node, addrs) = dial_plan(&doc, None).expect("plan");
    let (client, mut events) = start_node();
    client.dial(node, addrs).await.expect("dial");
    client.follow_live(echo.author()).await.expect("follow");
    let mut feed = Feed::new(asker.author());
    for attempt in 0..40 {
        let text = format!(
            "hello from the browser #{attempt} at {}",
            kith_net::now_ms()
        );
        let post = feed
            .append(&asker, &Payload::post(text.clone()), kith_net::now_ms())
            .expect("append")
            .clone();
        // Until the mesh forms, publishing may find no peer yet.
        let _ = client.publish(&post).await;
        let want = format!("echo: {text}");
        let answered = async {
            while let Some(e) = events.next().await {
                if let Event::Entry { entry, .. } = e
                    && entry.author() == echo.author()
                    && matches!(entry.payload(), Some(Payload::Post { text, .. }) if *text == want)
                {
                    return true;
                }
            }
            false
        };
        let got = futures::select! {
            ok = answered.fuse() => ok,
            () = platform::sleep(Duration::from_millis(500)).fuse() => false,
        };
        if got {
            return; // browser → native peer → browser, each entry verified on arrival
        }
    }
    panic!("the native peer's answer never reached the browser");
}

#[wasm_bindgen_test]
async fn two_browser_nodes_go_direct_and_sync_over_it() {
    use kith_core::sync::Message;
    use kith_core::{Feed, Identity, Payload};
    use libp2p::multiaddr::Protocol;

    let doc = bootstrap_doc().await;
    let (node, addrs) = dial_plan(&doc, Some(TransportKind::WebSocket)).expect("plan");
    let (a, mut a_events) = start_node();
    let (b, mut b_events) = start_node();
    a.dial(node, addrs.clone())
        .await
        .expect("A reaches the node");
    b.dial(node, addrs.clone())
        .await
        .expect("B reaches the node");
    let relay = addrs[0].clone();
    // Only B reserves a circuit (A's reservation would bring A back to the node when it is
    // cut off below): A advertises no `/webrtc` address, so A dials whichever id is lower.
    b.listen_via_relay(relay.clone())
        .await
        .expect("B reserves a circuit");
    let b_peer = b.local_peer_id();
    // A reaches B through kith-node, as the agent does for a sync or a follow.
    let circuit = relay.with(Protocol::P2pCircuit).with(Protocol::P2p(b_peer));
    let relayed = a.dial(b_peer, vec![circuit]).await.expect("relayed dial");
    assert_eq!(relayed.transport, TransportKind::Relayed);
    // A dials `/webrtc`: both see the direct connection, then the circuit closes, with the
    // direct connection left.
    let a_peer = a.local_peer_id();
    for (events, other) in [(&mut a_events, b_peer), (&mut b_events, a_peer)] {
        wait_for(events, 20, |e| match e {
            Event::Connected {
                peer,
                transport: TransportKind::WebRtc,
                ..
            } if peer == other => Some(()),
            _ => None,
        })
        .await;
    }
    wait_for(&mut a_events, 20, |e| match e {
        Event::Disconnected {
            peer,
            left: Some(TransportKind::WebRtc),
            ..
        } if peer == b_peer => Some(()),
        _ => None,
    })
    .await;
    // Sync now runs over the direct connection, the only one left between the two: A asks
    // for Bob's feed and B serves the entry it holds.
    let bob = Identity::from_secret([0x51; 32]);
    let mut feed = Feed::new(bob.author());
    let post = feed
        .append(
            &bob,
            &Payload::post("over the direct connection"),
            kith_net::now_ms(),
        )
        .expect("append")
        .clone();
    let served = post.encode();
    let ask = a.request(
        b_peer,
        Message::Request {
            author: bob.author(),
            from: 1,
            limit: 10,
        },
    );
    let serve = async {
        let id = wait_for(&mut b_events, 20, |e| match e {
            Event::SyncRequest { id, peer, .. } if peer == a_peer => Some(id),
            _ => None,
        })
        .await;
        b.respond(
            id,
            Message::Entries {
                author: bob.author(),
                from: 1,
                entries: vec![served.clone()],
                deletes: vec![],
            },
        )
        .await
        .expect("respond");
    };
    let (answer, ()) = futures::join!(ask, serve);
    match answer.expect("the request is answered") {
        Message::Entries { entries, .. } => assert_eq!(entries, vec![served]),
        other => panic!("unexpected answer {other:?}"),
    }
    assert_eq!(
        a.connected_peers()
            .await
            .expect("peers")
            .iter()
            .filter(|p| **p == b_peer)
            .count(),
        1
    );
}
