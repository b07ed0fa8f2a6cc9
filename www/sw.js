// Kith's service worker: caches the app shell so the app opens offline and shows the
// timeline stored in IndexedDB. Posts are never cached here: they live in IndexedDB.
//
// - Install: fetch "/" and cache it together with every same-origin asset it links (Trunk's
//   hashed .js/.wasm/.css files, the icon, the manifest).
// - Navigations: network first (a new release is picked up at once), the cached shell when
//   the network fails.
// - Hashed assets: cache first (a hash names one content forever).
// - /bootstrap.json and /status.json: network only (they describe the live node).
const CACHE = 'kith-shell-v1';
const LIVE = ['/bootstrap.json', '/status.json'];

async function cacheShell() {
  const cache = await caches.open(CACHE);
  const res = await fetch('/', { cache: 'no-store' });
  if (!res.ok) throw new Error(`shell: HTTP ${res.status}`);
  const html = await res.clone().text();
  await cache.put('/', res);
  const urls = new Set(['/manifest.webmanifest', '/icon.svg']);
  for (const m of html.matchAll(/(?:href|src)="(\/[^"]+)"/g)) urls.add(m[1]);
  await Promise.all([...urls].map(async (u) => {
    try {
      const r = await fetch(u);
      if (r.ok) await cache.put(u, r);
    } catch (_) { /* an asset that fails now is cached on first use */ }
  }));
}

self.addEventListener('install', (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || LIVE.includes(url.pathname)) return;
  if (req.mode === 'navigate') {
    event.respondWith((async () => {
      try {
        const res = await fetch(req);
        if (res.ok) (await caches.open(CACHE)).put('/', res.clone());
        return res;
      } catch (_) {
        return (await caches.match('/')) ?? Response.error();
      }
    })());
    return;
  }
  event.respondWith((async () => {
    const hit = await caches.match(req, { ignoreSearch: true });
    if (hit) return hit;
    const res = await fetch(req);
    if (res.ok) (await caches.open(CACHE)).put(req, res.clone());
    return res;
  })());
});
