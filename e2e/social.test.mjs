// End to end, through the real UI: three people in three separate Chromium profiles (each its
// own persistent user-data directory, so IndexedDB and the service worker are their own) and
// one real kith-node. Screenshots of every main screen go to target/e2e/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  Person, baseUrl, ensureOutDir, nodeForFile, post, postByText, reported, seeOnHome,
  seriousProblems, waitState,
} from './lib.mjs';

const out = ensureOutDir();
const node = nodeForFile();


const people = [];
test('three people: onboard, follow by link, post live, reply, reload, search, served by a follower, delete, inert HTML', async (t) => {
  const alice = new Person('Alice');
  const bob = new Person('Bob');
  const carol = new Person('Carol');
  people.push(alice, bob, carol);
  await reported(people, node, () => threePeople(alice, bob, carol));
});

async function threePeople(alice, bob, carol) {

  // A and B onboard.
  const a = await alice.launch();
  await a.goto(baseUrl);
  await a.waitForSelector('#onboarding', { timeout: 30_000 });
  await a.fill('#name', 'Alice Liddell');
  assert.equal(await a.inputValue('#handle'), 'alice_liddell', 'a handle is suggested from the name');
  await a.fill('#handle', 'alice');
  await a.fill('#bio', 'Down the rabbit hole.');
  await alice.shot('onboarding');
  await a.click('#create');
  await a.waitForSelector('#my-fingerprint', { timeout: 30_000 });
  const aliceFp = await a.textContent('#my-fingerprint');
  assert.match(aliceFp, /^[0-9a-f]{4}(-[0-9a-f]{4}){4}$/);
  await waitState(a, 'connected');

  const b = await bob.join();
  const bobFp = await b.textContent('#my-fingerprint');

  // B follows A through A's follow link.
  await a.click('#nav-profile');
  await a.waitForSelector('#my-link');
  const aliceLink = await a.inputValue('#my-link');
  assert.match(aliceLink, /^http:\/\/127\.0\.0\.1:8080\/#kith:\/\/follow\/[0-9a-f]{64}$/);
  await a.waitForSelector('svg.qr');
  await alice.shot('profile');
  await b.goto(aliceLink);
  await b.waitForSelector('#profile-name:text-is("Alice Liddell")');
  assert.equal(await b.textContent('#profile-fingerprint'), aliceFp);
  await b.click('#follow');
  await b.waitForSelector('#unfollow');

  // A posts; the post appears on B's screen without a reload.
  await b.click('#nav-home');
  await post(a, 'Hello from Alice');
  await seeOnHome(b, 'Hello from Alice');
  // A second post waits behind the "new posts" pill instead of jumping the timeline.
  await post(a, 'Second thoughts');
  await b.waitForSelector('#new-posts:text-is("1 new post")', { timeout: 30_000 });
  await bob.shot('new-posts-pill');
  await b.click('#new-posts');
  await b.waitForSelector(postByText('Second thoughts'));

  // A follows B back (so B's posts, replies included, reach A); B replies; A sees it threaded.
  await b.click('#nav-profile');
  const bobLink = await b.inputValue('#my-link');
  await a.goto(bobLink);
  await a.click('#follow');
  await a.waitForSelector('#unfollow');
  await a.click('#nav-home');
  await b.click('#nav-home');
  const hello = b.locator(postByText('Hello from Alice'));
  await hello.locator('> .post-actions .reply-button').click();
  await hello.locator('> form.compose textarea').fill('Welcome, Alice!');
  await hello.locator('> form.compose button[type=submit]').click();
  const threaded = `${postByText('Hello from Alice')} > .replies ${postByText('Welcome, Alice!')}`;
  await b.waitForSelector(threaded);
  await a.waitForSelector(threaded, { timeout: 30_000 });
  // B reacts; A sees the count.
  await hello.locator('> .post-actions button.react[data-emoji="❤️"]').click();
  await a.waitForSelector(`${postByText('Hello from Alice')} > .post-actions button.react[data-emoji="❤️"] .react-count:text-is("1")`, { timeout: 30_000 });
  await alice.shot('home');
  await bob.shot('thread');

  // A reloads the tab: everything is still there, and the identity is the same.
  await a.reload();
  await a.waitForSelector(threaded, { timeout: 30_000 });
  assert.equal(await a.textContent('#my-fingerprint'), aliceFp);
  await waitState(a, 'connected');

  // A closes the tab. C searches A's handle, follows, and reads A's posts, served by B.
  await b.click('#nav-network');
  await b.waitForSelector('#holders li, #holders-empty', { timeout: 30_000 });
  await alice.close();
  const c = await carol.join({ viewport: { width: 390, height: 844 } });
  await c.click('#nav-discover');
  await c.fill('#search', '@alice');
  await c.click('form[role=search] button[type=submit]');
  const hit = c.locator(`#search-results li.person:has(code:text-is("${aliceFp}"))`);
  await hit.waitFor({ timeout: 30_000 });
  await carol.shot('discover');
  await hit.locator('button.follow-result').click();
  await c.click('#nav-home');
  await seeOnHome(c, 'Hello from Alice', 60_000);
  await carol.shot('home-phone');
  await c.click(`${postByText('Hello from Alice')} > .post-head a.name`);
  // Alice is offline: her profile says when her feed was last synced, and that Bob served it.
  await c.waitForSelector(`#last-synced:has-text("served by a follower (${bobFp.slice(0, 9)})")`, { timeout: 30_000 });
  await carol.shot('profile-served-by-follower');
  // Bob now announces Alice's feed: it is in the "who holds" view of the DHT.

  // A comes back and deletes a post; B's copy disappears.
  const a2 = await alice.launch();
  await a2.goto(baseUrl);
  await a2.waitForSelector(postByText('Second thoughts'), { timeout: 30_000 });
  await waitState(a2, 'connected');
  const second = a2.locator(postByText('Second thoughts'));
  await second.locator('> .post-actions button.delete').click();
  await second.locator('> .post-actions .delete-confirm').click();
  await a2.waitForSelector(postByText('Second thoughts'), { state: 'detached' });
  await b.click('#nav-home');
  await b.waitForSelector(postByText('Second thoughts'), { state: 'detached', timeout: 30_000 });

  // A post with HTML and a javascript: link renders as inert text on B's screen.
  const evil = 'EVIL-MARKER <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> <a href="javascript:window.__pwned=1">click</a> javascript:window.__pwned=1 https://example.org/ok';
  await a2.fill('#compose', evil);
  await a2.click('#compose ~ .compose-foot button[type=submit]');
  const evilPost = b.locator('article.post:has(> .post-text:has-text("EVIL-MARKER"))');
  await b.click('#nav-home');
  await evilPost.or(b.locator('#new-posts')).first().waitFor({ timeout: 30_000 });
  if (await b.locator('#new-posts').count()) await b.click('#new-posts');
  await evilPost.waitFor();
  assert.equal(await evilPost.locator('> .post-text').textContent(), evil);
  assert.equal(await evilPost.locator('> .post-text script, > .post-text img').count(), 0);
  const hrefs = await evilPost.locator('> .post-text a').evaluateAll((as) => as.map((x) => x.getAttribute('href')));
  assert.deepEqual(hrefs, ['https://example.org/ok']);
  assert.equal(await b.evaluate(() => window.__pwned), undefined);
  await bob.shot('inert-html');

  // Settings: storage per feed, and a backup that restores Bob in a new browser profile.
  await b.click('#nav-settings');
  await b.waitForSelector('#storage tbody tr');
  // The cap on one person's feed: the defaults, and a change saved.
  assert.equal(await b.inputValue('#max-entries'), '20000');
  assert.equal(await b.inputValue('#max-mb'), '32');
  await b.fill('#max-entries', '5000');
  await b.click('#feed-limits button[type=submit]');
  await b.waitForSelector('.notice:has-text("up to 5000 entries or 32 MB")');
  await bob.shot('settings');
  await b.fill('#backup-pass', 'short');
  await b.click('#backup-button');
  await b.waitForSelector('.notice.error:has-text("at least 8 characters")');
  await b.fill('#backup-pass', 'correct horse battery');
  const [download] = await Promise.all([b.waitForEvent('download', { timeout: 60_000 }), b.click('#backup-button')]);
  const backupPath = join(out, 'bob-backup.kith');
  await download.saveAs(backupPath);
  const bob2 = new Person('Bob2');
  const r = await bob2.launch();
  await r.goto(baseUrl);
  await r.waitForSelector('#onboarding', { timeout: 30_000 });
  await r.setInputFiles('#restore-file', backupPath);
  await r.fill('#restore-pass', 'wrong passphrase');
  await r.click('#restore-button');
  await r.waitForSelector('#onboarding-error:has-text("passphrase")', { timeout: 60_000 });
  await r.fill('#restore-pass', 'correct horse battery');
  await r.click('#restore-button');
  await r.waitForSelector('#my-fingerprint', { timeout: 60_000 });
  assert.equal(await r.textContent('#my-fingerprint'), bobFp);
  await r.waitForSelector(postByText('Welcome, Alice!'), { timeout: 30_000 });
  await bob2.close();
  await b.click('#nav-network');
  await b.waitForSelector('#peers li');
  await bob.shot('network');

  // Offline: the service worker serves the app shell and the stored timeline shows.
  await a2.context().setOffline(true);
  await a2.reload();
  await a2.waitForSelector(postByText('Hello from Alice'), { timeout: 30_000 });
  await waitState(a2, 'disconnected', 30_000);
  await alice.shot('offline');
  await a2.context().setOffline(false);

  for (const p of [alice, bob, carol]) assert.deepEqual(seriousProblems(p.problems), [], `${p.name}'s page errors`);
  assert.doesNotMatch(await b.content(), /panicked at/);
}
