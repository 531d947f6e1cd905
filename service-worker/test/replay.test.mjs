// Replay policy: every class of answer lands the scan in the right state, nothing is sent twice concurrently,
// nothing is lost. Time, fetch and randomness are injected; the fake server below judges like the real one
// (one answer per scan, in order; a repeated scan_id gets its first answer with duplicate: true).
import "fake-indexeddb/auto";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import test from "node:test";

import { ClockSkew } from "../src/clock.mjs";
import { QueueStore, STATES } from "../src/queue-store.mjs";
import { BATCH_URL, REPLAY_META, WIRE_FIELDS, backoffDelay, classifyStatus, parseRetryAfter, replayOnce, resumeReplay,
  toWire }
  from "../src/replay.mjs";

const T0 = Date.UTC(2025, 4, 10, 8, 0, 0);

function setup({ name = "linli-station", indexedDB = new IDBFactory(), clock = { t: T0 } } = {}) {
  const store = new QueueStore({ indexedDB, IDBKeyRange, name, now: () => clock.t });
  return { clock, store, indexedDB };
}

function scan(over = {}) {
  return { scan_id: randomUUID(), mode: "award", card: `card-${randomUUID().slice(0, 8)}`, details: { item_id: 3 },
    scanned_at: new Date(T0 - 60_000).toISOString(), device_id: "dev-1", local: { accepted: true, reason: "ok" }, ...over };
}

async function queue(store, n, over = {}) {
  const ids = [];
  for (let i = 0; i < n; i += 1) ids.push((await store.add(scan(over))).scan_id);
  return ids;
}

function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/** A server like backend/scans/web.py. `plan` holds one behaviour per request (used up in order, then "judge"):
 * "judge" | a status number (the whole request fails with it) | {status, body?, headers?} | a function
 * (scans, init) => Response | "network" | "hang". `refuse` maps scan_id -> reason (422). */
function fakeServer({ plan = [], refuse = new Map(), scanStatus = new Map() } = {}) {
  const server = { requests: [], recorded: new Map(), arrivals: new Map(), answers: new Map() };
  server.judge = (scans) => scans.map((s) => {
    server.arrivals.set(s.scan_id, (server.arrivals.get(s.scan_id) || 0) + 1);
    if (scanStatus.has(s.scan_id)) {
      const status = scanStatus.get(s.scan_id);
      return { scan_id: s.scan_id, status, accepted: false, reason: "busy", message: "try later", duplicate: false };
    }
    const first = server.answers.get(s.scan_id);
    if (first) return { ...first, duplicate: true };
    const reason = refuse.get(s.scan_id);
    const answer = reason
      ? { scan_id: s.scan_id, status: 422, accepted: false, reason, message: `refused: ${reason}`, points: 0,
        offline: s.offline, duplicate: false, scanned_at: s.scanned_at }
      : { scan_id: s.scan_id, status: 200, accepted: true, reason: "ok", message: "+5 points", points: 5,
        offline: s.offline, duplicate: false, scanned_at: s.scanned_at };
    server.answers.set(s.scan_id, answer);
    if (answer.accepted) server.recorded.set(s.scan_id, (server.recorded.get(s.scan_id) || 0) + 1);
    return answer;
  });
  server.fetch = async (url, init) => {
    const { scans } = JSON.parse(init.body);
    server.requests.push({ url, init, ids: scans.map((s) => s.scan_id), scans });
    const step = plan.length ? plan.shift() : "judge";
    if (step === "judge") return json(server.judge(scans));
    if (step === "network") throw new TypeError("Failed to fetch");
    if (step === "hang") {
      return new Promise((_, reject) => {
        init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    }
    if (typeof step === "function") return step(scans, init);
    if (typeof step === "number") return json({ reason: "error", message: "Server error" }, step);
    return new Response(step.raw ?? JSON.stringify(step.body ?? {}), { status: step.status, headers: step.headers || {} });
  };
  return server;
}

const OPTS = { random: () => 0, timeoutMs: 1000, leaseMs: 60_000 };

async function states(store) {
  return Object.fromEntries((await store.all()).map((r) => [r.scan_id, r.state]));
}

// ---- the meaning of answers, one class at a time ----

test("status classes: 2xx done, 409/429/5xx retry, other 4xx final", () => {
  for (const s of [200, 201, 204]) assert.equal(classifyStatus(s), "done");
  for (const s of [409, 429, 500, 502, 503, 504]) assert.equal(classifyStatus(s), "retry");
  for (const s of [400, 401, 403, 404, 410, 413, 422]) assert.equal(classifyStatus(s), "final");
});

test("200: recorded, done with the server's answer", async () => {
  const { store, clock } = setup();
  const ids = await queue(store, 3);
  const server = fakeServer();
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.deepEqual(summary, { sent: 3, done: 3, refused: 0, retry: 0, requests: 1, nextAttemptAt: null, busy: false,
    paused: false, blocked: null });
  for (const id of ids) {
    const r = await store.get(id);
    assert.equal(r.state, STATES.DONE);
    assert.equal(r.answer.points, 5);
    assert.equal(r.reason, "ok");
  }
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0].url, BATCH_URL);
});

test("200 duplicate: a scan the server already had is done, with its first answer", async () => {
  const { store, clock } = setup();
  const [id] = await queue(store, 1);
  const server = fakeServer();
  server.judge([toWire(await store.get(id))]); // it arrived before (the answer was lost on the way back)
  await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  const r = await store.get(id);
  assert.equal(r.state, STATES.DONE);
  assert.equal(r.answer.duplicate, true);
  assert.equal(server.recorded.get(id), 1);
});

test("422: refused for good, kept with its reason and message for the operator", async () => {
  const { store, clock } = setup();
  const [ok, bad] = await queue(store, 2, { pin: "4321" });
  const server = fakeServer({ refuse: new Map([[bad, "insufficient_balance"]]) });
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(summary.done, 1);
  assert.equal(summary.refused, 1);
  assert.equal((await store.get(ok)).state, STATES.DONE);
  const r = await store.get(bad);
  assert.equal(r.state, STATES.REFUSED);
  assert.equal(r.reason, "insufficient_balance");
  assert.equal(r.message, "refused: insufficient_balance");
  assert.equal(r.pin, null);
  assert.equal(r.server_disagrees, true);
  assert.equal(await store.count(STATES.REFUSED), 1);
  // and nothing sends it again
  await replayOnce({ store, fetch: server.fetch, now: () => clock.t + 3_600_000, ...OPTS });
  assert.equal(server.requests.length, 1);
});

test("400 for the batch: halves are sent until the malformed scan is alone; it is final with the body's reason", async () => {
  const { store, clock } = setup();
  const ids = await queue(store, 6);
  const bad = ids[4];
  const server = fakeServer({ plan: Array.from({ length: 10 }, () => (scans) => (scans.some((s) => s.scan_id === bad)
    ? json({ reason: "invalid", message: "The request is not valid." }, 400) : json(server.judge(scans)))) });
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(summary.done, 5);
  assert.equal(summary.refused, 1);
  const r = await store.get(bad);
  assert.equal(r.state, STATES.REFUSED);
  assert.equal(r.reason, "invalid");
  assert.equal(r.message, "The request is not valid.");
  assert.equal(r.answer.status, 400);
  for (const id of ids.filter((i) => i !== bad)) assert.equal(server.recorded.get(id), 1);
  assert.deepEqual(server.requests.map((q) => q.ids.length), [6, 3, 3, 2, 1, 1, 1]);
});

test("400 for a single scan: final at once", async () => {
  const { store, clock } = setup();
  const [id] = await queue(store, 1);
  const server = fakeServer({ plan: [{ status: 400, body: { reason: "naive_time", message: "No time zone" } }] });
  await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  const r = await store.get(id);
  assert.equal(r.state, STATES.REFUSED);
  assert.equal(r.reason, "naive_time");
  assert.equal(server.requests.length, 1);
});

test("403 device revoked: the batch is final with reason device_revoked; later scans wait until resumeReplay", async () => {
  const { store, clock, indexedDB } = setup();
  const ids = await queue(store, 3);
  const server = fakeServer({ plan: [{ status: 403, body: { reason: "device_revoked", message: "Switched off" } }] });
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS, batchSize: 2 });
  assert.equal(summary.blocked, "device_revoked");
  assert.equal(summary.refused, 2);
  assert.equal(server.requests.length, 1, "no second batch after the device was refused");
  for (const id of ids.slice(0, 2)) {
    const r = await store.get(id);
    assert.equal(r.state, STATES.REFUSED);
    assert.equal(r.reason, "device_revoked");
    assert.equal(r.message, "Switched off");
  }
  assert.equal((await store.get(ids[2])).state, STATES.PENDING);
  assert.equal(await store.count(), 3, "every scan is still there");
  assert.equal(summary.nextAttemptAt, null, "no timer: only the operator can fix this");
  // later triggers, even forced ones and another context's, send nothing while the device is refused
  clock.t += 3_600_000;
  const other = new QueueStore({ indexedDB, IDBKeyRange, name: "linli-station", now: () => clock.t });
  const again = await replayOnce({ store: other, fetch: server.fetch, now: () => clock.t, ...OPTS, force: true });
  assert.equal(again.blocked, "device_revoked");
  assert.equal(again.sent, 0);
  assert.equal(server.requests.length, 1);
  // re-paired: the waiting scan goes; the refused ones go again only when the operator asks
  assert.deepEqual(await resumeReplay(store), { reason: "device_revoked", at: T0 });
  const resumed = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(resumed.done, 1);
  assert.equal(resumed.blocked, null);
  assert.equal(await store.requeue(ids.slice(0, 2)), 2);
  assert.equal((await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS })).done, 2);
  for (const id of ids) assert.equal(server.recorded.get(id), 1);
});

for (const [label, step, errorCheck] of [
  ["409", 409, (e) => e.status === 409],
  ["500", 500, (e) => e.status === 500],
  ["502 with an HTML body", { status: 502, raw: "<html>Bad gateway</html>" }, (e) => e.status === 502],
  ["503", 503, (e) => e.status === 503],
  ["a network error", "network", (e) => e.kind === "network"],
  ["a timeout", "hang", (e) => e.kind === "timeout"],
  ["a 200 that is not a list of answers (a captive portal)", { status: 200, raw: "<html>Sign in to Wi-Fi</html>" },
    (e) => e.kind === "protocol"],
]) {
  test(`${label}: every scan is kept pending and tried again after a back-off`, async () => {
    const { store, clock } = setup();
    const ids = await queue(store, 3);
    const server = fakeServer({ plan: [step] });
    const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS, timeoutMs: 50, leaseMs: 1000 });
    assert.equal(summary.retry, 3);
    assert.equal(summary.done + summary.refused, 0);
    assert.equal(summary.paused, true);
    assert.equal(summary.nextAttemptAt, clock.t + 1000, "first back-off: 2 s, jittered down to 1 s by random() = 0");
    for (const id of ids) {
      const r = await store.get(id);
      assert.equal(r.state, STATES.PENDING);
      assert.equal(r.attempts, 1);
      assert.equal(r.next_attempt_at, clock.t + 1000);
      assert.ok(errorCheck(r.last_error), JSON.stringify(r.last_error));
    }
    assert.equal(await store.count(), 3);
    // not before the back-off, then they land
    clock.t += 999;
    assert.equal((await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS })).sent, 0);
    clock.t += 1;
    const later = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
    assert.equal(later.done, 3);
    for (const id of ids) assert.equal(server.recorded.get(id), 1);
  });
}

test("429 with Retry-After: nothing is sent before it, not even on a forced replay", async () => {
  const { store, clock } = setup();
  const ids = await queue(store, 2);
  const server = fakeServer({ plan: [{ status: 429, body: { reason: "rate_limited" }, headers: { "Retry-After": "30" } }] });
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS, random: () => 0.5 });
  assert.equal(summary.retry, 2);
  assert.ok(summary.nextAttemptAt >= clock.t + 30_000 && summary.nextAttemptAt <= clock.t + 33_000, String(summary.nextAttemptAt - clock.t));
  for (const id of ids) {
    const r = await store.get(id);
    assert.equal(r.state, STATES.PENDING);
    assert.equal(r.last_error.status, 429);
    assert.equal(r.next_attempt_at, summary.nextAttemptAt);
  }
  clock.t += 29_000;
  const early = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS, force: true });
  assert.equal(early.sent, 0);
  assert.equal(early.paused, true);
  assert.equal(server.requests.length, 1);
  clock.t = summary.nextAttemptAt;
  assert.equal((await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS })).done, 2);
});

test("Retry-After as an HTTP date", () => {
  const now = Date.parse("Sat, 10 May 2025 08:00:00 GMT");
  assert.equal(parseRetryAfter("Sat, 10 May 2025 08:01:30 GMT", now), 90_000);
  assert.equal(parseRetryAfter("120", now), 120_000);
  assert.equal(parseRetryAfter("soon", now), null);
  assert.equal(parseRetryAfter(null, now), null);
});

test("a per-scan 503 inside a 200 list retries that scan only; a missing answer is retried too", async () => {
  const { store, clock } = setup();
  const [a, b, c] = await queue(store, 3);
  const server = fakeServer({ scanStatus: new Map([[b, 503]]), plan: [(scans) => json(server.judge(scans).filter((x) => x.scan_id !== c))] });
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(summary.done, 1);
  assert.equal(summary.retry, 2);
  assert.equal(summary.paused, false);
  assert.deepEqual(await states(store), { [a]: STATES.DONE, [b]: STATES.PENDING, [c]: STATES.PENDING });
  assert.equal((await store.get(b)).last_error.status, 503);
  assert.equal((await store.get(c)).last_error.kind, "protocol");
  assert.equal((await store.get(c)).next_attempt_at, clock.t + 1000);
});

test("a 503 then a 200: the scans land exactly once", async () => {
  const { store, clock } = setup();
  const ids = await queue(store, 4);
  const server = fakeServer({ plan: [503] });
  await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(server.recorded.size, 0);
  clock.t += 2000;
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(summary.done, 4);
  assert.equal(server.requests.length, 2);
  for (const id of ids) {
    assert.equal(server.recorded.get(id), 1);
    assert.equal(server.arrivals.get(id), 1, "judged once: the 503 judged nothing");
    assert.equal((await store.get(id)).state, STATES.DONE);
  }
  // later triggers send nothing more
  clock.t += 600_000;
  await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS, force: true });
  assert.equal(server.requests.length, 2);
});

test("consecutive failures back off exponentially with jitter, up to 5 minutes, and halve the batch", async () => {
  const { store, clock } = setup();
  await queue(store, 8);
  const server = fakeServer({ plan: Array(12).fill(503) });
  const waits = [];
  for (let i = 0; i < 12; i += 1) {
    const s = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS, random: () => 0.999, batchSize: 8 });
    waits.push(s.nextAttemptAt - clock.t);
    clock.t = s.nextAttemptAt;
  }
  const ceilings = [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300].map((s) => s * 1000);
  waits.forEach((w, i) => assert.ok(w <= ceilings[i] && w >= ceilings[i] * 0.99, `failure ${i + 1}: ${w} vs ${ceilings[i]}`));
  assert.deepEqual(server.requests.slice(0, 5).map((r) => r.ids.length), [8, 4, 2, 1, 1]);
  assert.equal(await store.count(STATES.PENDING), 8);
  // the server is back: one success resets the back-off and the batch grows again
  const back = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS, batchSize: 8 });
  assert.equal(back.done, 8);
  assert.deepEqual(server.requests.slice(12).map((r) => r.ids.length), [1, 2, 4, 1]);
  assert.deepEqual(await store.getMeta(REPLAY_META), { failures: 0, batch_limit: 8, pause_until: 0,
    retry_after_until: 0 });
});

test("backoffDelay stays within [ceiling/2, ceiling]", () => {
  for (let n = 1; n <= 20; n += 1) {
    const ceiling = Math.min(300_000, 2000 * 2 ** (n - 1));
    assert.equal(backoffDelay(n, { random: () => 0 }), ceiling / 2);
    assert.equal(backoffDelay(n, { random: () => 0.9999999 }), ceiling);
  }
});

test("force (Background Sync, the page is online again) skips the network back-off", async () => {
  const { store, clock } = setup();
  const ids = await queue(store, 2);
  const server = fakeServer({ plan: ["network", "network", "network"] });
  for (let i = 0; i < 3; i += 1) {
    const s = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
    clock.t = s.nextAttemptAt;
  }
  clock.t -= 1000; // within the back-off now
  assert.equal((await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS })).sent, 0);
  const forced = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS, force: true });
  assert.equal(forced.done, 2);
  for (const id of ids) assert.equal(server.recorded.get(id), 1);
});

// ---- exactly once under concurrency, crashes and volume ----

function gate() {
  let open;
  const opened = new Promise((resolve) => { open = resolve; });
  return { opened, open };
}

test("two concurrent replays in one context: each scan is sent once", async () => {
  const { store, clock } = setup();
  const ids = await queue(store, 5);
  const g = gate();
  const server = fakeServer({ plan: [async (scans) => { await g.opened; return json(server.judge(scans)); }] });
  const first = replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  const second = replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  await new Promise((r) => setTimeout(r, 20));
  g.open();
  const [a, b] = await Promise.all([first, second]);
  // the second trigger joined the running replay (the in-memory lock): both see the full result
  assert.equal(a.done, 5);
  assert.equal(b.done, 5);
  assert.equal(b.busy, false);
  assert.equal(server.requests.length, 1);
  for (const id of ids) assert.equal(server.arrivals.get(id), 1);
});

test("two replays in two contexts (service worker and page) over one database: each scan is sent once", async () => {
  const indexedDB = new IDBFactory();
  const clock = { t: T0 };
  const sw = setup({ indexedDB, clock, name: "shared" }).store;
  const page = setup({ indexedDB, clock, name: "shared" }).store;
  const ids = await queue(sw, 6);
  const g = gate();
  const server = fakeServer({ plan: [async (scans) => { await g.opened; return json(server.judge(scans)); }] });
  const a = replayOnce({ store: sw, fetch: server.fetch, now: () => clock.t, ...OPTS, batchSize: 3 });
  await new Promise((r) => setTimeout(r, 20)); // the service worker holds its lease on the first three
  const b = await replayOnce({ store: page, fetch: server.fetch, now: () => clock.t, ...OPTS, batchSize: 3 });
  assert.equal(b.busy, true);
  assert.equal(b.sent, 0);
  g.open();
  const done = await a;
  assert.equal(done.done, 6);
  assert.deepEqual(server.requests.map((r) => r.ids.length), [3, 3]);
  for (const id of ids) assert.equal(server.arrivals.get(id), 1);
});

test("a replay that died while sending: its lease expires and the scans are sent again, once", async () => {
  const { store, clock } = setup();
  const ids = await queue(store, 3);
  await store.claim({ limit: 2, leaseMs: 60_000 }); // claimed by a service worker that was then killed
  const server = fakeServer();
  clock.t += 30_000;
  const blocked = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(blocked.busy, true);
  assert.equal(blocked.nextAttemptAt, T0 + 60_000);
  assert.equal(server.requests.length, 0);
  clock.t = T0 + 60_000;
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(summary.done, 3);
  assert.deepEqual(server.requests.map((r) => r.ids), [ids]);
  assert.equal((await store.get(ids[0])).attempts, 2);
  assert.equal((await store.get(ids[2])).attempts, 1);
});

test("1,000 queued scans replay in batches of at most 500, one POST per batch, every scan done once, in order", async () => {
  const { store, clock } = setup();
  const ids = await queue(store, 1000);
  const server = fakeServer();
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(summary.sent, 1000);
  assert.equal(summary.done, 1000);
  assert.equal(summary.requests, 2);
  assert.deepEqual(server.requests.map((r) => r.ids.length), [500, 500]);
  assert.deepEqual(server.requests.flatMap((r) => r.ids), ids, "queue order, each scan once");
  assert.equal(server.recorded.size, 1000);
  assert.equal(await store.count(STATES.DONE), 1000);
  assert.equal(summary.nextAttemptAt, null);
});

test("scans added while a replay runs are sent by it, after the earlier ones", async () => {
  const { store, clock } = setup();
  const first = await queue(store, 2);
  let added;
  const server = fakeServer({ plan: [async (scans) => { added = await queue(store, 2); return json(server.judge(scans)); }] });
  const summary = await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  assert.equal(summary.done, 4);
  assert.deepEqual(server.requests.map((r) => r.ids), [first, added]);
});

// ---- what goes over the wire ----

test("the request: POST JSON with same-origin credentials and exactly the server's ScanIn fields", async () => {
  const { store, clock } = setup();
  await store.add(scan({ pin: "2468", mode: "redeem_shop", details: { goods_id: 4, quantity: 2 } }));
  await store.add(scan());
  const server = fakeServer();
  await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS });
  const { init, scans } = server.requests[0];
  assert.equal(init.method, "POST");
  assert.equal(init.credentials, "same-origin");
  assert.equal(init.headers["Content-Type"], "application/json");
  for (const s of scans) {
    for (const key of Object.keys(s)) assert.ok(WIRE_FIELDS.includes(key), `unexpected field ${key}`);
    assert.equal(s.offline, true);
    assert.ok(!("device_id" in s) && !("local" in s) && !("state" in s));
  }
  assert.equal(scans[0].pin, "2468");
  assert.deepEqual(scans[0].details, { goods_id: 4, quantity: 2 });
  assert.ok(!("pin" in scans[1]), "no pin: the field is left out");
});

test("the device's verdict and clock offset travel as ScanIn's device_verdict and clock_offset_ms, nothing more", () => {
  const record = { scan_id: "x", scanned_at: "2026-11-01T09:00:00+08:00", mode: "award", card: "c", details: {},
    local: { accepted: false, reason: "insufficient_balance", params: { balance: 3, needed: 10, note: { x: 1 }, ratio: 0.5 },
      holder: "王*明", points: 0, card_id: "ab" },
    clock: { device_minus_server_ms: -1500, reason: "ok" } };
  const wire = toWire(record);
  // the message's numbers travel; nested or fractional values do not (the server takes flat whole numbers/text)
  assert.deepEqual(wire.device_verdict, { accepted: false, reason: "insufficient_balance", params: { balance: 3, needed: 10 } });
  assert.equal(wire.clock_offset_ms, -1500);
  const bare = toWire({ ...record, local: null, clock: null });
  assert.ok(!("device_verdict" in bare) && !("clock_offset_ms" in bare));
  assert.deepEqual(toWire({ ...record, local: { accepted: true } }).device_verdict, { accepted: true, reason: "ok", params: {} });
});

test("replay feeds the clock-skew measurement from the answer's Date header", async () => {
  const { store, clock } = setup();
  await queue(store, 1);
  const skew = new ClockSkew({ now: () => clock.t });
  const serverTime = new Date(T0 + 90_000).toUTCString(); // the server is 90 s ahead
  const server = fakeServer({ plan: [(scans) => json(server.judge(scans), 200, { Date: serverTime })] });
  await replayOnce({ store, fetch: server.fetch, now: () => clock.t, ...OPTS, clock: skew });
  assert.ok(Math.abs(skew.offsetMs - 90_500) <= 500, String(skew.offsetMs));
});
