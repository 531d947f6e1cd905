// Queue layer: scan RECORDS (not raw requests) and their states, on top of queue-db.mjs.
//
//   pending --claim--> sending --settle--> done | refused | pending (retry later)
//   sending --lease expired (a crashed or killed replay)--> pending (at its old place in the queue)
//   refused --requeue (operator, e.g. after re-pairing the device)--> pending
//
// No method removes a pending, sending or refused scan. Only prune() deletes, and only scans the server recorded
// (state done) that are older than the given age. Claiming is one transaction, so two replays (the service worker
// and a page, or two tabs) never hold the same scan; a claim also preserves each card's scan order.

import { DB_NAME, META, SCANS, STATES, inTransaction, openQueueDb, requestResult, walk } from "./queue-db.mjs";

export { STATES };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ZONED_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const DAY = 24 * 60 * 60 * 1000;
// a new scan is on disk before add() resolves (the operator has been told "saved"); browsers may otherwise default to
// relaxed durability (Workbox's queue uses relaxed). Claims and settlements need not: losing one only means a scan is
// sent again, and the server answers a repeated scan_id with its first answer.
const STRICT = { durability: "strict" };

/** Check and normalise what the station page hands over; throws TypeError on anything the server would refuse as
 * a malformed request (a 400 would otherwise come back for the whole batch). Returns the wire-relevant fields. */
export function validateScan(scan) {
  if (!scan || typeof scan !== "object") throw new TypeError("scan must be an object");
  const scanId = String(scan.scan_id ?? "").toLowerCase();
  if (!UUID.test(scanId)) throw new TypeError("scan_id must be a UUID");
  if (typeof scan.mode !== "string" || !scan.mode) throw new TypeError("mode is required");
  if (typeof scan.card !== "string" || !scan.card.trim()) throw new TypeError("card is required");
  const scannedAt = scan.scanned_at instanceof Date ? scan.scanned_at.toISOString() : scan.scanned_at;
  if (typeof scannedAt !== "string" || !ZONED_ISO.test(scannedAt) || Number.isNaN(Date.parse(scannedAt))) {
    throw new TypeError("scanned_at must be an ISO 8601 time with a time zone");
  }
  const details = scan.details ?? {};
  if (typeof details !== "object" || Array.isArray(details)) throw new TypeError("details must be an object");
  for (const [key, value] of Object.entries(details)) {
    if (!(typeof value === "string" || Number.isInteger(value))) throw new TypeError(`details.${key} must be an integer or a string`);
  }
  if (scan.pin != null && typeof scan.pin !== "string") throw new TypeError("pin must be a string");
  return { scan_id: scanId, mode: scan.mode, card: scan.card, details: { ...details }, pin: scan.pin ?? null,
    scanned_at: scannedAt };
}

export class QueueStore {
  /** @param {{indexedDB?: IDBFactory, IDBKeyRange?: typeof IDBKeyRange, name?: string, now?: () => number}} options */
  constructor({ indexedDB = globalThis.indexedDB, IDBKeyRange = globalThis.IDBKeyRange, name = DB_NAME,
    now = () => Date.now() } = {}) {
    this.indexedDB = indexedDB;
    this.KeyRange = IDBKeyRange;
    this.name = name;
    this.now = now;
    this.dbPromise = null;
  }

  db() {
    if (!this.dbPromise) {
      this.dbPromise = openQueueDb({ indexedDB: this.indexedDB, name: this.name,
        onVersionChange: () => { this.dbPromise = null; } });
      this.dbPromise.catch(() => { this.dbPromise = null; });
    }
    return this.dbPromise;
  }

  async close() {
    if (!this.dbPromise) return;
    const pending = this.dbPromise;
    this.dbPromise = null;
    try { (await pending).close(); } catch { /* never opened */ }
  }

  stateRange(state) {
    return this.KeyRange.bound([state, -Infinity], [state, Infinity]);
  }

  /** Queue a scan judged on the device. Idempotent by scan_id: adding the same scan again returns the stored record
   * unchanged. queued_at is strictly increasing (it is the queue order even for two scans in one millisecond).
   * Fields: scan_id, mode, card, details, pin?, scanned_at, device_id, offline: true, local (the verdict shown to
   * the operator), clock (skew check at scan time, optional), state "pending", attempts 0, queued_at,
   * next_attempt_at. */
  async add(scan) {
    const wire = validateScan(scan);
    const db = await this.db();
    return inTransaction(db, [SCANS], "readwrite", async (tx) => {
      const store = tx.objectStore(SCANS);
      const existing = await requestResult(store.get(wire.scan_id));
      if (existing) return existing;
      let last = null;
      await walk(store.index("queued_at").openCursor(null, "prev"), (cursor) => { last = cursor.value.queued_at; return false; });
      const now = this.now();
      const queuedAt = last !== null && last >= now ? last + 1 : now;
      const record = {
        ...wire,
        device_id: scan.device_id ?? null,
        offline: true,
        local: scan.local ?? null,
        clock: scan.clock ?? null,
        state: STATES.PENDING,
        attempts: 0,
        queued_at: queuedAt,
        next_attempt_at: now,
        lease_until: null,
        last_attempt_at: null,
        last_error: null,
        answer: null,
        reason: null,
        message: null,
        server_disagrees: null,
        settled_at: null,
        schema: 2,
      };
      await requestResult(store.add(record));
      return record;
    }, STRICT);
  }

  async get(scanId) {
    const db = await this.db();
    return inTransaction(db, [SCANS], "readonly", (tx) => requestResult(tx.objectStore(SCANS).get(String(scanId).toLowerCase())));
  }

  /** Pending scans in queue order (oldest first), at most `limit`. */
  async pending(limit = Infinity) {
    return this.all({ state: STATES.PENDING, limit });
  }

  /** Scans in queue order, for the operator's list: all of them, or those of one state. */
  async all({ state = null, limit = Infinity } = {}) {
    const db = await this.db();
    return inTransaction(db, [SCANS], "readonly", async (tx) => {
      const store = tx.objectStore(SCANS);
      const request = state ? store.index("state_queued_at").openCursor(this.stateRange(state))
        : store.index("queued_at").openCursor();
      const out = [];
      await walk(request, (cursor) => {
        if (out.length >= limit) return false;
        out.push(cursor.value);
        return out.length < limit;
      });
      return out;
    });
  }

  /** How many scans: all, one state, or several (e.g. ["pending", "sending"] for the "waiting" counter). */
  async count(state = null) {
    const db = await this.db();
    const states = state === null ? null : [].concat(state);
    return inTransaction(db, [SCANS], "readonly", async (tx) => {
      const store = tx.objectStore(SCANS);
      if (!states) return requestResult(store.count());
      let total = 0;
      for (const s of states) total += await requestResult(store.index("state").count(this.KeyRange.only(s)));
      return total;
    });
  }

  /** Atomically take up to `limit` scans to send, marking them "sending" with a lease until now + leaseMs.
   * - A "sending" scan whose lease has expired goes back to "pending" first (its replay crashed or was killed).
   * - If another replay holds a live lease, nothing is claimed: {claimed: [], busyUntil}.
   * - Scans are taken in queue order; a scan not yet due (next_attempt_at > dueBy) is skipped and blocks the later
   *   scans of the same card, so one card's scans always reach the server in the order they were made.
   * - `exclude`: scan ids not to take (those already sent in this replay).
   * Each claimed scan's `attempts` goes up by one here, so a crashed attempt counts too. */
  async claim({ now = this.now(), limit, leaseMs, dueBy = now, exclude = null }) {
    if (!(limit >= 1)) throw new RangeError("limit must be at least 1");
    if (!(leaseMs > 0)) throw new RangeError("leaseMs must be positive");
    const db = await this.db();
    return inTransaction(db, [SCANS], "readwrite", async (tx) => {
      const store = tx.objectStore(SCANS);
      const byState = store.index("state_queued_at");
      let busyUntil = null;
      const expired = [];
      await walk(byState.openCursor(this.stateRange(STATES.SENDING)), (cursor) => {
        const record = cursor.value;
        if (record.lease_until != null && record.lease_until > now) {
          busyUntil = busyUntil === null ? record.lease_until : Math.min(busyUntil, record.lease_until);
        } else {
          expired.push(record);
        }
      });
      if (busyUntil !== null) return { claimed: [], busyUntil, reclaimed: 0 };
      for (const record of expired) {
        await requestResult(store.put({ ...record, state: STATES.PENDING, lease_until: null,
          last_error: { kind: "lease_expired", at: now } }));
      }
      const claimed = [];
      const blockedCards = new Set();
      await walk(byState.openCursor(this.stateRange(STATES.PENDING)), (cursor) => {
        const record = cursor.value;
        const card = record.card;
        if (blockedCards.has(card)) return true;
        if ((exclude && exclude.has(record.scan_id)) || record.next_attempt_at > dueBy) {
          blockedCards.add(card);
          return true;
        }
        claimed.push({ ...record, state: STATES.SENDING, lease_until: now + leaseMs, attempts: (record.attempts || 0) + 1,
          last_attempt_at: now });
        return claimed.length < limit;
      });
      // written after the walk rather than through the cursor, whose index key (the state) they change
      for (const record of claimed) await requestResult(store.put(record));
      return { claimed, busyUntil: null, reclaimed: expired.length };
    });
  }

  /** Apply the outcomes of one replay in one transaction. Each outcome: {scan_id, outcome: "done" | "refused" |
   * "retry", answer?, error?, next_attempt_at?}. Rules that keep replays from contradicting each other:
   * done is final (the server's first answer wins); refused never overrides done; retry only moves a scan that is
   * still pending or sending, and with `claimed_at` (the claim's last_attempt_at) only if no later claim took the scan
   * over after the lease ran out. A PIN is erased once the scan is settled (it is only needed to send the scan). */
  async settle(outcomes, { now = this.now() } = {}) {
    const db = await this.db();
    return inTransaction(db, [SCANS], "readwrite", async (tx) => {
      const store = tx.objectStore(SCANS);
      const applied = { done: 0, refused: 0, retry: 0, ignored: 0 };
      for (const item of outcomes) {
        const record = await requestResult(store.get(String(item.scan_id).toLowerCase()));
        const next = record ? applyOutcome(record, item, now) : null;
        if (!next) { applied.ignored += 1; continue; }
        await requestResult(store.put(next));
        applied[item.outcome] += 1;
      }
      return applied;
    });
  }

  /** The server recorded the scan (200, duplicates too). */
  markDone(scanId, answer, options) {
    return this.settle([{ scan_id: scanId, outcome: "done", answer }], options);
  }

  /** The server refused the scan for good: kept with its reason, listed for the operator, never dropped. */
  markFinal(scanId, answer, options) {
    return this.settle([{ scan_id: scanId, outcome: "refused", answer }], options);
  }

  /** Not sent or not answered: back to pending, tried again from `nextAt` (ms since the epoch). */
  markRetry(scanId, error, nextAt, options) {
    return this.settle([{ scan_id: scanId, outcome: "retry", error, next_attempt_at: nextAt }], options);
  }

  /** Operator action: send refused scans again (e.g. after staff re-paired a revoked device). Returns how many. */
  async requeue(scanIds, { now = this.now() } = {}) {
    const db = await this.db();
    return inTransaction(db, [SCANS], "readwrite", async (tx) => {
      const store = tx.objectStore(SCANS);
      let moved = 0;
      for (const id of scanIds) {
        const record = await requestResult(store.get(String(id).toLowerCase()));
        if (!record || record.state !== STATES.REFUSED) continue;
        await requestResult(store.put({ ...record, state: STATES.PENDING, next_attempt_at: now, lease_until: null,
          requeued_at: now, previous_answer: record.answer }));
        moved += 1;
      }
      return moved;
    }, STRICT);
  }

  /** Delete scans the server recorded (state done) settled more than `olderThanDays` ago. Pending, sending and
   * refused scans are never deleted, however old. Returns how many were deleted. */
  async prune({ now = this.now(), olderThanDays = 7 } = {}) {
    const cutoff = now - olderThanDays * DAY;
    const db = await this.db();
    return inTransaction(db, [SCANS], "readwrite", async (tx) => {
      let deleted = 0;
      await walk(tx.objectStore(SCANS).index("state_queued_at").openCursor(this.stateRange(STATES.DONE)), (cursor) => {
        const record = cursor.value;
        if (record.state === STATES.DONE && record.settled_at != null && record.settled_at < cutoff) {
          cursor.delete();
          deleted += 1;
        }
      });
      return deleted;
    });
  }

  /** When a replay could next do something: the earliest time a pending scan may go (its next_attempt_at, or later
   * if an earlier scan of its card waits longer) or a sending one's lease ends; null when nothing waits. (replay.mjs combines it with its back-off pause.) */
  async nextAttemptAt() {
    const db = await this.db();
    return inTransaction(db, [SCANS], "readonly", async (tx) => {
      const byState = tx.objectStore(SCANS).index("state_queued_at");
      let next = null;
      const take = (t) => { if (Number.isFinite(t)) next = next === null ? t : Math.min(next, t); };
      const cardReady = new Map(); // a scan cannot go before the earlier scans of its card (see claim)
      await walk(byState.openCursor(this.stateRange(STATES.PENDING)), (c) => {
        const ready = Math.max(c.value.next_attempt_at, cardReady.get(c.value.card) ?? -Infinity);
        cardReady.set(c.value.card, ready);
        take(ready);
      });
      await walk(byState.openCursor(this.stateRange(STATES.SENDING)), (c) => { take(c.value.lease_until); });
      return next;
    });
  }

  async getMeta(key) {
    const db = await this.db();
    return inTransaction(db, [META], "readonly", async (tx) => {
      const row = await requestResult(tx.objectStore(META).get(key));
      return row ? row.value : undefined;
    });
  }

  async setMeta(key, value) {
    const db = await this.db();
    return inTransaction(db, [META], "readwrite", (tx) => requestResult(tx.objectStore(META).put({ key, value })));
  }
}

function applyOutcome(record, item, now) {
  const state = record.state;
  if (state === STATES.DONE) return null;
  const answer = item.answer ?? null;
  if (item.outcome === "done" || item.outcome === "refused") {
    if (item.outcome === "refused" && state === STATES.REFUSED && record.answer) return null;
    const local = record.local;
    const accepted = answer && typeof answer.accepted === "boolean" ? answer.accepted : item.outcome === "done";
    return {
      ...record,
      state: item.outcome === "done" ? STATES.DONE : STATES.REFUSED,
      pin: null,
      lease_until: null,
      answer,
      reason: (answer && answer.reason) || (item.error && item.error.reason) || null,
      message: (answer && answer.message) || (item.error && item.error.message) || null,
      last_error: item.outcome === "refused" ? (item.error ?? null) : null,
      server_disagrees: local && typeof local.accepted === "boolean" ? local.accepted !== accepted : null,
      settled_at: now,
    };
  }
  if (item.outcome === "retry") {
    if (state !== STATES.PENDING && state !== STATES.SENDING) return null;
    if (state === STATES.SENDING && item.claimed_at != null && record.last_attempt_at !== item.claimed_at) return null;
    return { ...record, state: STATES.PENDING, lease_until: null, last_error: item.error ?? null,
      next_attempt_at: Number.isFinite(item.next_attempt_at) ? item.next_attempt_at : now };
  }
  throw new TypeError(`unknown outcome ${item.outcome}`);
}

/** A store over the default database. */
export function openQueueStore(options) {
  return new QueueStore(options);
}
