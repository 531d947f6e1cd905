// Linli service worker (a module worker: registered with {type: "module"}).
// (1) Serves the app shell, the station screen and its assets from the cache when the network is down.
// (2) Replays the station's offline scan queue (src/: IndexedDB records, replay policy) on Background Sync
//     (tag "linli-scans"), whenever the worker starts, on a retry timer, and when a page asks.
import { ClockSkew } from "/sw-src/clock.mjs";
import { QueueStore } from "/sw-src/queue-store.mjs";
import { replayOnce } from "/sw-src/replay.mjs";

const SHELL_CACHE = "linli-shell-v2";
const SHELL = ["/static/css/app.css", "/static/js/app.js", "/static/vendor/htmx.min.js",
  "/static/icons/icon-192.png", "/manifest.webmanifest",
  "/static/css/station.css", "/static/js/station.js", "/static/vendor/jsQR.js", "/static/js/my-card.js",
  "/static/js/offline-judge.mjs", "/static/js/station-queue.js",
  "/sw-src/queue-db.mjs", "/sw-src/queue-store.mjs", "/sw-src/replay.mjs", "/sw-src/clock.mjs"];

// A resident's own card page opens at a till even without a network (its script then shows the printed code).
// Personal pages live in their own cache, which the page empties on sign-out.
const PAGES_CACHE = "linli-pages";
const OFFLINE_PAGES = ["/me/card"];
// A paired station's screens: kept in a cache of their own, so a staff sign-out on the device does not empty it.
const STATION_CACHE = "linli-station";
const STATION_PAGES = ["/station", "/station/queue"];

export const SYNC_TAG = "linli-scans";
const store = new QueueStore();
let retryTimer = null;

/** One replay of the queue (single flight within this worker; leases keep the station page's replays apart). */
async function replay(force = false) {
  const clock = ClockSkew.fromJSON(await store.getMeta("clock"));
  const summary = await replayOnce({ store, force, clock });
  await store.setMeta("clock", clock.toJSON());
  const clients = await self.clients.matchAll({ type: "window" });
  clients.forEach((client) => client.postMessage({ type: "linli:queue", summary }));
  // a worker may be stopped at any time; the page keeps its own timer too, and Background Sync fires again
  clearTimeout(retryTimer);
  if (summary.nextAttemptAt !== null && !summary.blocked) {
    const wait = Math.min(Math.max(summary.nextAttemptAt - Date.now(), 1000), 5 * 60 * 1000);
    retryTimer = setTimeout(() => { replay().catch(() => {}); }, wait);
  }
  return summary;
}

// every start of the worker (after the browser was closed, or the worker stopped when idle) tries once
replay().catch(() => {});

self.addEventListener("sync", (event) => {
  // a rejected sync is fired again by the browser later (with its own back-off): so when scans still wait
  if (event.tag === SYNC_TAG) {
    event.waitUntil(replay(true).then((summary) => {
      if (!summary.blocked && (summary.paused || summary.retry > 0)) throw new Error("scans still waiting");
    }));
  }
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "linli:replay") event.waitUntil(replay(Boolean(event.data.force)).catch(() => {}));
});

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
  const navigate = request.mode === "navigate";
  const station = navigate && STATION_PAGES.includes(url.pathname);
  const page = navigate && OFFLINE_PAGES.includes(url.pathname);
  const asset = url.pathname.startsWith("/static/") || url.pathname.startsWith("/sw-src/");
  if (navigate && !station && !page && url.pathname !== "/") {
    return; // every other page: the network as usual
  }
  const cacheName = station ? STATION_CACHE : page ? PAGES_CACHE : SHELL_CACHE;
  const key = station || page ? url.pathname : request;
  // network first, so people see fresh balances; the cache only answers when the network cannot
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok && !response.redirected && (station || page || asset)) {
          const copy = response.clone();
          caches.open(cacheName).then((cache) => cache.put(key, copy));
        }
        return response;
      })
      .catch(async () => {
        // the installed app starts at "/", which sends a paired device to its scan screen: offline, open that
        if (navigate && url.pathname === "/") {
          return (await caches.match("/station", { cacheName: STATION_CACHE })) || Response.error();
        }
        return (await caches.match(key, station || page ? { cacheName } : undefined)) || Response.error();
      }),
  );
});
