// End to end, two kith-nodes (issue 13, first part): node 2 joins node 1's DHT, and node 1's
// /bootstrap.json names it. A browser that opened the app on node 1 remembers node 2; with
// node 1 gone, a reload opens the app from the service worker and connects through node 2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  NodeProcess, baseUrl, ensureOutDir, launchProfile, onboard, postByText, reported, seriousProblems, sleep,
  waitState, watchPage,
} from './lib.mjs';

/** node's `/status.json` as its operator reads it (from this machine, no Origin). */
async function operatorStatus(node) {
  return (await fetch(`http://${node.http}/status.json`)).json();
}

let node1;
let node2;
before(async () => {
  node1 = new NodeProcess();
  await node1.start();
  const first = await node1.doc();
  const ws = first.addrs.find((a) => a.includes('/ws/'));
  node2 = new NodeProcess({ http: '127.0.0.1:8082', ws: '9094', webrtc: '9095', bootstrap: ws });
  await node2.start();
});
after(async () => {
  await node2?.stop();
  await node1?.stop();
});

test('a browser remembers the other nodes and connects through one when its own is gone', async () => {
  // Node 1 names node 2 once node 2 is in its routing table.
  const deadline = Date.now() + 30_000;
  const id2 = (await node2.doc()).peer_id;
  for (;;) {
    const doc = await node1.doc();
    if (doc.nodes?.some((n) => n.peer_id === id2 && n.addrs.some((a) => a.includes('/ws/')))) break;
    assert.ok(Date.now() < deadline, `node 1 never named node 2: ${JSON.stringify(doc)}`);
    await sleep(200);
  }

  const context = await launchProfile(mkdtempSync(join(tmpdir(), 'kith-nodes-')));
  const page = context.pages()[0] ?? (await context.newPage());
  const person = { name: 'Nomad', page, problems: watchPage(page) };
  try {
    await reported([person], node2, async () => {
      await page.goto(baseUrl);
      await onboard(page, { name: 'Nomad', handle: 'nomad' });
      await waitState(page, 'connected');
      await page.fill('#compose', 'Posted through node 1');
      await page.click('#compose ~ .compose-foot button[type=submit]');
      await page.waitForSelector(postByText('Posted through node 1'));
      // The service worker (it claims its clients) holds the app shell before node 1 goes. A
      // second load through it caches what its install did not (the page's first load did
      // not pass through it); then every asset must be in its cache.
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
      await page.reload();
      await waitState(page, 'connected');
      await page.waitForFunction(async () => {
        const keys = await (await caches.open('kith-shell-v1')).keys();
        const paths = keys.map((r) => new URL(r.url).pathname);
        return ['.wasm', '.js', '.css'].every((ext) => paths.some((p) => p.endsWith(ext)));
      }, null, { timeout: 30_000 });
      const id1 = (await node1.doc()).peer_id;

      await node1.stop();
      const reloaded = Date.now();
      await page.reload();
      await page.waitForSelector(postByText('Posted through node 1'), { timeout: 30_000 });
      await waitState(page, 'connected', 30_000);
      process.stderr.write(`connected through node 2 ${Date.now() - reloaded} ms after the reload\n`);
      // Node 1 is gone: the browser is node 2's only peer.
      const peers = (await operatorStatus(node2)).connected_peers;
      assert.equal(peers.length, 1, JSON.stringify(peers));
      assert.notEqual(peers[0], id1);
      await page.screenshot({ path: join(ensureOutDir(), 'nodes-failover.png') });
      assert.deepEqual(seriousProblems(person.problems), [], 'page errors');
    });
  } finally {
    await context.close();
  }
});
