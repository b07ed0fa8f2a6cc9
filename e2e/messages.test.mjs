// Direct messages end to end through the real UI, with one real kith-node. Bob follows Alice.
// Alice writes to Bob from his profile: Bob's navigation counts it, he opens the conversation
// and reads it, and Alice sees "read". Bob closes his browser; Alice writes twice ("sending");
// Bob comes back and gets both, and Alice sees them delivered. Carol, whom Alice does not
// follow, writes to Alice: it lands in Alice's requests, not among her conversations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, linkOf, nodeForFile, Person, reported, seriousProblems, waitState } from './lib.mjs';

const node = nodeForFile();

test('messages are delivered and read, wait for someone offline, and strangers land in requests', async () => {
  const alice = new Person('Alice');
  const bob = new Person('Bob');
  const carol = new Person('Carol');
  await reported([alice, bob, carol], node, () => messages(alice, bob, carol));
});

/** Opens the profile at `link` and writes `text` from its Message button. */
async function write(page, link, text) {
  await page.goto(link);
  await page.click('#message');
  await page.waitForSelector('#letter-text');
  await page.fill('#letter-text', text);
  await page.click('#send-letter');
  await page.waitForSelector(`#letters li.letter.mine:has-text(${JSON.stringify(text)})`);
}

const mine = (text) => `#letters li.letter.mine:has-text(${JSON.stringify(text)})`;

async function messages(alice, bob, carol) {
  const a = await alice.join();
  const b = await bob.join();
  const aliceLink = await linkOf(a);
  const bobLink = await linkOf(b);

  // Bob follows Alice, so her messages are a conversation for him, not a request.
  await b.goto(aliceLink);
  await b.click('#follow');
  await b.waitForSelector('#unfollow');
  await b.click('#nav-home');

  const sent = Date.now();
  await write(a, bobLink, 'Hi Bob, lunch tomorrow?');
  await a.waitForSelector(`${mine('Hi Bob, lunch tomorrow?')} .delivery[data-delivery=delivered], ${mine('Hi Bob, lunch tomorrow?')} .delivery[data-delivery=read]`, { timeout: 30_000 });
  await b.waitForSelector('#unread-messages:text-is("1")', { timeout: 30_000 });
  console.log(`dm_ms (Send → the count on Bob's screen): ${Date.now() - sent}`);
  await b.click('#nav-messages');
  await b.click(`#conversations li.conversation >> text=Alice`);
  await b.waitForSelector('#letters li.letter.theirs:has-text("Hi Bob, lunch tomorrow?")');
  await b.waitForSelector('#unread-messages', { state: 'detached' });
  // Bob read it: Alice's screen says so.
  await a.waitForSelector(`${mine('Hi Bob, lunch tomorrow?')} .delivery[data-delivery=read]`, { timeout: 30_000 });

  // Bob is offline while Alice writes twice; he gets both when he is back.
  await bob.close();
  await a.fill('#letter-text', 'Are you there?');
  await a.click('#send-letter');
  await a.waitForSelector(mine('Are you there?'));
  await a.fill('#letter-text', 'Call me when you are back');
  await a.click('#send-letter');
  await a.waitForSelector(`${mine('Call me when you are back')} .delivery[data-delivery=sending]`);
  assert.equal(await a.locator(`${mine('Are you there?')} .delivery`).getAttribute('data-delivery'), 'sending');
  const back = await bob.launch();
  await back.goto(baseUrl);
  await waitState(back, 'connected');
  await back.waitForSelector('#unread-messages:text-is("2")', { timeout: 60_000 });
  await back.click('#nav-messages');
  await back.click(`#conversations li.conversation >> text=Alice`);
  for (const t of ['Hi Bob, lunch tomorrow?', 'Are you there?', 'Call me when you are back']) {
    await back.waitForSelector(`#letters li.letter.theirs:has-text(${JSON.stringify(t)})`);
  }
  for (const t of ['Are you there?', 'Call me when you are back']) {
    await a.waitForSelector(`${mine(t)} .delivery[data-delivery=read], ${mine(t)} .delivery[data-delivery=delivered]`, { timeout: 60_000 });
  }

  // Carol, whom Alice does not follow, writes: a request on Alice's side, not counted.
  const c = await carol.join();
  await write(c, aliceLink, 'Hello Alice, we met at the conference');
  await a.click('#nav-messages');
  await a.waitForSelector('#requests li.conversation >> text=Carol', { timeout: 30_000 });
  assert.equal(await a.locator('#conversations li.conversation >> text=Carol').count(), 0);
  await a.click('#requests li.conversation >> text=Carol');
  await a.waitForSelector('#request-note');
  await a.waitForSelector('#letters li.letter.theirs:has-text("Hello Alice, we met at the conference")');
  await alice.shot('messages-request');

  for (const p of [alice, bob, carol]) {
    assert.deepEqual(seriousProblems(p.problems), [], `${p.name}'s page errors`);
  }
}
