// Judging a scan on the station itself while the network is down (ARCHITECTURE.md "Offline"), from the data the
// station cached while online (GET /api/v1/station/offline, backend/stations/offline.py): the card's Ed25519
// signature (WebCrypto), the revoked card ids, today's rosters, the award items and their colours, goods and offers
// with their prices, the last-known balance of the cards the station knows and its per-card offline limit.
//
// The server judges every scan again when it is replayed (backend/scans); what the operator was shown travels with
// the scan as its device verdict. The same reason codes as the server's, plus three of the device's own:
// offline_unknown_card (a typed number, or a spending or colour check for a card not in the cached data),
// offline_limit_exceeded (more than the station may let a card spend offline), and pin_required as the server says.
//
// A plain ES module with no dependencies: the station page imports it, node's test runner tests it.

const TOKEN_TEXT = /^[A-Za-z0-9_-]{16,512}$/;
const CARD_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/\s?#]+(?:\/[^\s?#]*)?\/c\/([A-Za-z0-9_-]{16,512})\/?$/i;
const VERSION_CARD = 1;
const VERSION_PHONE_CODE = 2;
const SIGNED_LENGTH = { [VERSION_CARD]: 10, [VERSION_PHONE_CODE]: 14 };
const SIGNATURE_BYTES = 64;
const CHECKIN_OPENS_MS = 30 * 60 * 1000; // backend/events/rules.py CHECKIN_OPENS
const MAX_QUANTITY = 99;
const SPENDING = new Set(["redeem_shop", "redeem_offer"]);
const MODE_CAPABILITY = { checkin: "checkin", checkout: "checkin", award: "award", redeem_shop: "redeem_shop",
  redeem_offer: "redeem_offer" };
/** The scan modes a station can judge without the network (any other is only scanned online). */
export const OFFLINE_MODES = Object.freeze(Object.keys(MODE_CAPABILITY));

// Damm's quasigroup (cards/number.py): every single-digit error and adjacent transposition changes the check digit
const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2], [7, 0, 9, 2, 1, 5, 4, 8, 6, 3], [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6], [6, 1, 2, 3, 0, 4, 5, 9, 7, 8], [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4], [8, 9, 4, 5, 3, 6, 2, 0, 1, 7], [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

export class Refusal extends Error {
  constructor(reason, params = {}) {
    super(reason);
    this.reason = reason;
    this.params = params;
  }
}

/** A typed card number (spaces, dashes, full-width digits) -> its ten ASCII digits; null when the text is not
 * digits at all (a token or a URL); Refusal("malformed") for digits that are not a valid card number. */
export function typedCardNumber(text) {
  const number = String(text).normalize("NFKC").replace(/[\s-]/g, "");
  if (!number || !/^\d+$/.test(number)) return null;
  if (number.length !== 10) throw new Refusal("malformed");
  let interim = 0;
  for (const digit of number.slice(0, 9)) interim = DAMM[interim][Number(digit)];
  if (String(interim) !== number[9]) throw new Refusal("malformed");
  return number;
}

/** The token of a raw token or a card URL (as a camera or a keyboard-wedge scanner delivers it). */
export function extractToken(text) {
  const trimmed = String(text).trim();
  if (TOKEN_TEXT.test(trimmed)) return trimmed;
  const match = CARD_URL.exec(trimmed);
  if (!match) throw new Refusal("malformed");
  return match[1];
}

export function base64urlDecode(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const binary = atob(padded);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function base64urlEncode(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The parts of a token (cards/token.py layout), without checking the signature; Refusal on a malformed one. */
export function parseToken(token) {
  if (!TOKEN_TEXT.test(token)) throw new Refusal("malformed");
  let raw;
  try { raw = base64urlDecode(token); } catch { throw new Refusal("malformed"); }
  // one spelling per token: unused trailing bits would give it several
  if (!raw.length || base64urlEncode(raw) !== token) throw new Refusal("malformed");
  const signedLength = SIGNED_LENGTH[raw[0]];
  if (!signedLength) throw new Refusal("unknown_version");
  if (raw.length !== signedLength + SIGNATURE_BYTES) throw new Refusal("malformed");
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return {
    version: raw[0],
    keyId: raw[1],
    cardId: hex(raw.subarray(2, 10)),
    expiresAt: raw[0] === VERSION_PHONE_CODE ? view.getUint32(10) * 1000 : null,
    signed: raw.slice(0, signedLength),
    signature: raw.slice(signedLength),
  };
}

/** Import the cached public keys ([{key_id, public_key}] as GET /api/v1/cards/keys gives them) for verifying. */
export async function importKeys(keys, subtle = globalThis.crypto && globalThis.crypto.subtle) {
  const out = new Map();
  if (!subtle) return out;
  for (const { key_id: keyId, public_key: publicKey } of keys || []) {
    try {
      out.set(keyId, await subtle.importKey("raw", base64urlDecode(publicKey), { name: "Ed25519" }, false, ["verify"]));
    } catch { /* a browser without Ed25519 in WebCrypto: codes signed with this key are refused as unknown_key */ }
  }
  return out;
}

/** Verify a token: {cardId, isPhoneCode} or Refusal(malformed | unknown_version | unknown_key | bad_signature |
 * expired), the codes of cards.Reason. */
export async function verifyToken(token, keys, nowMs, subtle = globalThis.crypto && globalThis.crypto.subtle) {
  const parts = parseToken(token);
  const key = keys.get(parts.keyId);
  if (!key || !subtle) throw new Refusal("unknown_key");
  let ok = false;
  try { ok = await subtle.verify({ name: "Ed25519" }, key, parts.signature, parts.signed); } catch { ok = false; }
  if (!ok) throw new Refusal("bad_signature");
  if (parts.expiresAt !== null && nowMs >= parts.expiresAt) throw new Refusal("expired");
  return { cardId: parts.cardId, isPhoneCode: parts.version === VERSION_PHONE_CODE };
}

/** What this station already did offline that the cached data does not know yet: the scans queued (accepted on the
 * device) that were not on the server when the data was fetched. `records` are queue records (their `local` is
 * what the judge returned); `fetchedAt` (device ms) is when the cached data was fetched. */
export function offlineEffects(records, fetchedAt) {
  const spent = new Map(); // card id -> points spent
  const stock = new Map(); // goods id -> quantity taken
  const stays = new Map(); // "event:card" -> "in" | "out" (the latest offline check-in or check-out)
  const ordered = [...(records || [])].sort((a, b) => (a.queued_at || 0) - (b.queued_at || 0));
  for (const record of ordered) {
    const local = record.local;
    if (!local || !local.accepted || !local.card_id) continue;
    // settled on the server before the data was fetched: the cached balances and rosters include it
    if (record.state === "done" && record.settled_at != null && fetchedAt != null && record.settled_at <= fetchedAt) continue;
    if (SPENDING.has(record.mode)) spent.set(local.card_id, (spent.get(local.card_id) || 0) + Math.abs(local.points || 0));
    if (record.mode === "redeem_shop" && record.details) {
      const goods = String(record.details.goods_id);
      stock.set(goods, (stock.get(goods) || 0) + (Number(record.details.quantity) || 1));
    }
    if ((record.mode === "checkin" || record.mode === "checkout") && record.details) {
      stays.set(`${record.details.event_id}:${local.card_id}`, record.mode === "checkin" ? "in" : "out");
    }
  }
  return { spent, stock, stays };
}

export class OfflineJudge {
  /** @param data the cached GET /api/v1/station/offline document; keys: a Map from importKeys(data.keys). */
  constructor(data, keys, { subtle = globalThis.crypto && globalThis.crypto.subtle } = {}) {
    this.data = data;
    this.keys = keys;
    this.subtle = subtle;
    this.revoked = new Set(data.revoked || []);
    this.cards = data.cards || {};
    this.byNumber = new Map(Object.entries(this.cards).map(([id, c]) => [c.number, id]));
    this.config = data.config || {};
  }

  static async from(data, options = {}) {
    return new OfflineJudge(data, await importKeys(data.keys, options.subtle), options);
  }

  /** Judge one scan {mode, card, details, pin?} at `nowMs` (device clock), given what was done offline so far
   * (offlineEffects). Returns {accepted, reason, params, card_id, holder, points, balance, summary}. Never throws. */
  async judge(scan, effects = offlineEffects([], null), nowMs = Date.now()) {
    const out = { accepted: false, reason: "ok", params: {}, card_id: null, holder: null, points: 0, balance: null,
      summary: {}, card_number: null };
    try {
      const card = await this.identify(scan.card, nowMs);
      out.card_id = card.cardId;
      const known = this.cards[card.cardId] || null;
      if (known) {
        out.holder = known.holder;
        out.card_number = known.number;
        out.balance = known.balance - (effects.spent.get(card.cardId) || 0);
      }
      const station = this.config.station || {};
      const capability = MODE_CAPABILITY[scan.mode];
      if (!capability) throw new Refusal("unknown_mode");
      if (!(station.modes || []).includes(capability)) throw new Refusal("mode_not_allowed");
      const result = this[scan.mode](scan, card, known, effects, nowMs);
      Object.assign(out, result, { accepted: true, reason: "ok" });
      if (out.balance !== null && result.points) out.balance += result.points;
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      out.accepted = false;
      out.reason = error.reason;
      out.params = error.params;
      out.points = 0;
    }
    return out;
  }

  /** The card behind what was scanned or typed: {cardId, isPhoneCode}. */
  async identify(text, nowMs) {
    if (typeof text !== "string" || text.length > 600) throw new Refusal("malformed");
    const number = typedCardNumber(text);
    let cardId;
    let isPhoneCode = false;
    if (number !== null) {
      // a typed number proves nothing by itself; offline it is only taken for a card the station knows
      cardId = this.byNumber.get(number);
      if (!cardId) throw new Refusal("offline_unknown_card");
    } else {
      ({ cardId, isPhoneCode } = await verifyToken(extractToken(text), this.keys, nowMs, this.subtle));
    }
    if (this.revoked.has(cardId)) throw new Refusal("revoked");
    return { cardId, isPhoneCode };
  }

  event(details) {
    const event = (this.config.events || []).find((e) => String(e.id) === String(details && details.event_id));
    if (!event) throw new Refusal("event_not_found");
    return event;
  }

  stayOf(event, cardId, effects) {
    const local = effects.stays.get(`${event.id}:${cardId}`);
    if (local) return local;
    const roster = (this.data.rosters || {})[String(event.id)] || {};
    if ((roster.checked_in || []).includes(cardId)) return "in";
    if ((roster.checked_out || []).includes(cardId)) return "out";
    return null;
  }

  checkin(scan, card, known, effects, nowMs) {
    const event = this.event(scan.details);
    const starts = Date.parse(event.starts_at);
    const ends = Date.parse(event.ends_at);
    if (!(starts - CHECKIN_OPENS_MS <= nowMs && nowMs < ends)) {
      throw new Refusal("outside_event_hours", { opens: event.starts_at, closes: event.ends_at });
    }
    if (this.stayOf(event, card.cardId, effects) === "in") throw new Refusal("already_checked_in");
    return { points: 0, summary: { event: event.title } };
  }

  checkout(scan, card, known, effects) {
    const event = this.event(scan.details);
    const stay = this.stayOf(event, card.cardId, effects);
    if (stay === "out") throw new Refusal("already_checked_out");
    if (stay !== "in") throw new Refusal("not_checked_in");
    // the hours' points are worked out by the server from the check-in and check-out times
    return { points: 0, summary: { event: event.title } };
  }

  award(scan, card, known) {
    const itemId = scan.details && scan.details.item_id;
    const item = (this.config.award_items || []).find((i) => String(i.id) === String(itemId));
    if (!item) throw new Refusal("item_not_allowed");
    if (item.colours && item.colours.length) {
      if (!known) throw new Refusal("offline_unknown_card");
      if (!item.colours.includes(known.colour)) throw new Refusal("colour_not_eligible");
    }
    return { points: item.points, summary: { item: item.label } };
  }

  redeem_shop(scan, card, known, effects) {
    const details = scan.details || {};
    const quantity = details.quantity === undefined ? 1 : details.quantity;
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
      throw new Refusal("bad_quantity", { max: MAX_QUANTITY });
    }
    const goods = (this.config.goods || []).find((g) => String(g.id) === String(details.goods_id));
    if (!goods) throw new Refusal("goods_not_allowed");
    if (this.config.shop_open === false) throw new Refusal("offline_shop_closed");
    if (typeof goods.stock === "number") {
      const left = goods.stock - (effects.stock.get(String(goods.id)) || 0);
      if (left < quantity) throw new Refusal("out_of_stock", { stock: Math.max(0, left) });
    }
    const price = goods.points * quantity;
    this.spend(scan, card, known, effects, price);
    return { points: -price, summary: { goods: goods.name, quantity } };
  }

  redeem_offer(scan, card, known, effects) {
    const offer = (this.config.offers || []).find((o) => String(o.id) === String(scan.details && scan.details.offer_id));
    if (!offer) throw new Refusal("offer_not_allowed");
    this.spend(scan, card, known, effects, offer.points);
    return { points: -offer.points, summary: { offer: offer.title, gives: offer.gives } };
  }

  /** Spending offline: the PIN as online (the server checks it on replay), within the last-known balance less what
   * was spent offline since, and within the station's per-card offline limit. */
  spend(scan, card, known, effects, price) {
    const station = this.config.station || {};
    const threshold = station.pin_threshold;
    if (threshold !== null && threshold !== undefined && !card.isPhoneCode && price >= threshold && !scan.pin) {
      throw new Refusal("pin_required", { points: price });
    }
    if (!known) throw new Refusal("offline_unknown_card");
    const spent = effects.spent.get(card.cardId) || 0;
    const balance = known.balance - spent;
    if (price > balance) throw new Refusal("insufficient_balance", { balance, needed: price });
    // the limit is per card and day at this station: what the server knew then, plus what was spent here since
    const limit = Number(this.data.offline_limit ?? station.offline_limit ?? 0);
    const used = spent + (known.offline_spent_today || 0);
    if (price > limit - used) throw new Refusal("offline_limit_exceeded", { limit, left: Math.max(0, limit - used) });
  }
}
