//! What the node serves over HTTP.

mod common;

use common::{counter, get, get_with};

use kith_core::BootstrapDoc;
use kith_node::Node;

#[tokio::test]
async fn serves_bootstrap_status_and_the_app() {
    let dir = common::workdir();
    let node = Node::start(common::cli(dir.path(), &[]))
        .await
        .expect("start");

    let resp = get(node.http_addr, "/bootstrap.json").await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{resp}"
    );
    let body = resp.split("\r\n\r\n").nth(1).expect("body");
    let doc = BootstrapDoc::parse(body.as_bytes()).expect("a valid bootstrap document");
    assert_eq!(doc.peer_id, node.peer_id.to_string());
    assert!(
        doc.addrs
            .iter()
            .any(|a| a.contains("/tcp/") && a.contains("/ws/")),
        "{doc:?}"
    );
    assert!(
        doc.addrs
            .iter()
            .any(|a| a.contains("/webrtc-direct/certhash/")),
        "{doc:?}"
    );

    // The operator (this machine, directly) sees who is connected; a web page of another
    // origin, or a request a proxy forwarded, sees counts only.
    let (client, _) = common::client(&node).await;
    let someone = client.local_peer_id().to_string();
    let status = get(node.http_addr, "/status.json").await;
    assert!(status.contains(&node.peer_id.to_string()), "{status}");
    assert!(status.contains(&someone), "{status}");
    for header in [
        "Origin: https://elsewhere.example\r\n",
        "X-Forwarded-For: 203.0.113.7\r\n",
    ] {
        let public = get_with(node.http_addr, "/status.json", header).await;
        let body = public.split("\r\n\r\n").nth(1).expect("body");
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["connected_peers"], 1, "{body}");
        assert_eq!(v["peer_id"], node.peer_id.to_string(), "{body}");
        assert!(!body.contains(&someone), "{header}: {body}");
    }

    // The operator reads libp2p's counters at /metrics: the client's connection has moved
    // bytes both ways over WebSocket. Nobody else may read them.
    let metrics = get(node.http_addr, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for direction in ["Inbound", "Outbound"] {
        let bytes = counter(
            &metrics,
            &format!(
                "libp2p_bandwidth_bytes_total{{protocols=\"/ip4/tcp/ws\",direction=\"{direction}\"}}"
            ),
        );
        assert!(bytes > 0, "{direction}: {metrics}");
    }
    assert!(
        metrics.contains("libp2p_swarm_connections_established_total"),
        "{metrics}"
    );
    let refused = get_with(
        node.http_addr,
        "/metrics",
        "Origin: https://elsewhere.example\r\n",
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(!refused.contains("libp2p_bandwidth"), "{refused}");

    // Every response carries the app's Content-Security-Policy, worked out again from
    // index.html when a new build replaces it.
    let page = get(node.http_addr, "/").await.to_ascii_lowercase();
    assert!(
        page.contains(
            "content-security-policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval';"
        ),
        "{page}"
    );
    std::fs::write(
        dir.path().join("dist/index.html"),
        "<!doctype html><title>kith</title><script>var a = 1;</script>",
    )
    .expect("rewrite index.html");
    let page = get(node.http_addr, "/").await;
    assert!(
        page.contains("'sha256-+dZ6udsWxNVoGfScAq7t5IIF5UJb4F6RhjbN6oe1p4w='"),
        "{page}"
    );

    // Paths inside the app fall back to index.html.
    for path in ["/", "/profile/someone"] {
        let page = get(node.http_addr, path).await;
        assert!(
            page.starts_with("HTTP/1.1 200") && page.contains("<title>kith</title>"),
            "{page}"
        );
    }
    node.shutdown().await;
}

#[tokio::test]
async fn announced_addresses_replace_listen_addresses_of_their_transport() {
    let dir = common::workdir();
    let wss = "/dns4/kith.example.org/tcp/443/wss";
    let node = Node::start(common::cli(dir.path(), &["--announce", wss]))
        .await
        .expect("start");
    let addrs = node.addrs();
    let id = node.peer_id;
    // The proxied WebSocket replaces the loopback one; WebRTC-direct is still offered.
    assert_eq!(addrs[0], format!("{wss}/p2p/{id}"));
    assert!(
        !addrs.iter().any(|a| a.contains("/127.0.0.1/tcp/")),
        "{addrs:?}"
    );
    assert!(
        addrs.iter().any(|a| a.contains("/webrtc-direct/certhash/")),
        "{addrs:?}"
    );
    node.shutdown().await;

    // An announced WebRTC-direct address gets the node's certhash appended.
    let public = "/ip4/203.0.113.7/udp/9091/webrtc-direct";
    let node = Node::start(common::cli(dir.path(), &["--announce", public]))
        .await
        .expect("restart");
    let addrs = node.addrs();
    assert!(
        addrs[0].starts_with(&format!("{public}/certhash/")),
        "{addrs:?}"
    );
    assert!(addrs[0].ends_with(&format!("/p2p/{id}")), "{addrs:?}");
    assert!(
        !addrs.iter().any(|a| a.contains("/127.0.0.1/udp/")),
        "{addrs:?}"
    );
    node.shutdown().await;
}
