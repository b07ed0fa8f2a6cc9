// End to end, three kith-nodes (issue 13): Alice's page is served by node 1, Bob's by node 2,
// Carol's by node 3. Bob finds Alice by handle and follows; her posts reach him live. Node 1
// stops: Alice stays online through another node and her next post reaches Bob. She reloads
// while node 1 is down: the app opens from the service worker and connects. Carol, on node 3,
// syncs Alice's history from Bob while Alice is offline. Node 1 restarts with its records.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NodeProcess, Person, closeEveryone, followByHandle, nodesKnowEachOther, post, postByText, reported, seeOnHome,
  seriousProblems, shellCached, waitState,
} from './lib.mjs';

/** A node's `/status.json` as its operator reads it (from this machine, no Origin). */
async function operatorStatus(node) {
  return (await fetch(`http://${node.http}/status.json`)).json();
}

/** The peer id of the kith-node the page is online through (empty when it is not). */
function nodeOf(page) {
  return page.getAttribute('#status', 'data-node');
}

const nodes = [];
before(async () => {
  const node1 = new NodeProcess();
  await node1.start();
  const ws = (await node1.doc()).addrs.find((a) => a.includes('/ws/'));
  const node2 = new NodeProcess({ http: '127.0.0.1:8082', ws: '9094', webrtc: '9095', bootstrap: ws });
  const node3 = new NodeProcess({ http: '127.0.0.1:8083', ws: '9096', webrtc: '9097', bootstrap: ws });
  nodes.push(node1, node2, node3);
  await node2.start();
  await node3.start();
});
after(async () => {
  await closeEveryone();
  for (const n of nodes.reverse()) await n.stop();
});

test('three nodes: people on different nodes reach each other, and nobody needs node 1', async () => {
  const [node1, node2, node3] = nodes;
  // Each node names the others, so every browser learns all three from its page's node.
  const [id1] = await nodesKnowEachOther(nodes);
  const alice = new Person('Alice');
  const bob = new Person('Bob');
  const carol = new Person('Carol');
  const people = [alice, bob, carol];
  await reported(people, nodes, async () => {
    const a = await alice.join({ url: `http://${node1.http}/` });
    assert.equal(await nodeOf(a), id1);
    const aliceFp = await a.textContent('#my-fingerprint');
    const b = await bob.join({ url: `http://${node2.http}/` });
    const bobFp = await b.textContent('#my-fingerprint');

    // Bob finds Alice by her handle and follows; her posts reach him live.
    await followByHandle(b, 'alice', aliceFp);
    await post(a, 'Hello from node 1');
    await seeOnHome(b, 'Hello from node 1');
    await shellCached(a);

    // Node 1 stops. Alice is online through another node within 5 s, and her next post
    // reaches Bob.
    await node1.stop();
    const stopped = Date.now();
    await a.waitForFunction((gone) => {
      const s = document.querySelector('#status');
      return s?.dataset.state === 'connected' && s.dataset.node && s.dataset.node !== gone;
    }, id1, { timeout: 5_000 });
    process.stderr.write(`failover: online through ${await nodeOf(a)} ${Date.now() - stopped} ms after node 1 stopped\n`);
    await post(a, 'After node 1 stopped');
    await seeOnHome(b, 'After node 1 stopped');

    // She reloads while node 1 is still down: the shell comes from the service worker and
    // the app connects through a remembered node.
    await a.reload();
    await a.waitForSelector(postByText('After node 1 stopped'), { timeout: 30_000 });
    await waitState(a, 'connected', 30_000);
    assert.notEqual(await nodeOf(a), id1);
    // Bob's copy of her feed is announced before she leaves.
    await b.click('#nav-network');
    await b.waitForSelector('#holders li, #holders-empty', { timeout: 30_000 });
    assert.deepEqual(seriousProblems(alice.problems), [], 'Alice: page errors');
    await alice.close();

    // Carol, on node 3, finds Alice and reads her history, served by Bob.
    const c = await carol.join({ url: `http://${node3.http}/` });
    await followByHandle(c, 'alice', aliceFp);
    await seeOnHome(c, 'After node 1 stopped', 60_000);
    await seeOnHome(c, 'Hello from node 1');
    await c.click(`${postByText('Hello from node 1')} > .post-head a.name`);
    await c.waitForSelector(`#last-synced:has-text("served by a follower (${bobFp.slice(0, 9)})")`, { timeout: 30_000 });
    await carol.shot('nodes-served-across-nodes');

    // Node 1 comes back with the DHT records it held (from its data directory).
    await node1.start();
    const status = await operatorStatus(node1);
    assert.ok(status.dht_records >= 1 && status.dht_provider_records >= 1, JSON.stringify(status));
    for (const p of [bob, carol]) assert.deepEqual(seriousProblems(p.problems), [], `${p.name}: page errors`);
  });
});
