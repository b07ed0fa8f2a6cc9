// What crosses kith-node when two browsers are directly connected, in headless Chromium
// against a release kith-node of their own (so the node's counters are theirs alone).
// Prints one JSON object of figures on stdout; `cargo xtask bench` merges it into the report.
//
// A restores a backup of 10,000 posts; B follows A from A's link (the app syncs A's feed,
// over the direct connection it opens to A), then A posts 1,000 posts through the compose box,
// each waited for on A's own timeline. The node's counters (`/metrics`, read by the operator)
// are taken just before B clicks Follow and once B's store holds every post or nothing has
// arrived for 10 s.
//
// - entry_bytes_moved: what B's store gained of A's feed (the Settings screen's byte count,
//   headers and payloads): the backfill plus the live posts.
// - node_bytes_ratio: every byte on kith-node's connections (both ways, every protocol; A and B
//   are its only peers) / entry_bytes_moved.
// - node_gossip_bytes_ratio: of those, the gossip messages the node took in and sent on (each
//   one whole entry: the node is in the gossip mesh as the fallback for followers who are not
//   directly connected) / entry_bytes_moved.
// - relayed_bytes_ratio: every byte on the node's connections except those gossip messages
//   (relayed circuits, the WebRTC signalling over them, identify, ping, DHT, gossip control)
//   / entry_bytes_moved. The goal: at most 0.01.
// - bytes_live_lost: live posts not in B's store at the end; bytes_backfill_entries: entries
//   of A's feed B held after the backfill.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeProcess, baseUrl, launchProfile, onboard, postByText, restore, sleep, waitState } from './lib.mjs';

const backupFile = process.env.KITH_BENCH_BACKUP;
const passphrase = process.env.KITH_BENCH_BACKUP_PASS;
const backfillPosts = Number(process.env.KITH_BENCH_BACKUP_POSTS ?? 10_000);
const livePosts = Number(process.env.KITH_BENCH_LIVE_POSTS ?? 1_000);
// How long the store may go without a new entry before the rest count as lost.
const quietMs = 10_000;
if (!backupFile || !passphrase) throw new Error('run through `cargo xtask bench`');

/** Sums the node's counters: every byte, and the gossip message bytes in and out. */
async function counters() {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
  const text = await res.text();
  // A counter family shows no line until its first sample (no gossip yet counts 0).
  const sum = (re, required) => {
    let total = 0;
    let seen = false;
    for (const line of text.split('\n')) {
      const m = re.exec(line);
      if (m) {
        total += Number(m[1]);
        seen = true;
      }
    }
    if (required && !seen) throw new Error(`no ${re} in /metrics`);
    return total;
  };
  return {
    all: sum(/^libp2p_bandwidth_bytes_total\{.*\} (\d+)$/, true),
    gossipIn: sum(/^gossipsub_topic_msg_recv_bytes_unfiltered_total\{.*\} (\d+)$/),
    gossipOut: sum(/^gossipsub_topic_msg_sent_bytes_total\{.*\} (\d+)$/),
  };
}

/** What `page`'s store holds of `author`'s feed, from the Settings screen (which reads the
 * store each time it opens); a feed without a row there holds nothing yet. */
async function held(page, author) {
  await page.evaluate(() => { location.hash = '#/'; });
  await page.evaluate(() => { location.hash = '#/settings'; });
  await page.waitForSelector('#storage', { timeout: 10_000 });
  const row = page.locator(`#storage tr[data-author="${author}"]`);
  try {
    await row.waitFor({ timeout: 2_000 });
  } catch {
    return { entries: 0, bytes: 0 };
  }
  return {
    entries: Number(await row.getAttribute('data-entries')),
    bytes: Number(await row.getAttribute('data-bytes')),
  };
}

/** Polls `page`'s store until it holds `want` entries of `author`, or nothing new for `quietMs`. */
async function waitHeld(page, author, want) {
  let last = await held(page, author);
  let changed = Date.now();
  while (last.entries < want && Date.now() - changed < quietMs) {
    await sleep(500);
    const now = await held(page, author);
    if (now.entries !== last.entries) changed = Date.now();
    last = now;
  }
  return last;
}

const node = new NodeProcess();
await node.start();
const contexts = [];
let out;
try {
  const open = async () => {
    const ctx = await launchProfile(mkdtempSync(join(tmpdir(), 'kith-bench-')));
    contexts.push(ctx);
    return ctx.pages()[0] ?? ctx.newPage();
  };
  const a = await open();
  if (process.env.KITH_BENCH_CONSOLE) a.on('console', (m) => process.stderr.write(`A: ${m.text()}\n`));
  await a.goto(baseUrl);
  await restore(a, backupFile, passphrase);
  await a.waitForSelector('#timeline article.post', { timeout: 300_000 });
  await waitState(a, 'connected');
  // A restored backup waits to hear of posts made on another device since; there is none, and
  // nobody else holds the feed yet, so A goes ahead as a person would.
  if (await a.locator('#own-check').count()) {
    await a.click('#go-ahead');
    await a.waitForSelector('#own-check', { state: 'detached', timeout: 10_000 });
  }
  await a.click('#nav-profile');
  const link = await a.inputValue('#my-link');
  const author = await a.getAttribute('section.profile[data-author]', 'data-author');
  const own = await waitHeld(a, author, backfillPosts + 1);
  process.stderr.write(`A holds ${own.entries} entries (${own.bytes} bytes) of its feed\n`);
  await a.click('#nav-home');

  const b = await open();
  await b.goto(baseUrl);
  await onboard(b, { name: 'Bench B bytes', handle: 'bench_b_bytes' });
  await waitState(b, 'connected');
  await b.goto(link);
  await b.waitForSelector('#follow');
  // Let start-up traffic (reservations, DHT announcements) settle before counting.
  await sleep(3_000);
  const before = await counters();
  await b.click('#follow');
  await b.waitForSelector('#status:not([data-direct="0"])', { timeout: 30_000 });
  const backfilled = await waitHeld(b, author, own.entries);
  process.stderr.write(`B holds ${backfilled.entries} entries (${backfilled.bytes} bytes) after the backfill\n`);
  await b.evaluate(() => { location.hash = '#/'; });

  const t0 = Date.now();
  for (let i = 1; i <= livePosts; i++) {
    const text = `Live post ${i} of ${livePosts}: the quick brown fox jumps over the lazy dog.`;
    await a.fill('#compose', text);
    await a.click('#compose ~ .compose-foot button[type=submit]');
    await a.waitForSelector(postByText(text), { timeout: 10_000 });
  }
  process.stderr.write(`A posted ${livePosts} in ${Date.now() - t0} ms\n`);
  const end = await waitHeld(b, author, backfilled.entries + livePosts);
  const direct = await b.getAttribute('#status', 'data-direct');
  const after = await counters();
  const moved = end.bytes;
  const all = after.all - before.all;
  const gossip = after.gossipIn - before.gossipIn + (after.gossipOut - before.gossipOut);
  const ratio = (x) => Number((x / moved).toFixed(4));
  process.stderr.write(
    `node bytes ${all} (gossip messages ${gossip}), entry bytes moved ${moved}, B still direct to ${direct} peer(s)\n`,
  );
  if (backfilled.entries < backfillPosts) throw new Error(`the backfill stopped at ${backfilled.entries} entries`);
  out = {
    bytes_backfill_entries: backfilled.entries,
    bytes_live_posts: livePosts,
    bytes_live_lost: Math.max(0, livePosts - (end.entries - backfilled.entries)),
    entry_bytes_moved: moved,
    node_bytes: all,
    node_bytes_ratio: ratio(all),
    node_gossip_bytes_ratio: ratio(gossip),
    relayed_bytes_ratio: ratio(all - gossip),
  };
} finally {
  for (const c of contexts) await c.close();
  await node.stop();
}
console.log(JSON.stringify(out));
