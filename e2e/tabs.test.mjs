// End to end: two tabs of one browser profile. One tab (the Web Lock holder) runs the node;
// the other shows the same timeline and posts through it; closing the holder hands the node
// to the other tab. A follower in another profile gets every post, in one unbroken chain.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  NodeProcess, baseUrl, ensureOutDir, launchProfile, scratchDir, onboard, post, postByText, seeOnHome, seriousProblems,
  restore, waitState, watchPage,
} from './lib.mjs';

const out = ensureOutDir();
let node;
const contexts = new Set();

async function profile(name) {
  const context = await launchProfile(scratchDir(`kith-e2e-tabs-${name}-`));
  contexts.add(context);
  return context;
}

/** Closes a profile's browser for good (the rest are closed after the tests). */
async function closeProfile(context) {
  contexts.delete(context);
  await context.close();
}

/** A new person who onboards and follows the owner of `link`, called `name` there. */
async function follower(who, link, name) {
  const context = await profile(who.toLowerCase());
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(baseUrl);
  await onboard(page, { name: who, handle: who.toLowerCase() });
  await waitState(page, 'connected');
  await page.goto(link);
  await page.waitForSelector(`#profile-name:text-is("${name}")`);
  await page.click('#follow');
  await page.waitForSelector('#unfollow');
  await page.click('#nav-home');
  return page;
}

const BACKUP_PASS = 'correct horse battery';

/** Downloads `page`'s encrypted backup from Settings into target/e2e/`file`. */
async function backup(page, file) {
  await page.click('#nav-settings');
  await page.fill('#backup-pass', BACKUP_PASS);
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#backup-button')]);
  const path = join(out, file);
  await download.saveAs(path);
  return path;
}

/** A new browser profile called `name` that restores the backup at `path` from the welcome screen. */
async function restored(name, path) {
  const context = await profile(name);
  const page = context.pages()[0] ?? await context.newPage();
  const problems = watchPage(page);
  await page.goto(baseUrl);
  await restore(page, path, BACKUP_PASS);
  await page.waitForSelector('#my-fingerprint', { timeout: 60_000 });
  return { page, problems };
}

before(async () => {
  node = new NodeProcess();
  await node.start();
});
after(async () => {
  for (const c of [...contexts]) await closeProfile(c);
  await node?.stop();
});


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

  const b = await follower('Bob', link, 'Alice');

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

test('a backup restored in another browser waits for posts made since, then continues the same chain', async () => {
  const dana = await profile('dana');
  const d = dana.pages()[0] ?? await dana.newPage();
  await d.goto(baseUrl);
  await onboard(d, { name: 'Dana', handle: 'dana' });
  await viaTab(d, false);
  await post(d, 'Before the backup');
  await d.click('#nav-profile');
  const link = await d.inputValue('#my-link');

  const e = await follower('Erin', link, 'Dana');
  await seeOnHome(e, 'Before the backup');

  // Dana backs up, then posts again: the backup is behind her feed.
  const backupPath = await backup(d, 'dana-backup.kith');
  await post(d, 'After the backup');
  await seeOnHome(e, 'After the backup');
  await closeProfile(dana);

  // A new browser restores the backup: posting waits until her feed is checked in the network,
  // and the post made after the backup arrives from Erin, who holds it.
  const { page: r, problems } = await restored('dana2', backupPath);
  await r.waitForSelector('#own-check[data-state="checking"]', { timeout: 5_000 });
  await r.screenshot({ path: join(out, 'restore-checking.png'), fullPage: true });
  await r.waitForSelector('#own-check', { state: 'detached', timeout: 60_000 });
  await seeOnHome(r, 'After the backup', 10_000);
  await post(r, 'From the restored browser');
  await seeOnHome(e, 'From the restored browser', 45_000);

  // Erin's copy is one chain.
  await e.click(`${postByText('From the restored browser')} .post-head a.name`);
  await e.waitForSelector('#profile-name:text-is("Dana")');
  for (const text of ['Before the backup', 'After the backup', 'From the restored browser']) {
    await e.waitForSelector(postByText(text), { timeout: 10_000 });
  }
  assert.equal(await e.locator('#forked').count(), 0, 'Erin saw a fork of Dana\'s feed');
  assert.deepEqual(seriousProblems(problems), []);
});

test('a backup restored in a second browser while the first is live: both stay online, each sees the other\'s posts, and the feed never forks', async () => {
  const frank = await profile('frank');
  const f = frank.pages()[0] ?? await frank.newPage();
  const problems1 = watchPage(f);
  await f.goto(baseUrl);
  await onboard(f, { name: 'Frank', handle: 'frank' });
  await viaTab(f, false);
  await post(f, 'Frank before the backup');
  await f.click('#nav-profile');
  const link = await f.inputValue('#my-link');
  const g = await follower('Gina', link, 'Frank');
  await seeOnHome(g, 'Frank before the backup');

  const backupPath = await backup(f, 'frank-backup.kith');
  await post(f, 'Frank after the backup');
  await seeOnHome(g, 'Frank after the backup');

  // The first browser stays open while a second one restores the backup.
  const { page: r, problems: problems2 } = await restored('frank2', backupPath);
  // The check of the feed ends with the post made after the backup, which the first browser
  // (or Gina) serves.
  await seeOnHome(r, 'Frank after the backup', 60_000);
  await r.waitForSelector('#own-check', { state: 'detached', timeout: 30_000 });
  // Two devices of one person are two peers: the second does not knock the first offline.
  await waitState(r, 'connected');
  await waitState(f, 'connected');
  const localPeer = async (page) => {
    await page.click('#nav-network');
    await page.waitForSelector('#local-peer[title^="12D3"]', { timeout: 10_000 });
    return page.getAttribute('#local-peer', 'title');
  };
  const peer1 = await localPeer(f);
  const peer2 = await localPeer(r);
  assert.ok(peer1 && peer2 && peer1 !== peer2, `two peer ids: ${peer1} ${peer2}`);
  await f.click('#nav-home');
  await r.click('#nav-home');

  // Each browser's post reaches the other live, and the follower.
  await post(r, 'From the restored browser');
  await seeOnHome(f, 'From the restored browser');
  await seeOnHome(g, 'From the restored browser');
  await post(f, 'From the first browser again');
  await seeOnHome(r, 'From the first browser again');
  await seeOnHome(g, 'From the first browser again');
  await waitState(f, 'connected', 1_000);
  await waitState(r, 'connected', 1_000);
  await f.screenshot({ path: join(out, 'two-devices-first.png'), fullPage: true });
  await r.screenshot({ path: join(out, 'two-devices-restored.png'), fullPage: true });

  // One chain everywhere: the follower's copy and both devices' own copies hold every post
  // and no fork.
  const texts = ['Frank before the backup', 'Frank after the backup', 'From the restored browser', 'From the first browser again'];
  await g.click(`${postByText('From the first browser again')} .post-head a.name`);
  await g.waitForSelector('#profile-name:text-is("Frank")');
  for (const page of [g, f, r]) {
    if (page !== g) {
      await page.click('#nav-profile');
      await page.waitForSelector('#profile-name:text-is("Frank")');
    }
    for (const text of texts) await page.waitForSelector(postByText(text), { timeout: 10_000 });
    assert.equal(await page.locator('#forked').count(), 0, 'a fork of Frank\'s feed');
  }
  assert.deepEqual(seriousProblems([...problems1, ...problems2]), []);
});
