// A js-libp2p peer for the interoperability test (bundled by esbuild, run in a Chromium page):
// WebSocket to reach kith-node, the circuit-relay transport to hold a reservation there, and
// `@libp2p/webrtc` for `/webrtc`, browser to browser. Everything it measures is returned to
// the test, which asserts.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { ping } from '@libp2p/ping';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';

const PING = '/ipfs/ping/1.0.0';

/** A key whose peer id sorts above (`above`) or below `other`: Kith's rule is that the lower
 * peer id dials, so the test decides which side dials by choosing the key. Peer ids of one key
 * type have one length, and base58's alphabet is in ASCII order, so strings compare as the
 * bytes do. */
async function keyAgainst(other, above) {
  for (;;) {
    const key = await generateKeyPair('Ed25519');
    const id = peerIdFromPrivateKey(key).toString();
    if (id.length === other.length && (id > other) === above) return key;
  }
}

/** Starts a peer, connects to kith-node at `relay` and waits for its `/webrtc` address. */
async function start(relay, kithPeer, above) {
  const node = await createLibp2p({
    privateKey: await keyAgainst(kithPeer, above),
    addresses: { listen: ['/p2p-circuit', '/webrtc'] },
    transports: [webSockets(), webRTC(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Everything here is on 127.0.0.1, which the default gater refuses to dial.
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), ping: ping() },
  });
  await node.dial(multiaddr(relay));
  const deadline = Date.now() + 15_000;
  while (!node.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit/webrtc'))) {
    if (Date.now() > deadline) throw new Error('no reservation on kith-node');
    await new Promise((r) => setTimeout(r, 100));
  }
  return node;
}

/** 32 random bytes on a new ping stream over `conn`, echoed back; the stream is then closed,
 * which over `/webrtc` waits for the other side's FIN_ACK (or gives up after 10 s). */
async function echo(conn) {
  const stream = await conn.newStream(PING);
  const data = crypto.getRandomValues(new Uint8Array(32));
  const got = [];
  let have = 0;
  const back = new Promise((resolve) => {
    stream.addEventListener('message', (evt) => {
      const chunk = evt.data.subarray();
      got.push(chunk);
      have += chunk.length;
      if (have >= 32) resolve();
    });
  });
  const t0 = performance.now();
  stream.send(data);
  await back;
  const rttMs = performance.now() - t0;
  const t1 = performance.now();
  await stream.close();
  const closeMs = performance.now() - t1;
  const echoed = new Uint8Array(have);
  let at = 0;
  for (const c of got) { echoed.set(c, at); at += c.length; }
  return { rttMs, closeMs, same: echoed.length === 32 && echoed.every((b, i) => b === data[i]) };
}

/** Identify, run once more on `conn` itself: what the other side says it is and speaks. The
 * automatic identify of a new connection may still hold the one identify stream allowed. */
async function identified(node, conn) {
  for (let tries = 1; ; tries++) {
    try {
      const info = await node.services.identify.identify(conn, { signal: AbortSignal.timeout(10_000) });
      return { protocols: info.protocols, agent: info.agentVersion ?? '' };
    } catch (e) {
      if (e?.name !== 'TooManyOutboundProtocolStreamsError' || tries >= 20) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** `/webrtc`, not `/webrtc-direct`: `…/p2p-circuit/webrtc/p2p/<peer>` for the dialer,
 * `/webrtc/p2p/<peer>` for the side that was dialed. */
function isWebRtc(conn) {
  return conn.remoteAddr.toString().includes('/webrtc/p2p/');
}

/** This peer dials the Kith tab over `/webrtc`. */
async function dialKith(relay, kithPeer) {
  // Below the Kith tab's id, so the tab never dials this peer itself.
  const node = await start(relay, kithPeer, false);
  const conn = await node.dial(multiaddr(`${relay}/p2p-circuit/webrtc/p2p/${kithPeer}`), {
    signal: AbortSignal.timeout(20_000),
  });
  await new Promise((r) => setTimeout(r, 1_000));
  const out = {
    me: node.peerId.toString(),
    direction: conn.direction,
    remoteAddr: conn.remoteAddr.toString(),
    webrtc: isWebRtc(conn),
    identify: await identified(node, conn),
    echo: await echo(conn),
  };
  window.dialer = node;
  return out;
}

/** The Kith tab dials this peer: this peer reaches the tab through the relay only, and the
 * tab, having learned this peer's `/webrtc` address from identify, connects directly. */
async function beDialed(relay, kithPeer) {
  // Above the Kith tab's id: by Kith's rule the tab dials.
  const node = await start(relay, kithPeer, true);
  await node.dial(multiaddr(`${relay}/p2p-circuit/p2p/${kithPeer}`), { signal: AbortSignal.timeout(20_000) });
  const deadline = Date.now() + 20_000;
  let conn;
  while (!(conn = node.getConnections().find((c) => c.remotePeer.toString() === kithPeer && isWebRtc(c)))) {
    if (Date.now() > deadline) throw new Error('the Kith tab did not connect over /webrtc');
    await new Promise((r) => setTimeout(r, 100));
  }
  const out = {
    me: node.peerId.toString(),
    direction: conn.direction,
    remoteAddr: conn.remoteAddr.toString(),
    webrtc: true,
    identify: await identified(node, conn),
    echo: await echo(conn),
  };
  window.dialed = node;
  return out;
}

window.interop = { dialKith, beDialed };
