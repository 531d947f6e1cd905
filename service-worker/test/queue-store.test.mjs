// Queue layer: records, order, states, claims and leases, pruning.
import "fake-indexeddb/auto";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import test from "node:test";

import { QueueStore, STATES, validateScan } from "../src/queue-store.mjs";

const T0 = Date.UTC(2025, 4, 10, 8, 0, 0);
const DAY = 24 * 60 * 60 * 1000;

function setup() {
  const clock = { t: T0 };
  const store = new QueueStore({ indexedDB: new IDBFactory(), IDBKeyRange, name: "linli-station", now: () => clock.t });
  return { clock, store };
}

function scan(over = {}) {
  return { scan_id: randomUUID(), mode: "award", card: `card-${randomUUID().slice(0, 8)}`, details: { item_id: 3 },
    scanned_at: new Date(T0 - 60_000).toISOString(), device_id: "dev-1", local: { accepted: true, reason: "ok" }, ...over };
}

test("add stores the record with its queue fields", async () => {
  const { store } = setup();
  const s = scan({ pin: "1234", mode: "redeem_shop", details: { goods_id: 5, quantity: 2 } });
  const record = await store.add(s);
  assert.equal(record.scan_id, s.scan_id);
  assert.equal(record.state, STATES.PENDING);
  assert.equal(record.attempts, 0);
  assert.equal(record.offline, true);
  assert.equal(record.queued_at, T0);
  assert.equal(record.next_attempt_at, T0);
  assert.equal(record.device_id, "dev-1");
  assert.equal(record.pin, "1234");
  assert.deepEqual(record.local, { accepted: true, reason: "ok" });
  assert.deepEqual(await store.get(s.scan_id), record);
});

test("add is idempotent by scan_id and validates what the server would reject", async () => {
  const { store, clock } = setup();
  const s = scan();
  const first = await store.add(s);
  clock.t += 5000;
  const again = await store.add({ ...s, card: "something else" });
  assert.deepEqual(again, first);
  assert.equal(await store.count(), 1);
  await assert.rejects(store.add(scan({ scan_id: "not-a-uuid" })), TypeError);
  await assert.rejects(store.add(scan({ scanned_at: "2025-05-10T08:00:00" })), /time zone/); // naive time: a 400
  await assert.rejects(store.add(scan({ details: { item_id: 1.5 } })), TypeError);
  await assert.rejects(store.add(scan({ card: " " })), TypeError);
  assert.equal(await store.count(), 1);
  assert.equal(validateScan(scan({ scanned_at: new Date(T0) })).scanned_at, new Date(T0).toISOString());
  assert.equal(validateScan(scan({ scan_id: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11" })).scan_id,
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
});

test("pending lists scans in the order they were queued, even within one millisecond", async () => {
  const { store, clock } = setup();
  const ids = [];
  for (let i = 0; i < 20; i += 1) {
    if (i % 5 === 0) clock.t += 1; // mostly several scans in the same millisecond
    ids.push((await store.add(scan())).scan_id);
  }
  const pending = await store.pending();
  assert.deepEqual(pending.map((r) => r.scan_id), ids);
  const queuedAt = pending.map((r) => r.queued_at);
  assert.equal(new Set(queuedAt).size, queuedAt.length, "queued_at is unique");
  assert.deepEqual((await store.pending(3)).map((r) => r.scan_id), ids.slice(0, 3));
  assert.deepEqual((await store.all()).map((r) => r.scan_id), ids);
});

test("count by state and the done / refused / retry marks", async () => {
  const { store, clock } = setup();
  const [a, b, c, d] = [await store.add(scan({ pin: "9999" })), await store.add(scan({ pin: "1111" })),
    await store.add(scan()), await store.add(scan())];
  await store.markDone(a.scan_id, { scan_id: a.scan_id, status: 200, accepted: true, reason: "ok", message: "+5", duplicate: false });
  await store.markFinal(b.scan_id, { scan_id: b.scan_id, status: 422, accepted: false, reason: "insufficient_balance",
    message: "Not enough points" });
  await store.markRetry(c.scan_id, { kind: "http", status: 503 }, T0 + 4000);
  assert.equal(await store.count(), 4);
  assert.equal(await store.count(STATES.DONE), 1);
  assert.equal(await store.count(STATES.REFUSED), 1);
  assert.equal(await store.count(STATES.PENDING), 2);
  assert.equal(await store.count([STATES.PENDING, STATES.SENDING]), 2);

  const done = await store.get(a.scan_id);
  assert.equal(done.pin, null, "a PIN is not kept once the scan is settled");
  assert.equal(done.reason, "ok");
  assert.equal(done.settled_at, clock.t);
  assert.equal(done.server_disagrees, false);
  const refused = await store.get(b.scan_id);
  assert.equal(refused.state, STATES.REFUSED);
  assert.equal(refused.reason, "insufficient_balance");
  assert.equal(refused.message, "Not enough points");
  assert.equal(refused.pin, null);
  assert.equal(refused.server_disagrees, true, "the device said yes, the server said no: the operator must see it");
  const retry = await store.get(c.scan_id);
  assert.equal(retry.next_attempt_at, T0 + 4000);
  assert.deepEqual(retry.last_error, { kind: "http", status: 503 });
  assert.equal((await store.get(d.scan_id)).state, STATES.PENDING);
});

test("done is final: a later refusal or retry cannot undo it; a retry cannot undo a refusal", async () => {
  const { store } = setup();
  const a = await store.add(scan());
  const b = await store.add(scan());
  await store.markDone(a.scan_id, { scan_id: a.scan_id, status: 200, accepted: true, reason: "ok" });
  await store.markFinal(a.scan_id, { scan_id: a.scan_id, status: 422, accepted: false, reason: "revoked" });
  await store.markRetry(a.scan_id, { kind: "network" }, T0 + 1);
  const after = await store.get(a.scan_id);
  assert.equal(after.state, STATES.DONE);
  assert.equal(after.reason, "ok");
  await store.markFinal(b.scan_id, { scan_id: b.scan_id, status: 422, accepted: false, reason: "revoked" });
  await store.markRetry(b.scan_id, { kind: "network" }, T0 + 1);
  assert.equal((await store.get(b.scan_id)).state, STATES.REFUSED);
});

test("prune deletes only done scans older than the age; pending and refused stay however old", async () => {
  const { store, clock } = setup();
  const old = [await store.add(scan()), await store.add(scan()), await store.add(scan()), await store.add(scan())];
  await store.markDone(old[0].scan_id, { status: 200, accepted: true, reason: "ok" });
  await store.markFinal(old[1].scan_id, { status: 422, accepted: false, reason: "revoked" });
  const { claimed } = await store.claim({ limit: 1, leaseMs: 1000 }); // old[2] in flight
  assert.deepEqual(claimed.map((r) => r.scan_id), [old[2].scan_id]);
  clock.t += 3 * DAY;
  const recent = await store.add(scan());
  await store.markDone(recent.scan_id, { status: 200, accepted: true, reason: "ok" });
  clock.t += 5 * DAY; // old[0] settled 8 days ago, recent 5 days ago
  assert.equal(await store.prune({ olderThanDays: 7 }), 1);
  assert.equal(await store.get(old[0].scan_id), undefined);
  for (const kept of [old[1], old[2], old[3], recent]) assert.ok(await store.get(kept.scan_id), "kept");
  clock.t += 365 * DAY;
  assert.equal(await store.prune({ olderThanDays: 7 }), 1); // recent
  assert.equal(await store.count(), 3, "a year later the refused, sending and pending scans are all still there");
});

test("claim marks scans sending with a lease, counts the attempt, and takes at most the limit in order", async () => {
  const { store, clock } = setup();
  const ids = [];
  for (let i = 0; i < 5; i += 1) ids.push((await store.add(scan())).scan_id);
  const { claimed, busyUntil } = await store.claim({ limit: 3, leaseMs: 60_000 });
  assert.equal(busyUntil, null);
  assert.deepEqual(claimed.map((r) => r.scan_id), ids.slice(0, 3));
  for (const r of claimed) {
    const stored = await store.get(r.scan_id);
    assert.equal(stored.state, STATES.SENDING);
    assert.equal(stored.lease_until, clock.t + 60_000);
    assert.equal(stored.attempts, 1);
  }
  // another replay (another context) sees a live lease: it takes nothing
  const second = await store.claim({ limit: 3, leaseMs: 60_000 });
  assert.deepEqual(second.claimed, []);
  assert.equal(second.busyUntil, clock.t + 60_000);
  assert.equal(await store.nextAttemptAt(), T0, "the two pending scans are due now");
});

test("an expired lease puts the scan back at its place in the queue", async () => {
  const { store, clock } = setup();
  const ids = [];
  for (let i = 0; i < 3; i += 1) ids.push((await store.add(scan())).scan_id);
  await store.claim({ limit: 1, leaseMs: 10_000 }); // crashes: never settles
  clock.t += 10_001;
  const { claimed, reclaimed } = await store.claim({ limit: 10, leaseMs: 10_000 });
  assert.equal(reclaimed, 1);
  assert.deepEqual(claimed.map((r) => r.scan_id), ids);
  assert.equal(claimed[0].attempts, 2);
});

test("a late retry from a replay whose lease ran out does not undo a newer claim", async () => {
  const { store, clock } = setup();
  const s = await store.add(scan());
  const first = (await store.claim({ limit: 1, leaseMs: 1000 })).claimed[0];
  clock.t += 5000; // the first replay hangs past its lease; another takes the scan over
  const second = (await store.claim({ limit: 1, leaseMs: 1000 })).claimed[0];
  assert.equal(second.attempts, 2);
  await store.settle([{ scan_id: s.scan_id, outcome: "retry", error: { kind: "timeout" }, claimed_at: first.last_attempt_at }]);
  const now = await store.get(s.scan_id);
  assert.equal(now.state, STATES.SENDING, "still held by the second replay");
  assert.equal(now.lease_until, clock.t + 1000);
  await store.settle([{ scan_id: s.scan_id, outcome: "retry", error: { kind: "timeout" }, claimed_at: second.last_attempt_at }]);
  assert.equal((await store.get(s.scan_id)).state, STATES.PENDING);
});

test("a scan not yet due holds back the later scans of the same card, not those of other cards", async () => {
  const { store } = setup();
  const a1 = await store.add(scan({ card: "X", mode: "checkin" }));
  const b1 = await store.add(scan({ card: "Y" }));
  const a2 = await store.add(scan({ card: "X", mode: "checkout" }));
  const b2 = await store.add(scan({ card: "Y" }));
  await store.markRetry(a1.scan_id, { kind: "http", status: 503 }, T0 + 60_000);
  const { claimed } = await store.claim({ limit: 10, leaseMs: 1000 });
  assert.deepEqual(claimed.map((r) => r.scan_id), [b1.scan_id, b2.scan_id]);
  assert.equal((await store.get(a2.scan_id)).state, STATES.PENDING);
  assert.equal(await store.nextAttemptAt(), T0 + 1000, "the lease of the claimed scans ends first");
});

test("requeue sends refused scans again (after re-pairing); it ignores other states", async () => {
  const { store, clock } = setup();
  const a = await store.add(scan());
  const b = await store.add(scan());
  await store.markFinal(a.scan_id, { status: 403, accepted: false, reason: "device_revoked" });
  clock.t += 1000;
  assert.equal(await store.requeue([a.scan_id, b.scan_id]), 1);
  const again = await store.get(a.scan_id);
  assert.equal(again.state, STATES.PENDING);
  assert.equal(again.next_attempt_at, clock.t);
  assert.equal(again.previous_answer.reason, "device_revoked");
});

test("meta values survive a reopen", async () => {
  const indexedDB = new IDBFactory();
  const a = new QueueStore({ indexedDB, IDBKeyRange, name: "m" });
  await a.setMeta("clock", { samples: [{ offsetMs: 5, uncertaintyMs: 1, at: 1 }] });
  await a.close();
  const b = new QueueStore({ indexedDB, IDBKeyRange, name: "m" });
  assert.deepEqual(await b.getMeta("clock"), { samples: [{ offsetMs: 5, uncertaintyMs: 1, at: 1 }] });
  assert.equal(await b.getMeta("nothing"), undefined);
});
