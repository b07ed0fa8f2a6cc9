// Search across the network through the real UI, with one real kith-node: Bea and Dee each
// follow Cal (so each is connected to Cal's browser), Cal follows nobody. Dee posts; Bea, who
// holds no copy, searches a word of the post: Cal's browser has nothing, forwards the query to
// Dee's, and the post comes back two hops, verified, saying it came via Cal (or one hop via
// Dee, when Bea's browser is connected to Dee too: see below).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkOf, nodeForFile, Person, post, postByText, reported, seriousProblems } from './lib.mjs';

const node = nodeForFile();

test('a post two hops away is found by searching the network, verified, via the peer between', async () => {
  const bea = new Person('Bea');
  const cal = new Person('Cal');
  const dee = new Person('Dee');
  await reported([bea, cal, dee], node, () => searchTwoHops(bea, cal, dee));
});

async function searchTwoHops(bea, cal, dee) {
  const b = await bea.join();
  const c = await cal.join();
  const d = await dee.join();
  await post(c, 'Cal was here');
  const calLink = await linkOf(c);
  for (const page of [b, d]) {
    await page.goto(calLink);
    await page.click('#follow');
    await page.waitForSelector('#unfollow');
    await page.click('#nav-home');
    await page.waitForSelector(postByText('Cal was here'), { timeout: 30_000 });
  }
  await post(d, 'A zebra crossing at noon');

  await b.click('#nav-discover');
  await b.fill('#search', 'zebra');
  // Nothing here holds it.
  await b.waitForSelector('#post-results[data-total="0"]');
  let found = false;
  for (let i = 0; i < 5 && !found; i++) {
    await b.click('form[role=search] button[type=submit]');
    await b.waitForSelector('#net-results-status:not([data-state=searching])', { timeout: 30_000 });
    found = (await b.locator('#net-results[data-total="1"]').count()) === 1;
    if (!found) await b.waitForTimeout(2_000);
  }
  assert.ok(found, 'the post two hops away was found');
  const hit = b.locator('#net-results .net-hit');
  assert.match(await hit.textContent(), /A zebra crossing at noon/);
  // It came through Cal's browser, two hops; or, when Bea's browser happened to sync Cal's
  // feed from Dee (a follower holding it) and is still connected to her, one hop from Dee.
  // The exact two-hop path, TTL 1 and loops are checked natively (kith-node tests/search.rs).
  const via = await hit.locator('.via').textContent();
  assert.match(via, /Found via (Cal|Dee)/);
  console.log(`network search: ${via}`);
  // Named: Dee's profile came with her post, though Bea does not know her.
  assert.match(await hit.locator('article.post .name').textContent(), /Dee/);
  await bea.shot('search-network');
  // Still no copy here: a search result is not a follow.
  await b.click('#nav-home');
  assert.equal(await b.locator(postByText('A zebra crossing at noon')).count(), 0);

  for (const p of [bea, cal, dee]) assert.deepEqual(seriousProblems(p.problems), [], `${p.name}'s page errors`);
}
