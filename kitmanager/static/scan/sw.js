// The scan station's service worker: the station page and its static files open with no
// connection. Scans themselves never go through here; the page queues them in IndexedDB.
const CACHE = "kitmanager-station-v1";
const PAGE_TIMEOUT_MS = 4000;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function withTimeout(promise, ms) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms)),
  ]);
}

async function pageFirstFromNetwork(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await withTimeout(fetch(request), PAGE_TIMEOUT_MS);
    if (response.ok && !response.redirected) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached =
      (await cache.match(request)) || (await cache.match(request, { ignoreSearch: true }));
    if (cached) return cached;
    throw error;
  }
}

async function staticFromCache(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  const refresh = fetch(request)
    .then((response) => {
      if (response.ok) cache.put(request, response.clone());
      return response;
    })
    .catch(() => cached);
  return cached || refresh;
}

// The page asks for itself and its files to be kept, so it opens offline after one visit.
self.addEventListener("message", (event) => {
  const urls = event.data && event.data.precache;
  if (!Array.isArray(urls)) return;
  const sameOrigin = urls.filter((u) => new URL(u, self.location.href).origin === self.location.origin);
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(sameOrigin)));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope);
  if (url.pathname === scope.pathname) {
    event.respondWith(pageFirstFromNetwork(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFromCache(request));
  }
});
