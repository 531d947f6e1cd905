// Clock skew: how far the device's clock is from the server's, measured while online, so that an offline scan's
// scanned_at (stamped with the device clock) can be checked for plausibility and flagged when it is not.
//
// A sample is a server time plus the local times just before sending and just after receiving the answer: the
// server's instant lies somewhere in that round trip, so offset = server - midpoint, give or take half the round
// trip (plus the server time's own resolution: an HTTP Date header has whole seconds). The sample with the least
// uncertainty among the recent ones wins (the NTP idea: short round trips measure best).

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const CLOCK_DEFAULTS = Object.freeze({
  maxSkewMs: 5 * MINUTE, // a device clock further off than this makes its timestamps implausible
  futureToleranceMs: 2 * MINUTE, // a scan may not be later than the server's now by more than this
  maxAgeMs: 30 * DAY, // nor older than this (a station offline for longer is not a normal case)
  sampleTtlMs: 24 * HOUR, // older samples no longer count (a clock can be reset)
  maxSamples: 8,
});

/** An HTTP Date header (IMF-fixdate) in ms since the epoch, or null. */
export function parseHttpDate(value) {
  if (typeof value !== "string" || !value.trim()) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** One measurement: {offsetMs, uncertaintyMs, at} from a server time and the local send/receive times. */
export function measureOffset({ serverTime, sentAt, receivedAt, resolutionMs = 0 }) {
  if (![serverTime, sentAt, receivedAt].every(Number.isFinite) || receivedAt < sentAt) return null;
  const midpoint = (sentAt + receivedAt) / 2;
  // a Date header truncates to the second: the true server time is in [serverTime, serverTime + resolution)
  const serverMid = serverTime + resolutionMs / 2;
  return { offsetMs: Math.round(serverMid - midpoint), uncertaintyMs: Math.round((receivedAt - sentAt) / 2 + resolutionMs / 2),
    at: receivedAt };
}

export class ClockSkew {
  constructor({ now = () => Date.now(), samples = [], ...options } = {}) {
    this.now = now;
    this.options = { ...CLOCK_DEFAULTS, ...options };
    this.samples = samples.filter((s) => s && Number.isFinite(s.offsetMs) && Number.isFinite(s.at));
  }

  /** Restore from toJSON() (kept in the queue database's meta store, so a restarted service worker knows it). */
  static fromJSON(json, options = {}) {
    return new ClockSkew({ ...options, samples: (json && json.samples) || [] });
  }

  toJSON() {
    return { samples: this.samples };
  }

  /** Add a sample from a server time in ms (e.g. a /healthz timestamp; resolutionMs 0 for a precise one). */
  observe(serverTime, sentAt, receivedAt, resolutionMs = 0) {
    const sample = measureOffset({ serverTime, sentAt, receivedAt, resolutionMs });
    if (!sample) return null;
    this.samples.push(sample);
    this.samples.sort((a, b) => b.at - a.at);
    this.samples.length = Math.min(this.samples.length, this.options.maxSamples);
    return sample;
  }

  /** Add a sample from any response's Date header (whole seconds). */
  observeDateHeader(dateHeader, sentAt, receivedAt) {
    const serverTime = parseHttpDate(dateHeader);
    return serverTime === null ? null : this.observe(serverTime, sentAt, receivedAt, SECOND);
  }

  /** The best current sample, or null if none is recent enough. */
  best() {
    const fresh = this.samples.filter((s) => this.now() - s.at <= this.options.sampleTtlMs);
    if (!fresh.length) return null;
    return fresh.reduce((a, b) => (b.uncertaintyMs < a.uncertaintyMs ? b : a));
  }

  /** server time - device time in ms (0 when never measured). */
  get offsetMs() {
    const best = this.best();
    return best ? best.offsetMs : 0;
  }

  /** The server's clock now, as well as we know it. */
  serverNow() {
    return this.now() + this.offsetMs;
  }

  /** A device time (ms or ISO string) on the server's clock. */
  toServerTime(local) {
    const ms = typeof local === "number" ? local : Date.parse(local);
    return Number.isNaN(ms) ? null : ms + this.offsetMs;
  }

  /** Is a device-stamped scanned_at believable? {plausible, reason, offsetMs, uncertaintyMs, serverTime}. reason:
   * "ok", "unmeasured" (no recent sample: plausible, but unverified), "device_clock_skewed" (the device clock is off
   * by more than maxSkewMs), "in_future", "too_old", "invalid". */
  check(scannedAt) {
    const best = this.best();
    const local = scannedAt instanceof Date ? scannedAt.getTime() : typeof scannedAt === "number" ? scannedAt : Date.parse(scannedAt);
    const base = { offsetMs: best ? best.offsetMs : null, uncertaintyMs: best ? best.uncertaintyMs : null };
    if (!Number.isFinite(local)) return { ...base, plausible: false, reason: "invalid", serverTime: null };
    const offset = best ? best.offsetMs : 0;
    const slack = best ? best.uncertaintyMs : 0;
    const serverTime = local + offset;
    const serverNow = this.now() + offset;
    const { maxSkewMs, futureToleranceMs, maxAgeMs } = this.options;
    let reason = best ? "ok" : "unmeasured";
    if (best && Math.abs(offset) - slack > maxSkewMs) reason = "device_clock_skewed";
    else if (serverTime > serverNow + futureToleranceMs + slack) reason = "in_future";
    else if (serverTime < serverNow - maxAgeMs - slack) reason = "too_old";
    return { ...base, plausible: reason === "ok" || reason === "unmeasured", reason, serverTime };
  }

  /** True when scanned_at is believable (see check()). */
  plausible(scannedAt) {
    return this.check(scannedAt).plausible;
  }
}
