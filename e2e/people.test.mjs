// Mute and block, end to end through the real UI, with one real kith-node: Alice mutes Carol
// (her posts leave Alice's home, through a reload too, and return when Alice unmutes in
// Settings), then blocks her (Carol cannot fetch Alice's feed from Alice, even after a live
// post shows her there is more), then unblocks her (the next post brings the whole feed).
// Carol then searches the posts she holds as she types, and muting Alice takes hers out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  linkOf, nodeForFile, Person, post, postByText, reported, seeOnHome, seriousProblems, waitState,
} from './lib.mjs';

const node = nodeForFile();

test('mute hides a person until undone; block stops serving them your feed until unblocked; search as you type', async () => {
  const alice = new Person('Alice');
  const carol = new Person('Carol');
  await reported([alice, carol], node, () => muteAndBlock(alice, carol));
});

/** Opens `who`'s follow link on `page` (they must be on their own profile screen first). */
async function muteAndBlock(alice, carol) {
  const a = await alice.join();
  const c = await carol.join();
  const aliceLink = await linkOf(a);
  const carolLink = await linkOf(c);

  // Alice follows Carol; Carol's post reaches her home.
  await a.goto(carolLink);
  await a.click('#follow');
  await a.waitForSelector('#unfollow');
  await post(c, 'Carol says hi');
  await seeOnHome(a, 'Carol says hi');

  // Mute from Carol's profile: her post leaves home, and stays gone after a reload.
  await a.goto(carolLink);
  await a.click('#mute');
  await a.waitForSelector('.notice:has-text("Muted Carol")');
  await a.waitForSelector('#stance-note[data-stance=muted]');
  await a.waitForSelector('#unmute');
  await alice.shot('people-muted-profile');
  await a.click('#nav-home');
  await a.waitForSelector('#compose');
  assert.equal(await a.locator(postByText('Carol says hi')).count(), 0, 'a muted post is hidden');
  await a.reload();
  await waitState(a, 'connected');
  await a.waitForSelector('#compose');
  assert.equal(await a.locator(postByText('Carol says hi')).count(), 0, 'still hidden after a reload');
  // Still followed: new posts arrive, hidden too.
  await post(c, 'Carol again');
  await a.click('#nav-settings');
  const listed = a.locator('#people li[data-stance=muted]');
  await listed.waitFor();
  assert.match(await listed.textContent(), /Carol/);
  await alice.shot('people-settings');
  // Unmute from Settings: both posts return.
  await listed.locator('.undo-stance').click();
  await a.waitForSelector('.notice:has-text("Carol is no longer muted.")');
  await a.waitForSelector('#no-people');
  await a.click('#nav-home');
  await seeOnHome(a, 'Carol says hi');
  await seeOnHome(a, 'Carol again');

  // Block: Carol, who holds nothing of Alice's feed, cannot fetch it from Alice.
  await post(a, 'Before the block');
  await a.goto(carolLink);
  await a.click('#block');
  await a.waitForSelector('.notice:has-text("Blocked Carol")');
  await a.waitForSelector('#stance-note[data-stance=blocked]');
  await c.goto(aliceLink);
  // Not even her profile comes through: the page knows her only by her key.
  await c.waitForSelector('#follow');
  await c.click('#follow');
  await c.waitForSelector('#unfollow');
  // Carol's app gives up on the sync: Alice, the one holder, refuses her.
  // (Her name is unknown to Carol's page: the notice names her by her fingerprint.)
  await c.waitForSelector('.notice:has-text("posts is online right now")', { timeout: 30_000 });
  // A live post tells Carol there is more; its sync is refused too.
  await post(a, 'During the block');
  await c.click('#nav-home');
  await c.waitForSelector('#compose');
  await c.waitForTimeout(3_000);
  for (const text of ['Before the block', 'During the block']) {
    assert.equal(await c.locator(postByText(text)).count(), 0, `"${text}" did not reach Carol`);
  }
  await carol.shot('people-blocked-by-alice');

  // Unblock from Alice's profile of Carol: Alice's next post makes Carol fetch the whole feed.
  await a.goto(carolLink);
  await a.click('#unblock');
  await a.waitForSelector('.notice:has-text("Carol is no longer blocked.")');
  await a.waitForSelector('#block');
  await post(a, 'After the block');
  for (const text of ['After the block', 'During the block', 'Before the block']) {
    await seeOnHome(c, text);
  }

  // Search as she types: every post held here with the word, newest first; a muted
  // person's posts are left out.
  await c.click('#nav-discover');
  await c.locator('#search').pressSequentially('bloc');
  await c.waitForSelector('#post-results[data-total="3"]');
  const found = await c.locator('#post-results article.post .post-text').allTextContents();
  assert.deepEqual(found, ['After the block', 'During the block', 'Before the block']);
  await c.locator('#search').pressSequentially('k dur');
  await c.waitForSelector('#post-results[data-total="1"]');
  await carol.shot('people-search');
  await c.goto(aliceLink);
  await c.click('#mute');
  await c.waitForSelector('#unmute');
  await c.click('#nav-discover');
  await c.locator('#search').pressSequentially('block');
  await c.waitForSelector('#post-results[data-total="0"]');

  for (const p of [alice, carol]) assert.deepEqual(seriousProblems(p.problems), [], `${p.name}'s page errors`);
}
