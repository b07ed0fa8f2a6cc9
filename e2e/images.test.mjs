// Images end to end through the real UI, with one real kith-node. Alice attaches two pictures
// (PNGs carrying a text chunk with a location) to a post: her browser resizes and re-encodes
// them, and the post names them by hash. Bob, who follows her, sees both, byte-identical by
// hash, with no trace of the location. With Alice offline, Carol follows her and gets the
// post and its pictures from Bob. Alice comes back and deletes the post: Bob's copies of the
// pictures are gone from his IndexedDB. Alice sets an avatar: it shows on Bob's screens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, linkOf, nodeForFile, Person, photo, postByText, reported, seeOnHome, seriousProblems, waitState } from './lib.mjs';

const node = nodeForFile();

test('pictures travel by hash, come from a follower, go with the post, and an avatar shows', async () => {
  const alice = new Person('Alice');
  const bob = new Person('Bob');
  const carol = new Person('Carol');
  await reported([alice, bob, carol], node, () => images(alice, bob, carol));
});

const LOCATION = 'GPS 48.8584N 2.2945E';

/** For each picture of the post showing `text`: its `data-hash`, its width as decoded on
 * screen, and of the bytes this browser keeps for it (the bytes its object URL was made
 * from; the page's CSP lets no script fetch a blob URL) the SHA-256, the length and whether
 * they hold the location text. */
async function shown(page, text) {
  const imgs = page.locator(`${postByText(text)} .post-images img.picture`);
  await imgs.nth(1).waitFor({ timeout: 60_000 });
  const deadline = Date.now() + 30_000;
  while (!await imgs.evaluateAll((els) => els.every((i) => i.complete && i.naturalWidth > 0))) {
    assert.ok(Date.now() < deadline, `the pictures of "${text}" never decoded`);
    await page.waitForTimeout(100);
  }
  return imgs.evaluateAll(async (els, location) => {
    const db = await new Promise((ok, fail) => {
      const open = indexedDB.open('kith');
      open.onsuccess = () => ok(open.result);
      open.onerror = () => fail(open.error);
    });
    const kept = (hash) => new Promise((ok, fail) => {
      const req = db.transaction('images').objectStore('images').index('hash').get(hash);
      req.onsuccess = () => ok(req.result?.b);
      req.onerror = () => fail(req.error);
    });
    const out = [];
    for (const img of els) {
      const bytes = await kept(img.dataset.hash);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
      const latin = new TextDecoder('latin1').decode(bytes);
      out.push({ hash: img.dataset.hash, sha: hex, located: latin.includes(location), width: img.naturalWidth, len: bytes.length });
    }
    db.close();
    return out;
  }, LOCATION);
}

/** How many images this browser's IndexedDB keeps. */
function imagesKept(page) {
  return page.evaluate(() => new Promise((ok, fail) => {
    const open = indexedDB.open('kith');
    open.onerror = () => fail(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const req = db.transaction('images').objectStore('images').count();
      req.onsuccess = () => { db.close(); ok(req.result); };
      req.onerror = () => fail(req.error);
    };
  }));
}

async function images(alice, bob, carol) {
  const a = await alice.join();
  const b = await bob.join();
  const aliceLink = await linkOf(a);
  await b.goto(aliceLink);
  await b.click('#follow');
  await b.waitForSelector('#unfollow');
  await b.click('#nav-home');

  // Alice attaches two pictures (a 2400×1600 one is made smaller) and posts.
  const text = 'Two pictures from the trip';
  await a.click('#nav-home');
  await a.setInputFiles('.compose .picture-input', [
    { name: 'tower.png', mimeType: 'image/png', buffer: photo(2400, 1600, 1, LOCATION) },
    { name: 'river.png', mimeType: 'image/png', buffer: photo(640, 480, 2, LOCATION) },
  ]);
  await a.waitForSelector('.compose .attachments .attached:nth-child(2)', { timeout: 30_000 });
  await a.fill('#compose', text);
  await a.click('#compose ~ .compose-foot button[type=submit]');
  await a.waitForSelector(postByText(text));
  const onAlice = await shown(a, text);
  assert.equal(onAlice.length, 2);
  console.log(`posted picture bytes: ${onAlice.map((p) => p.len).join(', ')}`);
  for (const p of onAlice) {
    assert.equal(p.sha, p.hash, 'the bytes are the ones the post names');
    assert.equal(p.located, false, 'the location text is not in the posted bytes');
  }
  assert.equal(onAlice[0].width, 1600, 'the large picture was made 1,600 pixels wide');

  // Bob sees both, byte-identical by hash.
  const fetched = Date.now();
  await seeOnHome(b, text);
  const onBob = await shown(b, text);
  console.log(`image_fetch_ms (two pictures, post on screen → both shown on Bob's): ${Date.now() - fetched}`);
  assert.deepEqual(onBob.map((p) => p.sha), onAlice.map((p) => p.hash));
  assert.deepEqual(onBob.map((p) => p.hash), onAlice.map((p) => p.hash));
  assert.equal(await imagesKept(b), 2);
  await bob.shot('images-bob');

  // Alice goes offline; Carol follows her and gets the post and the pictures from Bob.
  await alice.close();
  const c = await carol.join();
  await c.goto(aliceLink);
  await c.click('#follow');
  await c.waitForSelector('#unfollow');
  await c.click('#nav-home');
  await seeOnHome(c, text, 60_000);
  const onCarol = await shown(c, text);
  assert.deepEqual(onCarol.map((p) => p.sha), onAlice.map((p) => p.hash));

  // Alice comes back and deletes the post: Bob's copies of the pictures are gone.
  const a2 = await alice.launch();
  await a2.goto(baseUrl);
  await a2.waitForSelector(postByText(text), { timeout: 30_000 });
  await waitState(a2, 'connected');
  const card = a2.locator(postByText(text));
  await card.locator('> .post-actions button.delete').click();
  await card.locator('> .post-actions .delete-confirm').click();
  await a2.waitForSelector(postByText(text), { state: 'detached' });
  await b.waitForSelector(postByText(text), { state: 'detached', timeout: 30_000 });
  const deadline = Date.now() + 30_000;
  while (await imagesKept(b) !== 0) {
    assert.ok(Date.now() < deadline, "Bob's copies of the pictures are still kept");
    await b.waitForTimeout(250);
  }

  // Alice sets an avatar; Bob sees it on her profile.
  await a2.click('#nav-profile');
  await a2.click('details.edit-profile summary');
  await a2.setInputFiles('#edit-avatar', { name: 'me.png', mimeType: 'image/png', buffer: photo(800, 800, 3, LOCATION) });
  await a2.waitForSelector('details.edit-profile button[type=submit]:not([disabled])');
  await a2.click('details.edit-profile button[type=submit]');
  await a2.waitForSelector('.profile-head img.avatar-picture', { timeout: 30_000 });
  await b.goto(aliceLink);
  await b.waitForSelector('.profile-head img.avatar-picture', { timeout: 60_000 });
  const avatar = await b.locator('.profile-head img.avatar-picture').evaluate((img) => img.naturalWidth);
  assert.equal(avatar, 256, 'made 256 pixels wide');
  await bob.shot('images-avatar');

  for (const p of [alice, bob, carol]) {
    assert.deepEqual(seriousProblems(p.problems), [], `${p.name}'s page errors`);
  }
}
