// App benchmarks in headless Chromium against a release kith-node and the release app.
// Prints one JSON object of figures on stdout; `cargo xtask bench` merges it into the report.
//
// - first_post_ms: a warm start (the same browser profile reloading the page, HTTP cache and
//   IndexedDB warm) holding 1,000 stored posts: from navigation start to the first post on
//   screen (the app's `performance.mark('kith:first-post')`).
// - screen_delivery_ms_p50/p99: A clicks Post; B (another browser profile, following A, with
//   A's profile open) shows the post, both opened with `?direct=off`, so the post goes through
//   kith-node. Both times are Date.now() on this machine. One post at a time, 50 ms after the
//   previous one was seen, so each figure is one post's trip and not the queue behind a burst
//   (B stores each live entry before taking the next from the network). A post not on B's
//   screen within 10 s is counted in screen_delivery_lost.
// - screen_delivery_direct_ms_p50/p99 (and _lost): the same with a second pair in default
//   mode, connected directly over /webrtc (checked before and after). The two pairs take
//   turns in rounds of posts, and screen_delivery_direct_ratio_p50 is direct p50 / via-node p50.
// - notify_ms_p50/p99 (and notify_lost): B, who follows A, replies to A's post on A's
//   profile; A (who does not follow B, so only the notification carries it) is on Home: from
//   B's click on Reply to A's unread count going up. Through kith-node (the `?direct=off`
//   pair), one reply at a time.
// - dm_ms_p50/p99 (and dm_lost): A writes to B (who follows A) with both on their
//   conversation: from A's click on Send to the message on B's screen. The same pair
//   through kith-node (`?direct=off`), then dm_direct_ms_p50/p99 with the direct pair; one
//   message at a time. A message not on B's screen within 10 s is counted as lost.
// - image_fetch_ms_p50/p99 (and image_fetch_lost): A posts a post with one picture (about
//   200 KB once A's browser has re-encoded it; image_bytes_p50 says how large) on Home; B,
//   who follows A and has A's profile open, shows the post with a placeholder and asks for the
//   picture: from the post on B's screen to the picture shown there. The path: B's app finds
//   the image missing in IndexedDB, B's agent asks the holders (A first) over
//   /kith/image/1.0.0, checks the bytes against the hash the post names, keeps them, and
//   the screen shows them. Through kith-node (`?direct=off`), then image_fetch_direct_ms_*
//   over /webrtc; one post at a time. A picture not shown within 20 s is counted as lost.
// - direct_connect_ms_p50: a fresh follower (its own profile, online) clicks Follow on A's
//   profile; until its status bar counts a direct connection.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, NodeProcess, baseUrl, onboard, photo, restore, waitState } from './lib.mjs';

const backupFile = process.env.KITH_BENCH_BACKUP;
const passphrase = process.env.KITH_BENCH_BACKUP_PASS;
const loads = Number(process.env.KITH_BENCH_RUNS ?? 7);
const deliveries = Number(process.env.KITH_BENCH_DELIVERIES ?? 100);
const gapMs = Number(process.env.KITH_BENCH_GAP_MS ?? 50);
const rounds = 4;
const followers = Number(process.env.KITH_BENCH_FOLLOWERS ?? 5);
const notifications = Number(process.env.KITH_BENCH_NOTIFICATIONS ?? 20);
const images = Number(process.env.KITH_BENCH_IMAGES ?? 10);
// A post not on B's screen this long after the click counts as lost.
const lostAfterMs = 10_000;
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

/** A and B in two browser profiles at `query`, B following A with A's profile open. */
async function pair(name, query) {
  const a = await profile();
  await a.goto(`${baseUrl}/${query}`);
  await onboard(a, { name: `Bench A ${name}`, handle: `bench_a_${name}` });
  const b = await profile();
  await b.goto(`${baseUrl}/${query}`);
  await onboard(b, { name: `Bench B ${name}`, handle: `bench_b_${name}` });
  await waitState(a, 'connected');
  await waitState(b, 'connected');
  await a.click('#nav-profile');
  // The follow link keeps the query, so B stays as configured.
  const url = new URL(await a.inputValue('#my-link'));
  url.search = query;
  await b.goto(url.href);
  await b.click('#follow');
  await b.waitForSelector('#unfollow');
  if (query === '') await b.waitForSelector('#status:not([data-direct="0"])', { timeout: 30_000 });
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
  const d = { name, a, b, link: url.href, ms: [], lost: 0, next: 0 };
  // The first post warms the gossip mesh; it is not counted.
  await post1(d);
  d.ms.length = 0;
  d.lost = 0;
  return d;
}

/** Posts `n` on `d.a`, one at a time, timing each to `d.b`'s screen. */
async function deliver(d, n) {
  for (let i = 0; i < n; i++) {
    await post1(d);
    await new Promise((r) => setTimeout(r, gapMs));
  }
}

async function post1(d) {
  const i = d.next++;
  await d.a.fill('#compose', `bench ${i}`);
  const t0 = await d.a.evaluate(() => {
    const t = Date.now();
    document.querySelector('#compose ~ .compose-foot button[type=submit]').click();
    return t;
  });
  const seen = await d.b
    .waitForFunction((k) => window.__seen[k], String(i), { timeout: lostAfterMs })
    .then((h) => h.jsonValue(), () => undefined);
  if (seen === undefined) d.lost += 1;
  else d.ms.push(seen - t0);
}

/** B replies `n` times to a post of A's; each timed to A's unread count going up. */
async function notify(d, n) {
  await d.a.click('#nav-home');
  await d.a.fill('#compose', 'notify target');
  await d.a.click('#compose ~ .compose-foot button[type=submit]');
  const card = d.b.locator('article.post:has(> .post-text:text-is("notify target"))').first();
  await card.waitFor({ timeout: 30_000 });
  // B's follow was a notification too: A reads the list first, so the count starts from
  // nothing and each reply is the next number.
  await d.a.click('#nav-notifications');
  await d.a.waitForSelector('#notes');
  await d.a.waitForSelector('#unread', { state: 'detached' });
  await d.a.click('#nav-home');
  await d.a.waitForSelector('#compose');
  await d.a.evaluate(() => {
    window.__unread = {};
    new MutationObserver(() => {
      const k = document.querySelector('#unread')?.textContent;
      if (k && !(k in window.__unread)) window.__unread[k] = Date.now();
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
  const result = { ms: [], lost: 0 };
  for (let i = 1; i <= n; i++) {
    await card.locator('> .post-actions .reply-button').click();
    await card.locator('> form.compose textarea').fill(`reply ${i}`);
    const t0 = await card.locator('> form.compose button[type=submit]').evaluate((b) => {
      const t = Date.now();
      b.click();
      return t;
    });
    const seen = await d.a
      .waitForFunction((k) => window.__unread[k], String(i), { timeout: lostAfterMs })
      .then((h) => h.jsonValue(), () => undefined);
    if (seen === undefined) result.lost += 1;
    else result.ms.push(seen - t0);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return result;
}

/** The author id of the person whose page `page` is (from their profile screen). */
async function idOf(page) {
  await page.click('#nav-profile');
  return page.getAttribute('section.profile', 'data-author');
}

/** A writes `n` messages to B, each timed from A's click on Send to the message on B's
 * screen, with both on their conversation (opened by the fragment, so the page's mode stays). */
async function dm(d, n) {
  const [aId, bId] = [await idOf(d.a), await idOf(d.b)];
  await d.a.evaluate((h) => { location.hash = h; }, `#/messages/${bId}`);
  await d.a.waitForSelector('#letter-text');
  await d.b.evaluate((h) => { location.hash = h; }, `#/messages/${aId}`);
  await d.b.waitForSelector('#letter-text');
  await d.b.evaluate(() => {
    window.__letters = {};
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('#letters li.letter.theirs .letter-text')) {
        if (!(el.textContent in window.__letters)) window.__letters[el.textContent] = Date.now();
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
  const result = { ms: [], lost: 0 };
  for (let i = 1; i <= n; i++) {
    const text = `dm ${d.name} ${i}`;
    await d.a.fill('#letter-text', text);
    const t0 = await d.a.locator('#send-letter').evaluate((b) => {
      const t = Date.now();
      b.click();
      return t;
    });
    const seen = await d.b
      .waitForFunction((k) => window.__letters[k], text, { timeout: lostAfterMs })
      .then((h) => h.jsonValue(), () => undefined);
    if (seen === undefined) result.lost += 1;
    else result.ms.push(seen - t0);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return result;
}

/** A posts `n` posts of one picture each; times each from the post on B's screen to its
 * picture shown there. */
async function pictures(d, n) {
  // A on Home, B on A's profile (hash changes: the pages, and their connections, stay).
  const aId = await idOf(d.a);
  await d.a.click('#nav-home');
  await d.b.evaluate((h) => { location.hash = h; }, `#/profile/${aId}`);
  await d.b.waitForSelector(`section.profile[data-author="${aId}"]`);
  await d.b.evaluate(() => {
    window.__pics = {};
    const look = () => {
      for (const el of document.querySelectorAll('article.post')) {
        const m = /^picture (\S+)$/.exec(el.querySelector('.post-text')?.textContent ?? '');
        if (!m) continue;
        const rec = window.__pics[m[1]] ??= { post: Date.now() };
        const img = el.querySelector('.post-images img.picture');
        if (img && !rec.shown) rec.shown = Date.now();
      }
    };
    new MutationObserver(look).observe(document.body, { childList: true, subtree: true, attributes: true });
  });
  const result = { ms: [], bytes: [], lost: 0 };
  for (let i = 1; i <= n; i++) {
    const key = `${d.name}-${i}`;
    await d.a.setInputFiles('.compose .picture-input', {
      name: `bench-${key}.png`, mimeType: 'image/png', buffer: photo(640, 480, i, 'bench', 96),
    });
    await d.a.waitForSelector('.compose .attachments .attached', { timeout: 30_000 });
    await d.a.fill('#compose', `picture ${key}`);
    await d.a.click('#compose ~ .compose-foot button[type=submit]');
    const rec = await d.b
      .waitForFunction((k) => window.__pics[k]?.shown && window.__pics[k], key, { timeout: 20_000 })
      .then((h) => h.jsonValue(), () => undefined);
    if (rec === undefined) {
      result.lost += 1;
    } else {
      result.ms.push(rec.shown - rec.post);
      // Its size, as kept in B's IndexedDB (the page's CSP lets no script fetch a blob URL).
      result.bytes.push(await d.b.evaluate((k) => new Promise((ok, fail) => {
        const post = [...document.querySelectorAll('article.post')]
          .find((el) => el.querySelector('.post-text')?.textContent === `picture ${k}`);
        const hash = post.querySelector('.post-images img.picture').dataset.hash;
        const open = indexedDB.open('kith');
        open.onerror = () => fail(open.error);
        open.onsuccess = () => {
          const req = open.result.transaction('images').objectStore('images').index('hash').get(hash);
          req.onsuccess = () => { open.result.close(); ok(req.result.b.length); };
          req.onerror = () => fail(req.error);
        };
      }), key));
    }
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return result;
}

const node = new NodeProcess();
await node.start();
const firstPost = [];
const connect = [];
const figures = {};
try {
  // Warm start with 1,000 stored posts, restored from a backup through the welcome screen.
  const p = await profile();
  await p.goto(baseUrl);
  await restore(p, backupFile, passphrase);
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

  // Delivery between two browsers, through kith-node and directly, interleaved in rounds so
  // both see the same machine; then how long a new follower takes to connect directly.
  const viaNode = await pair('node', '?direct=off');
  const direct = await pair('direct', '');
  for (const page of [viaNode.a, viaNode.b]) {
    if ((await page.getAttribute('#status', 'data-direct')) !== '0') throw new Error('?direct=off went direct');
  }
  for (let r = 0; r < rounds; r++) {
    await deliver(viaNode, Math.ceil(deliveries / rounds));
    await deliver(direct, Math.ceil(deliveries / rounds));
  }
  // Still direct at the end: the direct figures are of the direct path.
  await direct.b.waitForSelector('#status[data-direct="1"]', { timeout: 5_000 });
  for (const d of [viaNode, direct]) {
    process.stderr.write(`screen delivery ${d.name}: min ${Math.min(...d.ms)} max ${Math.max(...d.ms)} n=${d.ms.length} lost=${d.lost}\n`);
  }
  const notes = await notify(viaNode, notifications);
  process.stderr.write(`notify_ms: ${notes.ms.join(', ')} lost=${notes.lost}\n`);
  figures.notify_ms_p50 = median(notes.ms);
  figures.notify_ms_p99 = pct(notes.ms, 99);
  figures.notify_replies = notes.ms.length;
  figures.notify_lost = notes.lost;
  for (const [d, key] of [[viaNode, 'dm'], [direct, 'dm_direct']]) {
    const letters = await dm(d, notifications);
    process.stderr.write(`${key}_ms: ${letters.ms.join(', ')} lost=${letters.lost}\n`);
    figures[`${key}_ms_p50`] = median(letters.ms);
    figures[`${key}_ms_p99`] = pct(letters.ms, 99);
    figures[`${key}_messages`] = letters.ms.length;
    figures[`${key}_lost`] = letters.lost;
  }
  for (const [d, key] of [[viaNode, 'image_fetch'], [direct, 'image_fetch_direct']]) {
    const pics = await pictures(d, images);
    process.stderr.write(`${key}_ms: ${pics.ms.join(', ')} bytes: ${pics.bytes.join(', ')} lost=${pics.lost}\n`);
    figures[`${key}_ms_p50`] = median(pics.ms);
    figures[`${key}_ms_p99`] = pct(pics.ms, 99);
    figures[`${key}_images`] = pics.ms.length;
    figures[`${key}_lost`] = pics.lost;
    if (key === 'image_fetch') figures.image_bytes_p50 = median(pics.bytes);
  }
  for (let i = 0; i < followers; i++) {
    const c = await profile();
    await c.goto(baseUrl);
    await onboard(c, { name: `Bench follower ${i}`, handle: `bench_f${i}` });
    await waitState(c, 'connected');
    await c.goto(direct.link);
    await c.waitForSelector('#follow');
    const t0 = await c.evaluate(() => {
      const t = Date.now();
      document.querySelector('#follow').click();
      return t;
    });
    // data-direct counts this tab's direct connections: its first one is to A.
    await c.waitForSelector('#status:not([data-direct="0"])', { timeout: 30_000 });
    connect.push((await c.evaluate(() => Date.now())) - t0);
    await c.context().close();
    contexts.splice(contexts.indexOf(c.context()), 1);
  }
  process.stderr.write(`direct_connect_ms: ${connect.join(', ')}\n`);
  figures.screen_delivery_ms_p50 = median(viaNode.ms);
  figures.screen_delivery_ms_p99 = pct(viaNode.ms, 99);
  figures.screen_delivery_posts = viaNode.ms.length;
  figures.screen_delivery_lost = viaNode.lost;
  figures.screen_delivery_direct_ms_p50 = median(direct.ms);
  figures.screen_delivery_direct_ms_p99 = pct(direct.ms, 99);
  figures.screen_delivery_direct_posts = direct.ms.length;
  figures.screen_delivery_direct_lost = direct.lost;
  figures.screen_delivery_direct_ratio_p50 = Number((median(direct.ms) / median(viaNode.ms)).toFixed(2));
  figures.direct_connect_ms_p50 = median(connect);
  figures.direct_connect_runs = connect.length;
} finally {
  for (const c of contexts) await c.close();
  await node.stop();
}
console.log(JSON.stringify({
  first_post_ms: Number(median(firstPost).toFixed(1)),
  first_post_runs: firstPost.length,
  ...figures,
}));
