// Clock skew: the offset from the server's clock and the plausibility of a device-stamped scanned_at.
import assert from "node:assert/strict";
import test from "node:test";

import { ClockSkew, measureOffset, parseHttpDate } from "../src/clock.mjs";

const T0 = Date.UTC(2025, 4, 10, 8, 0, 0);
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

test("measureOffset: server minus the round trip's midpoint, give or take half the round trip", () => {
  assert.deepEqual(measureOffset({ serverTime: T0 + 10_000, sentAt: T0, receivedAt: T0 + 400 }),
    { offsetMs: 9_800, uncertaintyMs: 200, at: T0 + 400 });
  // a Date header has whole seconds: the true time is up to 1 s later than it says
  assert.deepEqual(measureOffset({ serverTime: T0, sentAt: T0, receivedAt: T0, resolutionMs: 1000 }),
    { offsetMs: 500, uncertaintyMs: 500, at: T0 });
  assert.equal(measureOffset({ serverTime: NaN, sentAt: T0, receivedAt: T0 }), null);
  assert.equal(measureOffset({ serverTime: T0, sentAt: T0 + 1, receivedAt: T0 }), null);
});

test("parseHttpDate reads an IMF-fixdate and rejects junk", () => {
  assert.equal(parseHttpDate("Sat, 10 May 2025 08:00:00 GMT"), T0);
  assert.equal(parseHttpDate("yesterday-ish"), null);
  assert.equal(parseHttpDate(null), null);
});

test("the sample with the shortest round trip wins; old samples stop counting", () => {
  const clock = { t: T0 };
  const skew = new ClockSkew({ now: () => clock.t });
  assert.equal(skew.offsetMs, 0);
  skew.observe(T0 + 5_000, T0 - 2_000, T0 + 2_000); // slow: ±2 s
  skew.observe(T0 + 3_100, T0, T0 + 200); // fast: ±100 ms
  skew.observe(T0 + 9_000, T0 - 4_000, T0 + 4_000); // slower still
  assert.equal(skew.offsetMs, 3_000);
  assert.equal(skew.serverNow(), clock.t + 3_000);
  assert.equal(skew.toServerTime(new Date(T0).toISOString()), T0 + 3_000);
  clock.t += 2 * DAY;
  assert.equal(skew.best(), null, "a day-old measurement no longer describes the clock");
  assert.equal(skew.offsetMs, 0);
});

test("observeDateHeader uses whole-second resolution and ignores a missing header", () => {
  const skew = new ClockSkew({ now: () => T0 });
  assert.equal(skew.observeDateHeader(null, T0, T0), null);
  const sample = skew.observeDateHeader(new Date(T0 - 2 * 3_600_000).toUTCString(), T0, T0 + 100);
  assert.equal(sample.offsetMs, -2 * 3_600_000 + 500 - 50);
  assert.equal(sample.uncertaintyMs, 550);
});

test("plausible: a small skew and a recent time pass; a skewed device, a future or ancient time are flagged", () => {
  const clock = { t: T0 };
  const skew = new ClockSkew({ now: () => clock.t });
  // never measured: believed, but said so
  assert.deepEqual(skew.check(new Date(T0 - MINUTE).toISOString()).reason, "unmeasured");
  assert.equal(skew.plausible(new Date(T0 - MINUTE).toISOString()), true);

  skew.observe(T0 + 20_000, T0, T0 + 100); // the device is ~20 s behind: fine
  assert.equal(skew.check(new Date(T0 - 10 * MINUTE).toISOString()).reason, "ok");
  assert.equal(skew.plausible(new Date(T0 + MINUTE).toISOString()), true); // within the future tolerance
  assert.equal(skew.check(new Date(T0 + 10 * MINUTE).toISOString()).reason, "in_future");
  assert.equal(skew.check(new Date(T0 - 40 * DAY).toISOString()).reason, "too_old");
  assert.equal(skew.check("not a time").reason, "invalid");
  assert.equal(skew.plausible("not a time"), false);

  const wrong = new ClockSkew({ now: () => clock.t });
  wrong.observe(T0 + 3 * 3_600_000, T0, T0 + 100); // the device clock is 3 hours behind the server
  const verdict = wrong.check(new Date(T0).toISOString());
  assert.equal(verdict.reason, "device_clock_skewed");
  assert.equal(verdict.plausible, false);
  assert.equal(verdict.serverTime, T0 + 3 * 3_600_000 - 50);
});

test("toJSON / fromJSON keep the samples (a restarted service worker still knows the offset)", () => {
  const skew = new ClockSkew({ now: () => T0 });
  skew.observe(T0 + 7_000, T0, T0 + 100);
  const again = ClockSkew.fromJSON(JSON.parse(JSON.stringify(skew)), { now: () => T0 + MINUTE });
  assert.equal(again.offsetMs, skew.offsetMs);
  assert.equal(ClockSkew.fromJSON(null).offsetMs, 0);
});
