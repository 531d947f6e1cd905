// Linli service worker: serves the app shell from the cache when the network is down.
// The station scan queue (IndexedDB, replay) builds on this in the offline-stations work.
const SHELL_CACHE = "linli-shell-v1";
const SHELL = ["/static/css/app.css", "/static/js/app.js", "/static/vendor/htmx.min.js",
  "/static/icons/icon-192.png", "/manifest.webmanifest",
  "/static/css/station.css", "/static/js/station.js", "/static/vendor/jsQR.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("linli-shell-") && k !== SHELL_CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  // network first, so people see fresh balances; the cache only answers when the network cannot
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok && request.url.includes("/static/")) {
          const copy = response.clone();
          caches.open(SHELL_CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request).then((hit) => hit || Response.error())),
  );
});
