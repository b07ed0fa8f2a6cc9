// Browser benchmarks: bundle size of dist/ and page-load-to-connected time.
// Prints one JSON object of figures on stdout; `cargo xtask bench` merges it into the report.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { NodeProcess, baseUrl, launchBrowser, repo } from './lib.mjs';

const runs = Number(process.env.KITH_BENCH_RUNS ?? 7);
const dist = process.env.KITH_DIST ?? join(repo, 'dist');

let raw = 0;
let gz = 0;
for (const f of readdirSync(dist)) {
  if (f.endsWith('.wasm') || f.endsWith('.js')) {
    const bytes = readFileSync(join(dist, f));
    raw += bytes.length;
    gz += gzipSync(bytes, { level: 9 }).length;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const node = new NodeProcess();
await node.start();
const browser = await launchBrowser();
const times = [];
try {
  for (let i = 0; i < runs; i++) {
    // A fresh context each run: no HTTP cache, no compiled-wasm cache carried over.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(baseUrl);
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 });
    times.push(Number(await page.getAttribute('#status', 'data-connected-at-ms')));
    await context.close();
  }
} finally {
  await browser.close();
  await node.stop();
}
process.stderr.write(`connect_ms runs: ${times.map((t) => t.toFixed(1)).join(', ')}\n`);
console.log(JSON.stringify({
  bundle_raw_bytes: raw,
  bundle_gzip_bytes: gz,
  connect_ms_p50: Number(median(times).toFixed(1)),
  connect_runs: times.length,
}));
