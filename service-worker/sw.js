// Linli service worker: serves the app shell from the cache when the network is down.
// The station scan queue (IndexedDB, replay) builds on this in the offline-stations work.
const SHELL_CACHE = "linli-shell-v1";
const SHELL = ["/static/css/app.css", "/static/js/app.js", "/static/vendor/htmx.min.js",
  "/static/icons/icon-192.png", "/manifest.webmanifest",
  "/static/css/station.css", "/static/js/station.js", "/static/vendor/jsQR.js", "/static/js/my-card.js"];

// A resident's own card page opens at a till even without a network (its script then shows the printed code).
// Personal pages live in their own cache, which the page empties on sign-out.
const PAGES_CACHE = "linli-pages";
const OFFLINE_PAGES = ["/me/card"];

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
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  const page = request.mode === "navigate" && OFFLINE_PAGES.includes(url.pathname);
  // network first, so people see fresh balances; the cache only answers when the network cannot
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok && !response.redirected && (page || url.pathname.startsWith("/static/"))) {
          const copy = response.clone();
          caches.open(page ? PAGES_CACHE : SHELL_CACHE).then((cache) => cache.put(page ? url.pathname : request, copy));
        }
        return response;
      })
      .catch(() => caches.match(page ? url.pathname : request).then((hit) => hit || Response.error())),
  );
});
