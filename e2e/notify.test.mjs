// Notifications end to end through the real UI, with one real kith-node. Alice and Carol do
// not follow each other. Carol replies to Alice's post and mentions @alice: Alice's
// Notifications screen lists both (the count shows in the navigation first), and the reply is
// threaded under her post, marked as from someone she does not follow. Alice mutes Carol: the
// notifications and the reply leave her screens, and come back when she unmutes. Alice blocks
// Carol: Carol's next reply never reaches her. Carol reacts while Alice is offline: Alice sees
// it once she is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  baseUrl, linkOf, nodeForFile, Person, post, postByText, reported, seriousProblems, waitState,
} from './lib.mjs';

const node = nodeForFile();

test('replies, mentions and reactions from someone not followed reach you; mute hides them, block drops them', async () => {
  const alice = new Person('Alice');
  const carol = new Person('Carol');
  await reported([alice, carol], node, () => notifications(alice, carol));
});

/** Replies to the post with `text` on the screen `page` shows. */
async function reply(page, text, answer) {
  const card = page.locator(postByText(text)).first();
  await card.locator('> .post-actions .reply-button').click();
  await card.locator('> form.compose textarea').fill(answer);
  await card.locator('> form.compose button[type=submit]').click();
}

const note = (kind) => `#notes li.note[data-kind=${kind}]`;

async function notifications(alice, carol) {
  const a = await alice.join();
  const c = await carol.join();
  const aliceLink = await linkOf(a);
  await post(a, 'Hello from Alice');

  // Carol learns the handle @alice (for her mention), then opens Alice's profile, a preview
  // that shows the post, and replies there; she follows nobody.
  await c.click('#nav-discover');
  await c.fill('#search', '@alice');
  await c.click('form[role=search] button[type=submit]');
  await c.waitForSelector('#search-results li.person', { timeout: 30_000 });
  await c.goto(aliceLink);
  await c.waitForSelector(postByText('Hello from Alice'), { timeout: 30_000 });
  const sent = Date.now();
  await reply(c, 'Hello from Alice', 'Nice to meet you');
  await post(c, 'Thinking of @alice today');

  // Alice's navigation counts them, her Notifications screen lists them.
  await a.click('#nav-home');
  await a.waitForSelector('#unread:text-is("2")', { timeout: 30_000 });
  const notifyMs = Date.now() - sent;
  console.log(`notify_ms (reply posted → count on Alice's screen): ${notifyMs}`);
  await a.click('#nav-notifications');
  await a.waitForSelector(note('reply'));
  await a.waitForSelector(note('mention'));
  assert.match(await a.textContent(note('reply')), /replied to your post.*Nice to meet you/s);
  assert.match(await a.textContent(note('mention')), /Thinking of @alice today/);
  // Read: the count is gone.
  await a.waitForSelector('#unread', { state: 'detached' });
  await alice.shot('notifications');
  // The reply is threaded under her post, marked, with a Follow button.
  await a.click('#nav-home');
  const threaded = `${postByText('Hello from Alice')} > .replies ${postByText('Nice to meet you')}`;
  await a.waitForSelector(threaded);
  await a.waitForSelector(`${postByText('Hello from Alice')} > .replies .not-followed`);
  await alice.shot('notifications-thread');

  // Muted: gone from the thread and the list; unmuted: back.
  await a.click('#nav-notifications');
  const carolId = await a.getAttribute(note('reply'), 'data-author');
  assert.match(carolId ?? '', /^[0-9a-f]{64}$/, 'the note names its author');
  await a.goto(`${baseUrl}/#/profile/${carolId}`);
  await a.click('#mute');
  await a.waitForSelector('#unmute');
  await a.click('#nav-notifications');
  await a.waitForSelector('#no-notifications');
  await a.click('#nav-home');
  await a.waitForSelector(postByText('Hello from Alice'));
  assert.equal(await a.locator(threaded).count(), 0, 'a muted reply is hidden');
  await a.goto(`${baseUrl}/#/profile/${carolId}`);
  await a.click('#unmute');
  await a.waitForSelector('#mute');
  await a.click('#nav-notifications');
  await a.waitForSelector(note('reply'));

  // Blocked: Carol's next reply never reaches Alice.
  await a.goto(`${baseUrl}/#/profile/${carolId}`);
  await a.click('#block');
  await a.waitForSelector('#unblock');
  await c.goto(aliceLink);
  await c.waitForSelector(postByText('Hello from Alice'));
  await reply(c, 'Hello from Alice', 'A reply while blocked');
  await c.waitForSelector(postByText('A reply while blocked'));
  await a.waitForTimeout(5_000);
  // While blocked, her notifications are hidden; unblocked, the two from before come back,
  // and nothing more: the reply sent during the block was dropped on arrival.
  await a.click('#nav-notifications');
  await a.waitForSelector('#no-notifications');
  await a.goto(`${baseUrl}/#/profile/${carolId}`);
  await a.click('#unblock');
  await a.waitForSelector('#block');
  await a.click('#nav-notifications');
  await a.waitForSelector(note('reply'));
  assert.equal(await a.locator('#notes li.note').count(), 2, 'nothing new from a blocked person');

  // Alice goes offline; Carol reacts; Alice comes back and sees it.
  await alice.close();
  await c.goto(aliceLink);
  const card = c.locator(postByText('Hello from Alice')).first();
  await card.waitFor();
  await card.locator('> .post-actions button.react[data-emoji="🎉"]').click();
  await c.waitForTimeout(3_000);
  const back = await alice.launch();
  await back.goto(baseUrl);
  await waitState(back, 'connected');
  await back.click('#nav-notifications');
  await back.waitForSelector(note('reaction'), { timeout: 60_000 });
  assert.match(await back.textContent(note('reaction')), /reacted 🎉 to your post/);
  await alice.shot('notifications-after-offline');

  for (const p of [alice, carol]) assert.deepEqual(seriousProblems(p.problems), [], `${p.name}'s page errors`);
}
