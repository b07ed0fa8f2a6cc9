// Browser benchmarks: bundle size of dist/ and page-load-to-connected time.
// Prints one JSON object of figures on stdout; `cargo xtask bench` merges it into the report.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { NodeProcess, baseUrl, launchBrowser, onboard, repo } from './lib.mjs';

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
// Page load to connected (performance.now() when the connection came up), for the default
// dial (every address at once, first up wins) and for each transport alone. The network
// starts once the person has an identity, so each run onboards a fresh profile and then
// measures a reload of that tab (identity in IndexedDB, HTTP cache warm).
const variants = { '': [], websocket: [], 'webrtc-direct': [] };
const winners = {};
try {
  for (const [transport, times] of Object.entries(variants)) {
    for (let i = 0; i < runs; i++) {
      // A fresh context each run: no HTTP cache, no compiled-wasm cache carried over.
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(transport ? `${baseUrl}/?transport=${transport}` : baseUrl);
      await onboard(page, { name: `Bench ${i}`, handle: `bench${i}` });
      await page.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 });
      await page.reload();
      await page.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 });
      times.push(Number(await page.getAttribute('#status', 'data-connected-at-ms')));
      const won = await page.getAttribute('#status', 'data-transport');
      if (!transport) winners[won] = (winners[won] ?? 0) + 1;
      await context.close();
    }
  }
} finally {
  await browser.close();
  await node.stop();
}
for (const [transport, times] of Object.entries(variants)) {
  process.stderr.write(`connect_ms ${transport || 'default'}: ${times.map((t) => t.toFixed(1)).join(', ')}\n`);
}
process.stderr.write(`default dial won by: ${JSON.stringify(winners)}\n`);
const p50 = (xs) => Number(median(xs).toFixed(1));
console.log(JSON.stringify({
  bundle_raw_bytes: raw,
  bundle_gzip_bytes: gz,
  connect_ms_p50: p50(variants['']),
  connect_ms_p50_websocket: p50(variants.websocket),
  connect_ms_p50_webrtc_direct: p50(variants['webrtc-direct']),
  connect_runs: runs,
}));
