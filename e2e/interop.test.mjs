// Interoperability with js-libp2p: a js-libp2p peer (`@libp2p/webrtc`, `@libp2p/circuit-relay-v2`,
// pinned in package-lock.json) in its own Chromium page, holding a reservation on the real
// kith-node, and a Kith tab (the real app) reach each other over `/webrtc` both ways. Each way:
// identify (the js peer learns Kith's protocols; Kith learns the js peer's `/webrtc` address
// and dials it), a ping stream echoed on that very connection and closed cleanly (FIN answered
// by FIN_ACK, not the 10 s give-up), and Kith's own pings shown on its Network screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import { baseUrl, launchBrowser, nodeForFile, onboard, reported, seriousProblems, waitState, watchPage } from './lib.mjs';

const node = nodeForFile();
const here = new URL('.', import.meta.url).pathname;

test('a js-libp2p peer and a Kith tab connect over /webrtc both ways: identify, ping, a stream closed cleanly', async () => {
  const bundle = await build({
    entryPoints: [join(here, 'interop/peer.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'error',
  });
  const script = bundle.outputFiles[0].contents;
  const server = createServer((req, res) => {
    if (req.url === '/peer.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(script);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>js-libp2p peer</title><script type="module" src="/peer.js"></script>');
    }
  });
  // The js peer's page is served from loopback too (a free port): Chromium refuses a public
  // origin's connections to 127.0.0.1.
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const jsUrl = `http://127.0.0.1:${server.address().port}/`;
  const browser = await launchBrowser();
  const tab = { name: 'Kith tab' };
  const js = { name: 'js-libp2p page' };
  try {
    const k = await (await browser.newContext()).newPage();
    tab.page = k;
    tab.problems = watchPage(k);
    const j = await (await browser.newContext()).newPage();
    js.page = j;
    js.problems = watchPage(j);
    await reported([tab, js], node, () => interop(k, j, jsUrl));
    assert.deepEqual(seriousProblems(tab.problems), [], "the Kith tab's page errors");
  } finally {
    await browser.close();
    server.close();
  }
});

async function interop(k, j, jsUrl) {
  await k.goto(baseUrl);
  await onboard(k, { name: 'Kith', handle: 'kith' });
  await waitState(k, 'connected');
  await k.click('#nav-network');
  const kithPeer = await k.getAttribute('#local-peer', 'title');
  const doc = await (await fetch(`${baseUrl}/bootstrap.json`)).json();
  const relay = doc.addrs.find((a) => a.includes('/ws/'));
  assert.ok(relay, `a WebSocket address in ${JSON.stringify(doc.addrs)}`);
  // js-libp2p's own log of its WebRTC and relay steps goes to the console (printed on failure).
  await j.goto(jsUrl);
  await j.evaluate(() => localStorage.setItem('debug', 'libp2p:webrtc*,libp2p:circuit-relay*'));
  await j.reload();
  await j.waitForFunction(() => window.interop, null, { timeout: 10_000 });

  for (const way of ['dialKith', 'beDialed']) {
    const r = await j.evaluate(([w, relay, kithPeer]) => window.interop[w](relay, kithPeer), [way, relay, kithPeer]);
    console.log(`${way}: ${JSON.stringify({ direction: r.direction, echo: r.echo, agent: r.identify.agent })}`);
    // The js peer dialed in the first way, the Kith tab in the second, and over `/webrtc`.
    assert.equal(r.direction, way === 'dialKith' ? 'outbound' : 'inbound');
    assert.ok(r.webrtc && r.remoteAddr.endsWith(`/webrtc/p2p/${kithPeer}`), r.remoteAddr);
    // Identify over that connection: Kith said who it is and what it speaks.
    assert.match(r.identify.agent, /^kith\//);
    assert.ok(r.identify.protocols.includes('/ipfs/ping/1.0.0'), JSON.stringify(r.identify));
    assert.ok(r.identify.protocols.includes('/webrtc-signaling/0.0.1'), JSON.stringify(r.identify));
    // The echo came back intact, and the close did not wait for the 10 s give-up.
    assert.ok(r.echo.same, JSON.stringify(r.echo));
    assert.ok(r.echo.closeMs < 5_000, `closing took ${r.echo.closeMs} ms`);
    // The Kith tab shows the js peer as a direct connection, with its own ping's round trip.
    await k.waitForSelector(`#peers li[data-peer="${r.me}"][data-transport="webrtc"]:not([data-rtt-ms=""])`, { timeout: 40_000 });
  }
}
