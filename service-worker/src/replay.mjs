// Replay policy: send queued scans to POST /api/v1/scans/batch and apply the ONE decided meaning of the answers
// (ARCHITECTURE.md, "Scans"):
//
//   per scan, in the 200 list:  2xx -> done (recorded or duplicate)   409/429/5xx -> retry   other 4xx (422) -> refused
//   whole request:              409, 429, 5xx, network error, timeout, unreadable 2xx body -> keep all, retry later
//                               400, 413 with several scans -> split in halves and send again (find the bad one)
//                               400, 413 for one scan, 403 (device unknown/revoked), other 4xx -> refused, with the
//                               body's reason; 403 also stops this replay
//
// Nothing is removed from the queue here: scans change state in queue-store.mjs. Time (`now`), `fetch` and
// randomness are injected, so the tests control all three.

import { STATES } from "./queue-store.mjs";

export const BATCH_URL = "/api/v1/scans/batch";
export const MAX_BATCH = 500; // the server's limit (backend/scans/web.py MAX_BATCH)
export const REPLAY_META = "replay"; // back-off state kept in the meta store, shared by every context
export const DEFAULTS = Object.freeze({
  batchSize: MAX_BATCH,
  timeoutMs: 30_000, // one batch request, answer body included
  leaseMs: 120_000, // how long a claimed scan stays "sending" before another replay may take it again
  baseDelayMs: 2_000, // back-off: 2 s, 4 s, 8 s ... (jittered) ...
  maxDelayMs: 300_000, // ... up to 5 minutes
  maxRetryAfterMs: 3_600_000, // a Retry-After is honoured, up to an hour
});
// the fields of backend/scans/schemas.py ScanIn; the server forbids unknown fields (a 400 for the whole batch)
export const WIRE_FIELDS = Object.freeze(["scan_id", "scanned_at", "mode", "card", "details", "pin", "offline",
  "device_verdict", "clock_offset_ms"]);

/** What an HTTP status means for a scan: "done", "retry" or "final". */
export function classifyStatus(status) {
  if (status >= 200 && status < 300) return "done";
  if (status === 409 || status === 429 || status >= 500) return "retry";
  if (status >= 400 && status < 500) return "final";
  return "retry"; // 1xx/3xx never answer a scan: not an answer, try again
}

/** Exponential back-off with "equal jitter": the n-th consecutive failure waits between half and all of
 * min(max, base * 2^(n-1)). `random` returns [0, 1). */
export function backoffDelay(failures, { baseDelayMs = DEFAULTS.baseDelayMs, maxDelayMs = DEFAULTS.maxDelayMs,
  random = Math.random } = {}) {
  const n = Math.max(1, Math.floor(failures));
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(n - 1, 40));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Retry-After as milliseconds from `nowMs`: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value, nowMs) {
  if (value == null || value === "") return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** The request body's form of a queued scan: exactly the server's ScanIn fields (device_id travels in the
 * device credential, never in the body). */
export function toWire(record) {
  const out = { scan_id: record.scan_id, scanned_at: record.scanned_at, mode: record.mode, card: record.card,
    details: record.details ?? {}, offline: true };
  if (typeof record.pin === "string") out.pin = record.pin;
  // what the operator was shown (the server's conflict policy weighs it): exactly DeviceVerdict's two fields
  const local = record.local;
  if (local && typeof local.accepted === "boolean") {
    out.device_verdict = { accepted: local.accepted, reason: typeof local.reason === "string" && local.reason ? local.reason : "ok",
      params: scalarParams(local.params) };
  }
  // device clock minus server clock, as last measured online (clock.mjs measures server minus device)
  const offset = record.clock && record.clock.device_minus_server_ms;
  if (Number.isInteger(offset)) out.clock_offset_ms = offset;
  return out;
}

class TimeoutError extends Error {
  constructor(ms) {
    super(`no answer within ${ms} ms`);
    this.name = "TimeoutError";
  }
}

const inFlight = new WeakMap(); // store -> the running replay's promise (single flight within one context)

/** Send what is due, once. Returns {sent, done, refused, retry, requests, nextAttemptAt, busy, paused, blocked}:
 * `nextAttemptAt` (ms or null) is when calling again could make progress (set a timer for it); `busy` means another
 * context holds a live lease; `paused` that the back-off (or a Retry-After) said not yet; `blocked` the reason of a
 * 403 (device_revoked, device_unknown): the scans of that request are refused, and the queue then sends nothing
 * (in every context, across restarts) until resumeReplay() is called after the device is paired again, so one
 * revoked device does not turn its whole queue into refusals batch after batch. A second call while one runs in
 * this context joins it (same promise).
 * `force` (Background Sync fired, the page went online) ignores the back-off of network failures but never a
 * server's Retry-After. */
export function replayOnce(options) {
  const { store } = options;
  if (!store) throw new TypeError("store is required");
  const running = inFlight.get(store);
  if (running) return running;
  const run = replay(options).finally(() => inFlight.delete(store));
  inFlight.set(store, run);
  return run;
}

async function replay({ store, fetch = globalThis.fetch, now = () => Date.now(), random = Math.random,
  batchSize = DEFAULTS.batchSize, timeoutMs = DEFAULTS.timeoutMs, leaseMs = DEFAULTS.leaseMs,
  baseDelayMs = DEFAULTS.baseDelayMs, maxDelayMs = DEFAULTS.maxDelayMs, maxRetryAfterMs = DEFAULTS.maxRetryAfterMs,
  url = BATCH_URL, force = false, clock = null }) {
  if (!(batchSize >= 1 && batchSize <= MAX_BATCH)) throw new RangeError(`batchSize must be 1..${MAX_BATCH}`);
  if (!(leaseMs > timeoutMs)) throw new RangeError("leaseMs must exceed timeoutMs (a lease must outlive its request)");
  const summary = { sent: 0, done: 0, refused: 0, retry: 0, requests: 0, nextAttemptAt: null, busy: false,
    paused: false, blocked: null };
  const backoff = { failures: 0, batch_limit: batchSize, pause_until: 0, retry_after_until: 0,
    ...((await store.getMeta(REPLAY_META)) || {}) };
  const delays = { baseDelayMs, maxDelayMs, random };
  const post = (records) => postBatch({ fetch, url, records, timeoutMs, now, clock });
  const sentIds = new Set();
  let busyTill = 0; // another context's lease: nothing can be claimed before it ends

  const start = now();
  if (backoff.blocked) {
    summary.blocked = backoff.blocked.reason;
  } else if (start < backoff.retry_after_until || (!force && start < backoff.pause_until)) {
    summary.paused = true;
  } else {
    for (;;) {
      const t = now();
      const limit = Math.max(1, Math.min(batchSize, backoff.batch_limit || batchSize));
      const { claimed, busyUntil } = await store.claim({ now: t, limit, leaseMs, dueBy: force ? Infinity : t,
        exclude: sentIds });
      if (busyUntil !== null) { summary.busy = true; busyTill = busyUntil; break; }
      if (claimed.length === 0) break;
      claimed.forEach((r) => sentIds.add(r.scan_id));
      summary.sent += claimed.length;

      let result;
      try {
        result = await sendSplitting(post, claimed, summary);
      } catch (error) {
        // a bug or a storage failure between claim and settle: give the scans back rather than wait for the lease
        await store.settle(claimed.map((r) => ({ scan_id: r.scan_id, outcome: "retry",
          error: { kind: "internal", message: String(error && error.message) }, next_attempt_at: now() })));
        throw error;
      }
      const settledAt = now();
      const outcomes = result.outcomes.map((o) => (o.outcome === "retry" && o.next_attempt_at === undefined
        ? { ...o, next_attempt_at: settledAt + backoffDelay(recordOf(claimed, o.scan_id).attempts, delays) } : o));
      if (result.failure) {
        // the request as a whole was not answered: one back-off for the queue, a smaller batch next time
        backoff.failures += 1;
        backoff.batch_limit = Math.max(1, Math.floor(limit / 2));
        let wait = backoffDelay(backoff.failures, delays);
        if (result.failure.retryAfterMs != null) {
          const honoured = Math.min(result.failure.retryAfterMs, maxRetryAfterMs);
          wait = Math.max(honoured, Math.round(honoured * (1 + 0.1 * random())));
          backoff.retry_after_until = settledAt + wait;
        }
        backoff.pause_until = settledAt + wait;
        for (const record of result.failure.records) {
          outcomes.push({ scan_id: record.scan_id, outcome: "retry", error: result.failure.error,
            next_attempt_at: backoff.pause_until });
        }
      } else {
        backoff.failures = 0;
        backoff.pause_until = 0;
        backoff.batch_limit = Math.min(batchSize, limit * 2);
      }
      if (result.blocked) backoff.blocked = { reason: result.blocked, at: settledAt };
      // a retry must not pull a scan back from a later claim that took it over after our lease ran out
      const applied = await store.settle(outcomes.map((o) => ({ ...o, claimed_at: recordOf(claimed, o.scan_id).last_attempt_at })),
        { now: settledAt });
      summary.done += applied.done;
      summary.refused += applied.refused;
      summary.retry += applied.retry;
      await store.setMeta(REPLAY_META, backoff);
      if (result.failure) { summary.paused = true; break; }
      if (result.blocked) { summary.blocked = result.blocked; break; }
    }
  }

  const nextScan = summary.blocked ? null : await store.nextAttemptAt();
  if (nextScan !== null) {
    const pause = Math.max(busyTill, backoff.retry_after_until, backoff.pause_until);
    summary.nextAttemptAt = Math.max(nextScan, pause);
  }
  return summary;
}

/** After the device is paired again (or staff restored it): let replays send again, at once. Scans refused by the 403
 * stay refused; the operator sends them again with store.requeue(ids). Returns the block that was lifted, if any. */
export async function resumeReplay(store) {
  const backoff = (await store.getMeta(REPLAY_META)) || {};
  const lifted = backoff.blocked || null;
  await store.setMeta(REPLAY_META, { ...backoff, blocked: null, failures: 0, pause_until: 0 });
  return lifted;
}

function recordOf(records, scanId) {
  return records.find((r) => r.scan_id === scanId) || { attempts: 1 };
}

/** Send `records` (already claimed); on a 400/413 for several scans, split in halves so one malformed scan cannot
 * take 499 good ones with it. Returns {outcomes, failure?: {records, error, retryAfterMs}, blocked?}. A failure stops
 * the splitting: the scans not yet answered are all in failure.records. */
async function sendSplitting(post, records, summary) {
  const outcomes = [];
  const queue = [records];
  while (queue.length) {
    const part = queue.shift();
    summary.requests += 1;
    const answer = await post(part);
    if (answer.kind === "answers") {
      outcomes.push(...answer.outcomes);
      continue;
    }
    if (answer.kind === "split" && part.length > 1) {
      const half = Math.ceil(part.length / 2);
      queue.unshift(part.slice(0, half), part.slice(half));
      continue;
    }
    if (answer.kind === "retry") {
      return { outcomes, failure: { records: queue.reduce((all, p) => all.concat(p), part.slice()),
        error: answer.error, retryAfterMs: answer.retryAfterMs } };
    }
    // final for these scans (a 403 device refusal, a 400 for a single scan, any other 4xx)
    for (const record of part) outcomes.push({ scan_id: record.scan_id, outcome: "refused", error: answer.error,
      answer: { scan_id: record.scan_id, accepted: false, reason: answer.error.reason, message: answer.error.message,
        status: answer.error.status } });
    if (answer.error.status === 403) {
      // the device itself is refused: the rest of this part's siblings stay pending for the operator to see
      const rest = queue.reduce((all, p) => all.concat(p), []);
      for (const record of rest) outcomes.push({ scan_id: record.scan_id, outcome: "retry", error: answer.error });
      return { outcomes, blocked: answer.error.reason || "forbidden" };
    }
  }
  return { outcomes };
}

/** One POST. Returns {kind: "answers", outcomes} | {kind: "retry", error, retryAfterMs} | {kind: "split", error}
 * | {kind: "final", error}. Never throws for network or server trouble. */
async function postBatch({ fetch, url, records, timeoutMs, now, clock }) {
  const controller = typeof AbortController === "function" ? new AbortController() : null;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      if (controller) controller.abort();
      reject(new TimeoutError(timeoutMs));
    }, timeoutMs);
  });
  let response;
  let text;
  const sentAt = now();
  try {
    response = await Promise.race([fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ scans: records.map(toWire) }),
      signal: controller ? controller.signal : undefined,
    }), timeout]);
    text = await Promise.race([response.text(), timeout]);
  } catch (error) {
    const kind = error instanceof TimeoutError ? "timeout" : "network";
    return { kind: "retry", error: { kind, message: String((error && error.message) || error) }, retryAfterMs: null };
  } finally {
    clearTimeout(timer);
  }
  const receivedAt = now();
  const headers = response.headers;
  if (clock && headers && typeof clock.observeDateHeader === "function") {
    clock.observeDateHeader(headers.get("date"), sentAt, receivedAt);
  }
  const status = response.status;
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  const meaning = classifyStatus(status);

  if (meaning === "retry") {
    return { kind: "retry", error: { kind: "http", status, reason: body && body.reason, message: body && body.message },
      retryAfterMs: headers ? parseRetryAfter(headers.get("retry-after"), receivedAt) : null };
  }
  if (meaning === "final") {
    const error = { kind: "http", status, reason: (body && typeof body.reason === "string" && body.reason) || `http_${status}`,
      message: (body && typeof body.message === "string" && body.message) || null };
    return { kind: status === 400 || status === 413 ? "split" : "final", error };
  }
  // 2xx: a list with one answer per scan; anything else is not an answer (a captive portal, a proxy page)
  if (!Array.isArray(body)) {
    return { kind: "retry", error: { kind: "protocol", status, message: "the answer is not a list of scan answers" },
      retryAfterMs: null };
  }
  const byId = new Map();
  for (const answer of body) {
    if (answer && typeof answer.scan_id === "string") byId.set(answer.scan_id.toLowerCase(), answer);
  }
  const outcomes = records.map((record) => {
    const answer = byId.get(record.scan_id);
    const scanStatus = !answer ? null : Number.isInteger(answer.status) ? answer.status
      : typeof answer.accepted === "boolean" ? (answer.accepted ? 200 : 422) : null;
    if (scanStatus === null) {
      return { scan_id: record.scan_id, outcome: "retry", error: { kind: "protocol", message: "no answer for this scan" } };
    }
    const scanMeaning = classifyStatus(scanStatus);
    if (scanMeaning === "done") return { scan_id: record.scan_id, outcome: "done", answer };
    if (scanMeaning === "final") return { scan_id: record.scan_id, outcome: "refused", answer };
    return { scan_id: record.scan_id, outcome: "retry", answer,
      error: { kind: "http", status: scanStatus, reason: answer.reason, message: answer.message } };
  });
  return { kind: "answers", outcomes };
}

export { STATES };

// the words of a refusal need its numbers (balance, price …); only flat scalars travel, as the server accepts
function scalarParams(params) {
  const out = {};
  for (const [key, value] of Object.entries(params || {})) {
    if (typeof value === "string" || (typeof value === "number" && Number.isInteger(value))) out[key] = value;
  }
  return out;
}
