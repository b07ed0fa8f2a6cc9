// Cold start: a new browser process on an existing profile, from navigation start to the
// first post on screen (the app's `performance.mark('kith:first-post')`), for two profiles in
// the same run:
// - first_post_ms_cold: a profile holding 100 feeds of 100 posts (the person's own and 99
//   followed), restored from KITH_BENCH_BACKUP_LARGE;
// - first_post_ms_cold_small: a profile holding one feed of 10 posts (KITH_BENCH_BACKUP_SMALL);
// - first_post_cold_ratio: large / small medians. Start-up should not grow with what is held.
// Each run closes the browser and starts a new one on the same profile (IndexedDB and the
// service worker's cache on disk, nothing in memory); the two profiles take turns.
// Prints one JSON object of figures on stdout; `cargo xtask bench` merges it into the report.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeProcess, baseUrl, launchProfile, restore } from './lib.mjs';

const large = process.env.KITH_BENCH_BACKUP_LARGE;
const small = process.env.KITH_BENCH_BACKUP_SMALL;
const passphrase = process.env.KITH_BENCH_BACKUP_PASS;
const runs = Number(process.env.KITH_BENCH_RUNS ?? 7);
if (!large || !small || !passphrase) throw new Error('run through `cargo xtask bench`');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** A profile directory with `file` restored into it, the browser closed again. */
async function prepared(file) {
  const dir = mkdtempSync(join(tmpdir(), 'kith-start-'));
  const ctx = await launchProfile(dir);
  const p = ctx.pages()[0] ?? (await ctx.newPage());
  await p.goto(baseUrl);
  await restore(p, file, passphrase);
  // The import is one transaction, written before the app opens on the timeline.
  await p.waitForSelector('#timeline article.post', { timeout: 300_000 });
  await ctx.close();
  return dir;
}

/** One cold start of the profile in `dir`: ms to the first post, and the posts shown. */
async function coldStart(dir) {
  const ctx = await launchProfile(dir);
  try {
    const p = ctx.pages()[0] ?? (await ctx.newPage());
    await p.goto(baseUrl);
    await p.waitForSelector('#timeline article.post', { timeout: 60_000 });
    const t = await p.evaluate(() => performance.getEntriesByName('kith:first-post')[0]?.startTime);
    if (typeof t !== 'number') throw new Error('the app did not mark its first post');
    const shown = await p.locator('#timeline > article.post').count();
    return { t, shown };
  } finally {
    await ctx.close();
  }
}

const node = new NodeProcess();
await node.start();
const times = { large: [], small: [] };
try {
  const dirs = { large: await prepared(large), small: await prepared(small) };
  for (let i = 0; i < runs; i++) {
    for (const size of ['large', 'small']) {
      const { t, shown } = await coldStart(dirs[size]);
      if (shown === 0) throw new Error(`no post shown on the ${size} profile`);
      times[size].push(t);
    }
  }
  for (const size of ['large', 'small']) {
    process.stderr.write(`first_post_ms_cold ${size}: ${times[size].map((t) => t.toFixed(1)).join(', ')}\n`);
  }
} finally {
  await node.stop();
}
const l = median(times.large);
const s = median(times.small);
console.log(JSON.stringify({
  first_post_ms_cold: Number(l.toFixed(1)),
  first_post_ms_cold_small: Number(s.toFixed(1)),
  first_post_cold_ratio: Number((l / s).toFixed(2)),
  first_post_cold_runs: runs,
}));
