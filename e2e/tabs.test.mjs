// End to end: two tabs of one browser profile. One tab (the Web Lock holder) runs the node;
// the other shows the same timeline and posts through it; closing the holder hands the node
// to the other tab. A follower in another profile gets every post, in one unbroken chain.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM_ARGS, NodeProcess, baseUrl, ensureOutDir, onboard, seriousProblems, waitState, watchPage,
} from './lib.mjs';

const out = ensureOutDir();
let node;
const contexts = [];

async function profile(name) {
  const dir = mkdtempSync(join(tmpdir(), `kith-e2e-tabs-${name}-`));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 800 },
  });
  contexts.push(context);
  return context;
}

before(async () => {
  node = new NodeProcess();
  await node.start();
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await node?.stop();
});

const postByText = (text) => `article.post:has(> .post-text:text-is("${text}"))`;

async function post(page, text) {
  await page.click('#nav-home');
  await page.fill('#compose', text);
  await page.click('#compose ~ .compose-foot button[type=submit]');
  await page.waitForSelector(postByText(text), { timeout: 10_000 });
}

async function seeOnHome(page, text, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await page.locator(postByText(text)).count()) return;
    const pill = page.locator('#new-posts');
    if (await pill.count()) await pill.click();
    await page.waitForTimeout(200);
  }
  throw new Error(`"${text}" never appeared on the home timeline`);
}

const viaTab = (page, yes, timeout = 30_000) =>
  page.waitForSelector(`#status[data-state="connected"][data-via-tab="${yes}"]`, { timeout });

test('two tabs of one profile: one node, both post, a follower gets one chain, the node moves on close', async () => {
  const alice = await profile('alice');
  const a1 = alice.pages()[0] ?? await alice.newPage();
  const problems1 = watchPage(a1);
  await a1.goto(baseUrl);
  await onboard(a1, { name: 'Alice', handle: 'alice' });
  await viaTab(a1, false);
  await a1.click('#nav-profile');
  const link = await a1.inputValue('#my-link');

  const bob = await profile('bob');
  const b = bob.pages()[0] ?? await bob.newPage();
  await b.goto(baseUrl);
  await onboard(b, { name: 'Bob', handle: 'bob' });
  await waitState(b, 'connected');
  await b.goto(link);
  await b.waitForSelector('#profile-name:text-is("Alice")');
  await b.click('#follow');
  await b.waitForSelector('#unfollow');
  await b.click('#nav-home');

  // The second tab of Alice's profile: the same person, connected through the first tab.
  const a2 = await alice.newPage();
  const problems2 = watchPage(a2);
  await a2.goto(baseUrl);
  await a2.waitForSelector('#my-fingerprint', { timeout: 30_000 });
  assert.equal(await a2.textContent('#my-fingerprint'), await a1.textContent('#my-fingerprint'));
  await viaTab(a2, true);
  await a2.screenshot({ path: join(out, 'second-tab.png'), fullPage: true });

  // Each tab posts; both tabs and the follower see both posts.
  await post(a1, 'From the first tab');
  await seeOnHome(a2, 'From the first tab');
  await seeOnHome(b, 'From the first tab');
  await post(a2, 'From the second tab');
  await seeOnHome(a1, 'From the second tab');
  await seeOnHome(b, 'From the second tab');
  // Posting from both at once: each post lands once, in one chain.
  await Promise.all([post(a1, 'Both at once, one'), post(a2, 'Both at once, two')]);
  for (const text of ['Both at once, one', 'Both at once, two']) {
    await seeOnHome(b, text);
    await seeOnHome(a1, text);
    await seeOnHome(a2, text);
  }

  // Closing the holder hands the node to the second tab, which keeps posting.
  await a1.close();
  await viaTab(a2, false, 30_000);
  await post(a2, 'After the handover');
  await seeOnHome(b, 'After the handover', 45_000);

  // Bob's copy of Alice's feed is one chain: every post on her profile, no fork warning.
  await b.click('article.post .post-head a.name >> nth=0');
  await b.waitForSelector('#profile-name:text-is("Alice")');
  for (const text of ['From the first tab', 'From the second tab', 'Both at once, one', 'Both at once, two', 'After the handover']) {
    await b.waitForSelector(postByText(text), { timeout: 10_000 });
  }
  assert.equal(await b.locator('#forked').count(), 0, 'Bob saw a fork of Alice\'s feed');
  await b.screenshot({ path: join(out, 'follower-after-two-tabs.png'), fullPage: true });
  assert.deepEqual(seriousProblems([...problems1, ...problems2]), []);
});
