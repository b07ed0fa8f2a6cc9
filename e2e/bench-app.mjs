// App benchmarks in headless Chromium against a release kith-node and the release app.
// Prints one JSON object of figures on stdout; `cargo xtask bench` merges it into the report.
//
// - first_post_ms: a warm start (the same browser profile reloading the page, HTTP cache and
//   IndexedDB warm) holding 1,000 stored posts: from navigation start to the first post on
//   screen (the app's `performance.mark('kith:first-post')`).
// - screen_delivery_ms_p50/p99: A clicks Post; B (another browser profile, following A, with
//   A's profile open) shows the post. Both times are Date.now() on this machine. One post at a
//   time, 50 ms after the previous one was seen, so each figure is one post's trip and not the
//   queue behind a burst (B stores each live entry before taking the next from the network).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, NodeProcess, baseUrl, onboard, waitState } from './lib.mjs';

const backupFile = process.env.KITH_BENCH_BACKUP;
const passphrase = process.env.KITH_BENCH_BACKUP_PASS;
const loads = Number(process.env.KITH_BENCH_RUNS ?? 7);
const deliveries = Number(process.env.KITH_BENCH_DELIVERIES ?? 100);
const gapMs = Number(process.env.KITH_BENCH_GAP_MS ?? 50);
if (!backupFile || !passphrase) throw new Error('run through `cargo xtask bench`');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

const contexts = [];
async function profile() {
  const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'kith-bench-')), {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 800 },
  });
  contexts.push(ctx);
  return ctx.pages()[0] ?? ctx.newPage();
}

const node = new NodeProcess();
await node.start();
const firstPost = [];
const delivery = [];
try {
  // Warm start with 1,000 stored posts, restored from a backup through the welcome screen.
  const p = await profile();
  await p.goto(baseUrl);
  await p.waitForSelector('#onboarding', { timeout: 30_000 });
  await p.setInputFiles('#restore-file', backupFile);
  await p.fill('#restore-pass', passphrase);
  await p.click('#restore-button');
  await p.waitForSelector('#timeline article.post', { timeout: 120_000 });
  for (let i = 0; i < loads; i++) {
    await p.reload();
    await p.waitForSelector('#timeline article.post', { timeout: 30_000 });
    const t = await p.evaluate(() => performance.getEntriesByName('kith:first-post')[0]?.startTime);
    if (typeof t !== 'number') throw new Error('the app did not mark its first post');
    firstPost.push(t);
  }
  const count = await p.locator('#timeline > article.post').count();
  process.stderr.write(`first_post_ms: ${firstPost.map((t) => t.toFixed(1)).join(', ')} (${count} posts on the first page)\n`);

  // Delivery between two browsers.
  const a = await profile();
  await a.goto(baseUrl);
  await onboard(a, { name: 'Bench A', handle: 'bench_a' });
  const b = await profile();
  await b.goto(baseUrl);
  await onboard(b, { name: 'Bench B', handle: 'bench_b' });
  await waitState(a, 'connected');
  await waitState(b, 'connected');
  await a.click('#nav-profile');
  const link = await a.inputValue('#my-link');
  await b.goto(link);
  await b.click('#follow');
  await b.waitForSelector('#unfollow');
  await b.evaluate(() => {
    window.__seen = {};
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('.post-text')) {
        const m = /^bench (\d+)$/.exec(el.textContent);
        if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = Date.now();
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
  await a.click('#nav-home');
  for (let i = 0; i <= deliveries; i++) {
    await a.fill('#compose', `bench ${i}`);
    const t0 = await a.evaluate(() => {
      const t = Date.now();
      document.querySelector('#compose ~ .compose-foot button[type=submit]').click();
      return t;
    });
    await b.waitForFunction((n) => window.__seen[n] !== undefined, String(i), { timeout: 30_000 });
    const seen = await b.evaluate((n) => window.__seen[n], String(i));
    // The first post warms the gossip mesh; it is not counted.
    if (i > 0) delivery.push(seen - t0);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  process.stderr.write(`screen_delivery_ms: min ${Math.min(...delivery)} max ${Math.max(...delivery)} n=${delivery.length}\n`);
} finally {
  for (const c of contexts) await c.close();
  await node.stop();
}
console.log(JSON.stringify({
  first_post_ms: Number(median(firstPost).toFixed(1)),
  first_post_runs: firstPost.length,
  screen_delivery_ms_p50: median(delivery),
  screen_delivery_ms_p99: pct(delivery, 99),
  screen_delivery_posts: delivery.length,
}));
