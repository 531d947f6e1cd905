// Storage layer of the station's offline scan queue: the IndexedDB database, its versioned schema and small
// promise helpers. No queue policy lives here (that is queue-store.mjs) and nothing here knows HTTP (replay.mjs).
//
// The rule for every schema upgrade: it may add stores, indexes and field defaults, and it may rewrite a record
// in place, but it NEVER deletes a store, an index holding data, or a record. A queued scan is somebody's
// points; an upgrade of the app must not lose it (Workbox's QueueDb deletes its store on upgrade: not here).

export const DB_NAME = "linli-station";
export const SCANS = "scans";
export const META = "meta"; // since version 2: small key-value records (replay back-off, clock offset)
export const DB_VERSION = 2;

export const STATES = Object.freeze({
  PENDING: "pending", // waiting to be sent (or to be sent again after a retryable failure)
  SENDING: "sending", // claimed by one replay with a lease; back to pending when the lease expires
  DONE: "done", // the server recorded it (or had recorded it already: a duplicate)
  REFUSED: "refused", // the server refused it for good (422, or a final 4xx for the request): kept, shown
});

// One function per version, applied in order from the stored version + 1 up to the requested version, inside
// the versionchange transaction. Each must be safe on any data an earlier version could have written.
export const UPGRADES = Object.freeze({
  1(db) {
    const scans = db.createObjectStore(SCANS, { keyPath: "scan_id" });
    scans.createIndex("state", "state");
    scans.createIndex("queued_at", "queued_at");
  },
  2(db, tx) {
    const scans = tx.objectStore(SCANS);
    // which paired device made the scan (a station may be re-paired; the list page groups by it)
    if (!scans.indexNames.contains("device_id")) scans.createIndex("device_id", "device_id");
    // one ordered walk over the scans of one state (claiming pending scans in queue order)
    if (!scans.indexNames.contains("state_queued_at")) scans.createIndex("state_queued_at", ["state", "queued_at"]);
    if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, { keyPath: "key" });
    // fields version 2 relies on get their defaults; every record is rewritten in place, none is removed
    const cursorRequest = scans.openCursor();
    cursorRequest.onsuccess = () => {
      const cursor = cursorRequest.result;
      if (!cursor) return;
      cursor.update(migrateRecordToV2(cursor.value));
      cursor.continue();
    };
  },
});

const KNOWN_STATES = new Set(Object.values(STATES));

/** A version-1 record with the defaults version 2 expects. Pure: also used by the tests. */
export function migrateRecordToV2(record) {
  const out = { ...record };
  out.device_id = out.device_id ?? null;
  out.attempts = Number.isFinite(out.attempts) ? out.attempts : 0;
  out.queued_at = Number.isFinite(out.queued_at) ? out.queued_at : Date.parse(out.scanned_at) || 0;
  out.next_attempt_at = Number.isFinite(out.next_attempt_at) ? out.next_attempt_at : out.queued_at;
  out.lease_until = null; // version 1 had no leases: whatever it was doing, it is not sending now
  if (!KNOWN_STATES.has(out.state) || out.state === STATES.SENDING) out.state = STATES.PENDING;
  out.last_error = out.last_error ?? null;
  out.answer = out.answer ?? null;
  out.reason = out.reason ?? null;
  out.message = out.message ?? null;
  out.schema = 2;
  return out;
}

/** Open (creating or upgrading) the queue's database. `version` below DB_VERSION is for tests of the migrations.
 * If the stored database is NEWER than this code (an older service worker still running after an update), it is
 * opened at its own version instead of failing: newer versions only ever add, so this code can still use it. */
export function openQueueDb({ indexedDB = globalThis.indexedDB, name = DB_NAME, version = DB_VERSION,
  onVersionChange = null, onBlocked = null } = {}) {
  if (!indexedDB) return Promise.reject(new Error("IndexedDB is not available"));
  if (!Number.isInteger(version) || version < 1 || version > DB_VERSION) {
    return Promise.reject(new RangeError(`no schema for version ${version}`));
  }
  return openAt(indexedDB, name, version, onBlocked).catch((error) => {
    if (error && error.name === "VersionError") return openAt(indexedDB, name, undefined, onBlocked);
    throw error;
  }).then((db) => {
    // another context wants to upgrade: step aside so it is not blocked; the store reopens on its next call
    db.onversionchange = () => {
      db.close();
      if (onVersionChange) onVersionChange(db);
    };
    return db;
  });
}

function openAt(indexedDB, name, version, onBlocked) {
  return new Promise((resolve, reject) => {
    const request = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version);
    request.onupgradeneeded = (event) => {
      const db = request.result;
      const tx = request.transaction;
      for (let v = event.oldVersion + 1; v <= event.newVersion; v += 1) {
        const upgrade = UPGRADES[v];
        if (!upgrade) {
          tx.abort(); // never leave a half-known schema behind
          reject(new RangeError(`no upgrade to version ${v}`));
          return;
        }
        upgrade(db, tx, event.oldVersion);
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => { if (onBlocked) onBlocked(); };
  });
}

/** The result of one IDBRequest. */
export function requestResult(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Walk a cursor request; `visit(cursor)` runs synchronously for each row (update/delete allowed), return false
 * to stop. Synchronous on purpose: the transaction stays active between rows. */
export function walk(cursorRequest, visit) {
  return new Promise((resolve, reject) => {
    cursorRequest.onsuccess = () => {
      const cursor = cursorRequest.result;
      if (!cursor) { resolve(); return; }
      try {
        if (visit(cursor) === false) { resolve(); return; }
        cursor.continue();
      } catch (error) {
        reject(error);
      }
    };
    cursorRequest.onerror = () => reject(cursorRequest.error);
  });
}

/** Run `work(tx)` in one transaction and resolve with its result once the transaction has COMMITTED. `work` may
 * await IDB requests of this transaction only (any other await would let the transaction auto-commit).
 * `options` e.g. {durability: "strict"}: resolve only once the data is flushed to disk. */
export async function inTransaction(db, storeNames, mode, work, options = undefined) {
  const tx = options ? db.transaction(storeNames, mode, options) : db.transaction(storeNames, mode);
  const committed = new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error || new DOMException("transaction aborted", "AbortError"));
  });
  let result;
  try {
    result = await work(tx);
  } catch (error) {
    try { tx.abort(); } catch { /* already finished */ }
    await committed.catch(() => {});
    throw error;
  }
  await committed;
  return result;
}
