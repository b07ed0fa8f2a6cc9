// End to end, browser to browser: two people in separate Chromium profiles follow each other
// through one real kith-node, their tabs connect directly over WebRTC (`/webrtc`), and posts
// and replies keep arriving while kith-node is stopped; when it comes back, everything goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Person, baseUrl, nodeForFile, post, postByText, reported, seeOnHome, seriousProblems,
  waitState,
} from './lib.mjs';

const node = nodeForFile();

test('A and B go direct; with kith-node stopped a post and a reply still arrive; the node comes back; C catches up on A from B, directly', async () => {
  const alice = new Person('Alice');
  const bob = new Person('Bob');
  const carol = new Person('Carol');
  await reported([alice, bob, carol], node, () => direct(alice, bob, carol));
});

/** Follows the person whose follow link is on `owner`'s profile screen, from `follower`. */
async function followByLink(owner, follower) {
  await owner.click('#nav-profile');
  const link = await owner.inputValue('#my-link');
  await follower.goto(link);
  await follower.click('#follow');
  await follower.waitForSelector('#unfollow');
}

async function direct(alice, bob, carol) {
  const t0 = Date.now();
  const mark = (what) => console.log(`${what}: ${Date.now() - t0} ms`);
  const a = await alice.join();
  const b = await bob.join();
  const bobFp = await b.textContent('#my-fingerprint');

  // They follow each other: each syncs the other through kith-node's relay, and the tabs then
  // connect directly. The Network screen says so, person by person.
  await followByLink(a, b);
  await followByLink(b, a);
  for (const [page, person] of [[a, alice], [b, bob]]) {
    await page.click('#nav-network');
    await page.waitForSelector('#peers li[data-transport="webrtc"]', { timeout: 30_000 });
    assert.match(await page.textContent('#peers li[data-transport="webrtc"]'), /direct \(WebRTC\)/);
    await person.shot(`direct-network-${person.name.toLowerCase()}`);
  }

  mark('both shown direct');
  // kith-node stops. Both status bars tell the truth: the node is gone, the friend is not.
  await node.stop();
  for (const [page, person] of [[a, alice], [b, bob]]) {
    // Between retries ("disconnected") and during one ("connecting"), the same headline.
    await page.waitForSelector(
      '#status[data-direct="1"]:has(#status-headline:text-is("kith-node unreachable")):has(#status-detail:text("1 friend connected directly."))',
      { timeout: 30_000 },
    );
    await person.shot(`direct-node-down-${person.name.toLowerCase()}`);
  }

  mark('node down, both say so');
  // A posts: it reaches B's screen browser to browser. B replies: A sees it threaded.
  await post(a, 'Posted while kith-node is down');
  await b.click('#nav-home');
  await seeOnHome(b, 'Posted while kith-node is down', 30_000);
  const posted = b.locator(postByText('Posted while kith-node is down'));
  await posted.locator('> .post-actions .reply-button').click();
  await posted.locator('> form.compose textarea').fill('Got it, directly');
  await posted.locator('> form.compose button[type=submit]').click();
  const threaded = `${postByText('Posted while kith-node is down')} > .replies ${postByText('Got it, directly')}`;
  await b.waitForSelector(threaded);
  await a.click('#nav-home');
  await a.waitForSelector(threaded, { timeout: 30_000 });
  mark('post and reply arrived');
  await alice.shot('direct-reply-while-node-down');

  // kith-node comes back: both reconnect, a new post arrives, and a reload keeps everything.
  await node.start();
  await waitState(a, 'connected', 60_000);
  await waitState(b, 'connected', 60_000);
  mark('both reconnected to kith-node');
  await post(a, 'And again with kith-node back');
  await seeOnHome(b, 'And again with kith-node back', 30_000);
  await b.reload();
  await b.waitForSelector(threaded, { timeout: 30_000 });
  await seeOnHome(b, 'And again with kith-node back', 30_000);

  // C follows A while A and B are direct, and gets A's posts, live too.
  const c = await carol.join();
  await followByLink(a, c);
  const aliceLink = c.url();
  await seeOnHome(c, 'And again with kith-node back');
  await post(a, 'Live to Carol');
  await seeOnHome(c, 'Live to Carol');
  mark('C follows A and gets a live post');
  // C leaves; A posts once more (B gets it), then A leaves too.
  const aliceProblems = seriousProblems(alice.problems);
  await carol.close();
  await post(a, 'While Carol was away');
  await seeOnHome(b, 'While Carol was away');
  await alice.close();
  // C comes back with A offline: B holds A's feed, and C gets the post from B, browser to
  // browser, and says so on A's profile.
  const c2 = await carol.launch();
  await c2.goto(baseUrl);
  await waitState(c2, 'connected');
  await seeOnHome(c2, 'While Carol was away', 60_000);
  mark('C caught up on A from B');
  await c2.goto(aliceLink);
  await c2.waitForSelector(
    `#last-synced:has-text("author offline"):has-text("served by a follower (${bobFp.slice(0, 9)}) over a direct connection")`,
    { timeout: 30_000 },
  );
  await carol.shot('direct-served-by-bob');
  await c2.click('#nav-network');
  await c2.waitForSelector('#peers li[data-transport="webrtc"]', { timeout: 10_000 });

  assert.deepEqual(aliceProblems, [], "Alice's page errors");
  for (const p of [bob, carol]) assert.deepEqual(seriousProblems(p.problems), [], `${p.name}'s page errors`);
}
