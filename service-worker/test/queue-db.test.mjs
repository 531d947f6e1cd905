// Storage layer: the schema versions and the rule that an upgrade never drops a queued scan.
import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import test from "node:test";

import { DB_VERSION, META, SCANS, STATES, inTransaction, migrateRecordToV2, openQueueDb, requestResult }
  from "../src/queue-db.mjs";
import { QueueStore } from "../src/queue-store.mjs";

const T0 = Date.UTC(2025, 4, 10, 8, 0, 0);

function v1Record(i, state) {
  // what version 1 wrote: no device_id index, no leases, no schema marker
  return { scan_id: randomUUID(), mode: "checkin", card: `card-${i}`, details: { event_id: 7 }, pin: null,
    scanned_at: new Date(T0 + i * 1000).toISOString(), device_id: i % 2 ? "dev-a" : "dev-b", offline: true,
    local: { accepted: true, reason: "ok" }, state, attempts: state === STATES.PENDING ? i % 3 : 1,
    queued_at: T0 + i * 1000, next_attempt_at: T0 + i * 1000 };
}

async function putAll(db, records) {
  await inTransaction(db, [SCANS], "readwrite", async (tx) => {
    for (const r of records) await requestResult(tx.objectStore(SCANS).put(r));
  });
}

async function getAll(db) {
  return inTransaction(db, [SCANS], "readonly", (tx) => requestResult(tx.objectStore(SCANS).getAll()));
}

test("a new database is created at the current version with every store and index", async () => {
  const indexedDB = new IDBFactory();
  const db = await openQueueDb({ indexedDB, name: "fresh" });
  assert.equal(db.version, DB_VERSION);
  assert.deepEqual([...db.objectStoreNames].sort(), [META, SCANS].sort());
  const tx = db.transaction(SCANS, "readonly");
  const scans = tx.objectStore(SCANS);
  assert.equal(scans.keyPath, "scan_id");
  assert.deepEqual([...scans.indexNames].sort(), ["device_id", "queued_at", "state", "state_queued_at"]);
  db.close();
});

test("upgrading version 1 to version 2 keeps every scan, in every state, and migrates it", async () => {
  const indexedDB = new IDBFactory();
  const v1 = await openQueueDb({ indexedDB, name: "upgrade", version: 1 });
  assert.equal(v1.version, 1);
  assert.deepEqual([...v1.objectStoreNames], [SCANS]);
  const states = [STATES.PENDING, STATES.DONE, STATES.REFUSED, "sending", "some-state-v1-never-had"];
  const records = Array.from({ length: 250 }, (_, i) => v1Record(i, states[i % states.length]));
  await putAll(v1, records);
  v1.close();

  const v2 = await openQueueDb({ indexedDB, name: "upgrade" });
  assert.equal(v2.version, 2);
  const after = await getAll(v2);
  assert.equal(after.length, records.length, "an upgrade must never drop a scan");
  const byId = new Map(after.map((r) => [r.scan_id, r]));
  for (const before of records) {
    const now = byId.get(before.scan_id);
    assert.ok(now, `scan ${before.scan_id} survived`);
    assert.equal(now.schema, 2);
    assert.equal(now.lease_until, null);
    // what the scan is and where it stands in the queue are untouched
    for (const key of ["mode", "card", "scanned_at", "queued_at", "attempts", "device_id"]) assert.deepEqual(now[key], before[key]);
    assert.deepEqual(now.details, before.details);
    // settled scans stay settled; anything in flight or unknown is made pending (sent again, the server dedups)
    const expected = before.state === STATES.DONE || before.state === STATES.REFUSED ? before.state : STATES.PENDING;
    assert.equal(now.state, expected);
  }
  // the new indexes cover the old records
  const devA = await inTransaction(v2, [SCANS], "readonly",
    (tx) => requestResult(tx.objectStore(SCANS).index("device_id").count("dev-a")));
  assert.equal(devA, records.filter((r) => r.device_id === "dev-a").length);
  const pendingOrdered = await inTransaction(v2, [SCANS], "readonly", (tx) => requestResult(
    tx.objectStore(SCANS).index("state_queued_at").getAll(IDBKeyRange.bound([STATES.PENDING, -Infinity], [STATES.PENDING, Infinity]))));
  assert.deepEqual(pendingOrdered.map((r) => r.queued_at), [...pendingOrdered.map((r) => r.queued_at)].sort((a, b) => a - b));
  assert.equal(pendingOrdered.length, after.filter((r) => r.state === STATES.PENDING).length);
  v2.close();
});

test("the store reads a version-1 database after the upgrade: queued scans are replayable", async () => {
  const indexedDB = new IDBFactory();
  const v1 = await openQueueDb({ indexedDB, name: "store-upgrade", version: 1 });
  const records = [v1Record(1, STATES.PENDING), v1Record(2, STATES.REFUSED), v1Record(3, STATES.PENDING)];
  await putAll(v1, records);
  v1.close();
  const store = new QueueStore({ indexedDB, name: "store-upgrade", now: () => T0 + 10_000 });
  assert.deepEqual((await store.pending()).map((r) => r.scan_id), [records[0].scan_id, records[2].scan_id]);
  assert.equal(await store.count(STATES.REFUSED), 1);
  const { claimed } = await store.claim({ limit: 10, leaseMs: 1000 });
  assert.equal(claimed.length, 2);
  await store.close();
});

test("reopening at the current version changes nothing", async () => {
  const indexedDB = new IDBFactory();
  const first = await openQueueDb({ indexedDB, name: "again" });
  const records = [migrateRecordToV2(v1Record(1, STATES.PENDING)), migrateRecordToV2(v1Record(2, STATES.DONE))];
  await putAll(first, records);
  first.close();
  const second = await openQueueDb({ indexedDB, name: "again" });
  const after = await getAll(second);
  assert.deepEqual(after.sort((a, b) => a.queued_at - b.queued_at), records);
  second.close();
});

test("a database from a newer version is opened as it is, not refused and not wiped", async () => {
  const indexedDB = new IDBFactory();
  const current = await openQueueDb({ indexedDB, name: "newer" });
  const record = migrateRecordToV2(v1Record(1, STATES.PENDING));
  await putAll(current, [record]);
  current.close();
  // a later release upgraded to version 3 (adding a store); then this older code runs again
  await new Promise((resolve, reject) => {
    const request = indexedDB.open("newer", 3);
    request.onupgradeneeded = () => request.result.createObjectStore("later");
    request.onsuccess = () => { request.result.close(); resolve(); };
    request.onerror = () => reject(request.error);
  });
  const db = await openQueueDb({ indexedDB, name: "newer" });
  assert.equal(db.version, 3);
  assert.deepEqual((await getAll(db)).map((r) => r.scan_id), [record.scan_id]);
  db.close();
});

test("an open connection steps aside for an upgrade in another context instead of blocking it", async () => {
  const indexedDB = new IDBFactory();
  let closedFor = 0;
  const old = await openQueueDb({ indexedDB, name: "blocking", version: 1, onVersionChange: () => { closedFor += 1; } });
  await putAll(old, [v1Record(1, STATES.PENDING)]);
  let blocked = false;
  const upgraded = await openQueueDb({ indexedDB, name: "blocking", onBlocked: () => { blocked = true; } });
  assert.equal(upgraded.version, 2);
  assert.equal(closedFor, 1);
  assert.equal(blocked, false);
  assert.equal((await getAll(upgraded)).length, 1);
  upgraded.close();
});

test("the upgrade functions never delete: no store, index or record removal in their source", async () => {
  // a guard for future versions: the rule is structural, so check the code that runs during upgrades
  const { UPGRADES } = await import("../src/queue-db.mjs");
  for (const [version, upgrade] of Object.entries(UPGRADES)) {
    const source = upgrade.toString();
    for (const forbidden of ["deleteObjectStore", "deleteIndex", ".delete(", ".clear("]) {
      assert.ok(!source.includes(forbidden), `upgrade ${version} calls ${forbidden}`);
    }
  }
});
