// Shared helpers for Kith's browser tests and benchmarks: a real kith-node process and
// Debian's Chromium driven by Playwright. Everything runs on 127.0.0.1.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { deflateSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const here = new URL('.', import.meta.url).pathname;
export const repo = resolve(here, '..');
export const outDir = process.env.KITH_E2E_OUT ?? join(repo, 'target', 'e2e');
export const httpAddr = process.env.KITH_E2E_HTTP ?? '127.0.0.1:8080';
export const baseUrl = `http://${httpAddr}`;

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** A persistent Chromium profile in `dir` (its own IndexedDB and service worker). */
export function launchProfile(dir, viewport = { width: 1100, height: 800 }) {
  return chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
}

const children = new Set();
/** Temporary directories (browser profiles, node data) removed when the process exits. */
const scratch = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  // A profile is about 40 MB: left behind, every run of the suite kept 1.5 GB in /tmp.
  for (const d of scratch) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // A browser still writing there: the OS's /tmp cleaning gets it.
    }
  }
});

/** A new directory under the system's temporary one, removed when the process exits (a
 * person's profile survives closing and relaunching the browser within a test file). */
export function scratchDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.add(dir);
  return dir;
}

/** A kith-node child process with its own data directory, stopped by its PID. */
export class NodeProcess {
  /** `http`, `ws` and `webrtc` default to the tests' node; `bootstrap` names another node. */
  constructor({ http = httpAddr, ws, webrtc, bootstrap } = {}) {
    this.dataDir = scratchDir('kith-e2e-');
    this.proc = null;
    this.log = '';
    this.http = http;
    this.ws = ws ?? process.env.KITH_E2E_WS_PORT ?? '9090';
    this.webrtc = webrtc ?? process.env.KITH_E2E_WEBRTC_PORT ?? '9091';
    this.bootstrap = bootstrap;
  }

  /** The node's `/bootstrap.json`. */
  async doc() {
    const res = await fetch(`http://${this.http}/bootstrap.json`);
    return res.json();
  }

  async start() {
    const bin = process.env.KITH_NODE_BIN;
    const dist = process.env.KITH_DIST ?? join(repo, 'dist');
    if (!bin) throw new Error('KITH_NODE_BIN is not set: run through `cargo xtask test e2e`');
    const args = [
      '--http', this.http,
      '--ws-port', this.ws,
      '--webrtc-port', this.webrtc,
      '--key-file', join(this.dataDir, 'identity.key'),
      '--cert-file', join(this.dataDir, 'cert.pem'),
      '--dist', dist,
    ];
    if (this.bootstrap) args.push('--bootstrap', this.bootstrap);
    // A restart appends to the log: only what this run prints counts.
    const from = this.log.length;
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    children.add(proc);
    proc.stdout.on('data', (d) => { this.log += d; });
    proc.stderr.on('data', (d) => { this.log += d; });
    const exited = new Promise((res) => proc.once('exit', (code) => res(code)));
    this.exited = exited;
    // Up when it prints the URL to open; a start-up error exits instead.
    const deadline = Date.now() + 30_000;
    while (!this.log.slice(from).includes('Open http://')) {
      const code = await Promise.race([exited, sleep(50).then(() => undefined)]);
      if (code !== undefined) throw new Error(`kith-node exited with ${code}:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`kith-node did not start:\n${this.log}`);
    }
  }

  async stop() {
    if (!this.proc) return;
    const proc = this.proc;
    this.proc = null;
    proc.kill('SIGTERM');
    const done = await Promise.race([this.exited, sleep(5000).then(() => 'timeout')]);
    if (done === 'timeout') proc.kill('SIGKILL');
    await this.exited;
    children.delete(proc);
  }
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export function ensureOutDir() {
  mkdirSync(outDir, { recursive: true });
  return outDir;
}

/** Collects console errors and page crashes so a failing test can show them. */
export function watchPage(page) {
  const problems = [];
  // The last console lines, for a failure report (the app logs through tracing).
  problems.console = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    problems.console.push(`${new Date().toISOString().slice(11, 23)} ${m.type()}: ${m.text()}`);
    if (problems.console.length > 120) problems.console.shift();
  });
  return problems;
}

/** Onboards a fresh profile through the welcome screen and waits for the app. */
export async function onboard(page, { name, handle, bio = '' }) {
  await page.waitForSelector('#onboarding', { timeout: 30_000 });
  await page.fill('#name', name);
  if (handle) await page.fill('#handle', handle);
  if (bio) await page.fill('#bio', bio);
  await page.click('#create');
  await page.waitForSelector('#my-fingerprint', { timeout: 30_000 });
}

/** Restores the backup at `file` from the welcome screen (the page is on the app, new). */
export async function restore(page, file, passphrase) {
  await page.waitForSelector('#onboarding', { timeout: 30_000 });
  await page.setInputFiles('#restore-file', file);
  await page.fill('#restore-pass', passphrase);
  await page.click('#restore-button');
}

/** Waits until the status bar says `state` ("connected", "disconnected", "connecting"). */
export async function waitState(page, state, timeout = 30_000) {
  await page.waitForSelector(`#status[data-state="${state}"]`, { timeout });
}

/** The rust-libp2p browser-transport error tolerated in page errors (issues #5490, #5636). */
export const UPSTREAM_CLOSURE_ERROR = /closure invoked recursively or after being dropped/;

/** Page errors other than the tolerated upstream one, and anything the page's
 * Content-Security-Policy refused. */
export function seriousProblems(problems) {
  return problems.filter((p) =>
    (p.startsWith('pageerror') && !UPSTREAM_CLOSURE_ERROR.test(p)) || /Content Security Policy/.test(p));
}

/** The selector of a post card showing exactly `text`. */
export const postByText = (text) => `article.post:has(> .post-text:text-is("${text}"))`;

/** Posts `text` from Home and waits until it is on the timeline. */
export async function post(page, text) {
  await page.click('#nav-home');
  await page.fill('#compose', text);
  await page.click('#compose ~ .compose-foot button[type=submit]');
  await page.waitForSelector(postByText(text), { timeout: 10_000 });
}

/** Searches `handle` on the Discover screen and follows the claimant with fingerprint `fp`;
 * leaves the page on Home. */
export async function followByHandle(page, handle, fp) {
  await page.click('#nav-discover');
  await page.fill('#search', `@${handle}`);
  await page.click('form[role=search] button[type=submit]');
  const hit = page.locator(`#search-results li.person:has(code:text-is("${fp}"))`);
  await hit.waitFor({ timeout: 30_000 });
  await hit.locator('button.follow-result').click();
  await page.click('#nav-home');
}

/** Waits until `text` is on the home timeline, clicking the "new posts" pill if it shows. */
export async function seeOnHome(page, text, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await page.locator(postByText(text)).count()) return;
    const pill = page.locator('#new-posts');
    if (await pill.count()) await pill.click();
    await page.waitForTimeout(200);
  }
  throw new Error(`"${text}" never appeared on the home timeline`);
}

/** Every persistent context a `Person` opened and has not closed. */
const open = [];

/** My follow link, read from my profile screen (which it leaves open). */
export async function linkOf(page) {
  await page.click('#nav-profile');
  await page.waitForSelector('#my-link');
  return page.inputValue('#my-link');
}

/** Closes every person's browser (for `after`). */
export async function closeEveryone() {
  for (const c of [...open]) await c.close();
}

/** A person: a Chromium profile directory that survives closing the browser. */
export class Person {
  constructor(name) {
    this.name = name;
    this.dir = scratchDir(`kith-e2e-${name.toLowerCase()}-`);
    this.problems = [];
  }

  async launch(viewport = { width: 1100, height: 800 }) {
    this.context = await launchProfile(this.dir, viewport);
    open.push(this.context);
    this.page = this.context.pages()[0] ?? await this.context.newPage();
    this.problems = watchPage(this.page);
    return this.page;
  }

  /** A new person: launches, onboards at `url` (`baseUrl` by default) with `handle` (the
   * lower-cased name by default) and waits until connected. */
  async join({ handle = this.name.toLowerCase(), viewport, url = baseUrl } = {}) {
    const page = await this.launch(viewport);
    await page.goto(url);
    await onboard(page, { name: this.name, handle });
    await waitState(page, 'connected');
    return page;
  }

  async close() {
    await this.context.close();
    open.splice(open.indexOf(this.context), 1);
  }

  shot(name) {
    return this.page.screenshot({ path: join(ensureOutDir(), `${name}.png`), fullPage: true });
  }
}


/** Prints each person's status and last console lines, and the node's log, for a failure. */
export async function reportFailure(people, node) {
  for (const p of people) {
    // Only for the failure report: a closed page has no status to print.
    const status = await p.page?.textContent('#status').catch(() => '(closed)');
    process.stderr.write(`--- ${p.name}: status "${status}"; console (last lines) ---\n${(p.problems?.console ?? []).join('\n')}\n`);
  }
  process.stderr.write(`--- kith-node log (tail) ---\n${node.log.slice(-4000)}\n`);
}

/** One kith-node for a test file: started before its tests; after them every person's browser
 * is closed and the node stopped. */
export function nodeForFile() {
  const node = new NodeProcess();
  before(() => node.start());
  after(async () => {
    await closeEveryone();
    await node.stop();
  });
  return node;
}

/** Runs `scenario`; if it fails, prints each person's console and the node's log first
 * (`node` may be a list of nodes). */
export async function reported(people, node, scenario) {
  try {
    await scenario();
  } catch (e) {
    for (const n of [node].flat()) await reportFailure(people, n);
    throw e;
  }
}

/** Waits until the service worker controls `page` and holds the whole app shell: a reload
 * through it caches what its install did not (the page's first load did not pass through it). */
export async function shellCached(page) {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
  await page.reload();
  await waitState(page, 'connected');
  await page.waitForFunction(async () => {
    const keys = await (await caches.open('kith-shell-v1')).keys();
    const paths = keys.map((r) => new URL(r.url).pathname);
    return ['.wasm', '.js', '.css'].every((ext) => paths.some((p) => p.endsWith(ext)));
  }, null, { timeout: 30_000 });
}

/** Waits until every node's `/bootstrap.json` names each of the others. */
export async function nodesKnowEachOther(nodes) {
  const ids = await Promise.all(nodes.map(async (n) => (await n.doc()).peer_id));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const docs = await Promise.all(nodes.map((n) => n.doc()));
    const missing = docs.flatMap((doc, i) => ids
      .filter((id, j) => j !== i && !doc.nodes?.some((k) => k.peer_id === id && k.addrs.some((a) => a.includes('/ws/'))))
      .map((id) => `${ids[i]} lacks ${id}`));
    if (missing.length === 0) return ids;
    if (Date.now() > deadline) throw new Error(`nodes do not name each other: ${missing.join('; ')}`);
    await sleep(200);
  }
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, body) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const tb = Buffer.concat([Buffer.from(type, 'ascii'), body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(tb));
  return Buffer.concat([len, tb, crc]);
}

/** A colourful RGB PNG of `w`×`h`, with `noise` (0 to 255) of pseudo-random grain, and a
 * text chunk saying `comment` (metadata such as a camera or an editor leaves in a file). */
export function photo(w, h, seed, comment = 'a comment', noise = 0) {
  let r = seed * 2654435761 >>> 0;
  const grain = () => {
    r = (r * 1103515245 + 12345) >>> 0;
    return noise ? (r >>> 16) % noise : 0;
  };
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = (x * 7 + seed * 40 + grain()) & 255;
      raw[o + 1] = (y * 5 + seed * 90 + grain()) & 255;
      raw[o + 2] = ((x ^ y) + seed * 13 + grain()) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('tEXt', Buffer.from(`Comment\0${comment}`, 'latin1')),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
