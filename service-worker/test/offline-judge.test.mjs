// The station's offline judge (frontend/static/js/offline-judge.mjs): signature, revocation, roster, colours,
// spending within the last-known balance and the offline limit, typed numbers only for known cards.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  OfflineJudge, base64urlEncode, offlineEffects, parseToken, typedCardNumber,
} from "../../frontend/static/js/offline-judge.mjs";

const { subtle } = globalThis.crypto;
const NOW = Date.parse("2026-11-01T10:00:00+08:00");

// made by the Python side (cards/token.py) with private key bytes 0..31: the two implementations must agree
const PY_KEY = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";
const PY_CARD = "AQcBI0VniavN76VOnCSiYCNeWTcGAcYTwYfDIa32vuK_5nkXnc668O9Dr3ohzJvFvYep-GFVYlxmcl8CuUOR4vrTAaAL9zs1UQw";
const PY_PHONE = "AgcBI0VniavN73Db2IC020qV11x4VsMyCnjo2PUIasf4jYoXojs7GTmqizTgWq4uYP1R_mhj7BJvk--cGR4Eo-TBs_EnXfX9fr4YFroG";

async function signer() {
  const pair = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const raw = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  return {
    publicKey: base64urlEncode(raw),
    async card(cardIdHex, keyId = 1) {
      const signed = new Uint8Array(10);
      signed[0] = 1;
      signed[1] = keyId;
      signed.set(Uint8Array.from(cardIdHex.match(/../g), (h) => parseInt(h, 16)), 2);
      const signature = new Uint8Array(await subtle.sign({ name: "Ed25519" }, pair.privateKey, signed));
      const token = new Uint8Array(74);
      token.set(signed);
      token.set(signature, 10);
      return base64urlEncode(token);
    },
  };
}

const CARDS = {
  aaaaaaaaaaaaaaaa: { number: "1234567894", account: 1, colour: "red", holder: "王*明", balance: 40, balance_at: "x", has_pin: false },
  bbbbbbbbbbbbbbbb: { number: "0000000000", account: 2, colour: "blue", holder: "李*", balance: 5, balance_at: "x", has_pin: false },
};

function data(keyEntry, overrides = {}) {
  return {
    server_time: "2026-11-01T02:00:00+00:00",
    offline_limit: 30,
    keys: [keyEntry],
    revoked: ["cccccccccccccccc"],
    cards: CARDS,
    rosters: { 7: { signed_up: [], checked_in: ["bbbbbbbbbbbbbbbb"], checked_out: [] } },
    config: {
      station: { modes: ["award", "checkin", "redeem_shop"], pin_threshold: null, offline_limit: 30 },
      award_items: [{ id: 3, label: "楼道清理", points: 10, colours: [] }, { id: 4, label: "红卡专项", points: 5, colours: ["green"] }],
      events: [{ id: 7, title: "清扫", starts_at: "2026-11-01T09:00:00+08:00", ends_at: "2026-11-01T12:00:00+08:00" }],
      goods: [{ id: 9, name: "洗衣液", points: 10, stock: 5 }],
      shop_open: true,
      ...overrides.config,
    },
    ...overrides.top,
  };
}

async function world(overrides) {
  const s = await signer();
  const judge = await OfflineJudge.from(data({ key_id: 1, public_key: s.publicKey }, overrides));
  return { s, judge, a: await s.card("aaaaaaaaaaaaaaaa"), b: await s.card("bbbbbbbbbbbbbbbb"),
    c: await s.card("cccccccccccccccc"), stranger: await s.card("dddddddddddddddd") };
}

test("a token made by the Python side verifies here, and its parts read the same", async () => {
  const judge = await OfflineJudge.from(data({ key_id: 7, public_key: PY_KEY }, { top: { cards: {} } }));
  const card = await judge.identify(`https://linli.example/c/${PY_CARD}`, NOW);
  assert.deepEqual(card, { cardId: "0123456789abcdef", isPhoneCode: false });
  const phone = await judge.identify(PY_PHONE, NOW);
  assert.equal(phone.isPhoneCode, true);
  assert.equal(parseToken(PY_PHONE).expiresAt, Date.parse("2030-01-01T00:00:00Z"));
  const late = await judge.judge({ mode: "award", card: PY_PHONE, details: { item_id: 3 } }, undefined, Date.parse("2030-01-02T00:00:00Z"));
  assert.equal(late.reason, "expired");
});

test("forged, damaged, unknown-key and malformed codes are refused with the server's reasons", async () => {
  const { judge, a } = await world();
  const tampered = a.slice(0, 20) + (a[20] === "A" ? "B" : "A") + a.slice(21);
  const reasons = [];
  for (const card of [tampered, "AQ" + "A".repeat(40), "not a card", (await (await signer()).card("aaaaaaaaaaaaaaaa", 2))]) {
    reasons.push((await judge.judge({ mode: "award", card, details: { item_id: 3 } }, undefined, NOW)).reason);
  }
  assert.deepEqual(reasons, ["bad_signature", "malformed", "malformed", "unknown_key"]);
  const otherKey = await (await signer()).card("aaaaaaaaaaaaaaaa", 1); // same key id, another key
  assert.equal((await judge.judge({ mode: "award", card: otherKey, details: { item_id: 3 } }, undefined, NOW)).reason, "bad_signature");
});

test("a revoked card is refused; a valid card unknown to the station can still be awarded an item for anyone", async () => {
  const { judge, c, stranger } = await world();
  assert.equal((await judge.judge({ mode: "award", card: c, details: { item_id: 3 } }, undefined, NOW)).reason, "revoked");
  const ok = await judge.judge({ mode: "award", card: stranger, details: { item_id: 3 } }, undefined, NOW);
  assert.deepEqual([ok.accepted, ok.points, ok.balance, ok.summary.item], [true, 10, null, "楼道清理"]);
  // an item for some colours needs the card's colour, which only a known card has
  const colour = await judge.judge({ mode: "award", card: stranger, details: { item_id: 4 } }, undefined, NOW);
  assert.equal(colour.reason, "offline_unknown_card");
});

test("award: the item must be the station's, the colour must be allowed; the estimated balance goes up", async () => {
  const { judge, a } = await world();
  const ok = await judge.judge({ mode: "award", card: a, details: { item_id: 3 } }, undefined, NOW);
  assert.deepEqual([ok.accepted, ok.holder, ok.balance, ok.card_id], [true, "王*明", 50, "aaaaaaaaaaaaaaaa"]);
  assert.equal((await judge.judge({ mode: "award", card: a, details: { item_id: 4 } }, undefined, NOW)).reason, "colour_not_eligible");
  assert.equal((await judge.judge({ mode: "award", card: a, details: { item_id: 99 } }, undefined, NOW)).reason, "item_not_allowed");
  assert.equal((await judge.judge({ mode: "redeem_offer", card: a, details: { offer_id: 1 } }, undefined, NOW)).reason, "mode_not_allowed");
});

test("typed numbers: only a number the station knows; a wrong check digit is malformed", async () => {
  const { judge } = await world();
  assert.equal(typedCardNumber("１２３４ ５６７８ ９４"), "1234567894");
  const ok = await judge.judge({ mode: "award", card: "1234 5678 94", details: { item_id: 3 } }, undefined, NOW);
  assert.equal(ok.accepted, true);
  assert.equal((await judge.judge({ mode: "award", card: "1234567895", details: { item_id: 3 } }, undefined, NOW)).reason, "malformed");
  assert.equal((await judge.judge({ mode: "award", card: "12345", details: { item_id: 3 } }, undefined, NOW)).reason, "malformed");
  const unknownValid = "9876543215"; // a valid number (cards.card_number_from_serial(987654321)) the station has never seen
  assert.equal(typedCardNumber(unknownValid), unknownValid);
  assert.equal((await judge.judge({ mode: "award", card: unknownValid, details: { item_id: 3 } }, undefined, NOW)).reason, "offline_unknown_card");
});

test("check-in and check-out follow the roster and what the station did offline", async () => {
  const { judge, a, b } = await world();
  const checkin = (card, effects = undefined, at = NOW) => judge.judge({ mode: "checkin", card, details: { event_id: 7 } }, effects, at);
  const checkout = (card, effects = undefined) => judge.judge({ mode: "checkout", card, details: { event_id: 7 } }, effects, NOW);
  assert.equal((await checkin(b)).reason, "already_checked_in"); // on the roster as in
  assert.equal((await checkout(a)).reason, "not_checked_in");
  assert.equal((await checkin(a, undefined, Date.parse("2026-11-01T08:00:00+08:00"))).reason, "outside_event_hours");
  const first = await checkin(a);
  assert.equal(first.accepted, true);
  const queued = [{ mode: "checkin", details: { event_id: 7 }, state: "pending", queued_at: 1, local: first }];
  assert.equal((await checkin(a, offlineEffects(queued, 0))).reason, "already_checked_in");
  const out = await checkout(a, offlineEffects(queued, 0));
  assert.equal(out.accepted, true);
  queued.push({ mode: "checkout", details: { event_id: 7 }, state: "pending", queued_at: 2, local: out });
  assert.equal((await checkout(a, offlineEffects(queued, 0))).reason, "already_checked_out");
  assert.equal((await checkin(a, offlineEffects(queued, 0))).accepted, true); // back after a break
  assert.equal((await judge.judge({ mode: "checkin", card: a, details: { event_id: 8 } }, undefined, NOW)).reason, "event_not_found");
});

test("redemption: within the last-known balance less offline spending, and within the per-card offline limit", async () => {
  const { judge, a, b, stranger } = await world();
  const redeem = (card, quantity, records = [], pin = undefined) => judge.judge(
    { mode: "redeem_shop", card, details: { goods_id: 9, quantity }, pin }, offlineEffects(records, 100), NOW);
  const first = await redeem(a, 2); // 20 of balance 40, limit 30
  assert.deepEqual([first.accepted, first.points, first.balance], [true, -20, 20]);
  const records = [{ mode: "redeem_shop", details: { goods_id: 9, quantity: 2 }, state: "pending", queued_at: 1, local: first }];
  const over = await redeem(a, 2, records); // 20 more: the balance (20 left) would do, the limit (10 left) not
  assert.deepEqual([over.accepted, over.reason, over.params], [false, "offline_limit_exceeded", { limit: 30, left: 10 }]);
  assert.equal((await redeem(a, 1, records)).accepted, true);
  assert.deepEqual([(await redeem(b, 1)).reason, (await redeem(b, 1)).params], ["insufficient_balance", { balance: 5, needed: 10 }]);
  assert.equal((await redeem(stranger, 1)).reason, "offline_unknown_card"); // no balance known
  const taken = [...records, { ...records[0], scan_id: "2", queued_at: 2, local: { ...first, card_id: "bbbbbbbbbbbbbbbb" } }];
  assert.deepEqual([(await redeem(a, 2, taken)).reason, (await redeem(a, 2, taken)).params], ["out_of_stock", { stock: 1 }]); // 4 of 5 taken offline
  // a scan the server had recorded before the data was fetched is in the cached balance already
  const synced = [{ ...records[0], state: "done", settled_at: 50 }];
  assert.equal((await redeem(a, 3, synced)).accepted, true);
  assert.equal((await redeem(a, 0)).reason, "bad_quantity");
});

test("the offline limit counts what the server knows was spent offline here today", async () => {
  const { judge, a } = await world({ top: { cards: { aaaaaaaaaaaaaaaa: { ...CARDS.aaaaaaaaaaaaaaaa, offline_spent_today: 25 } } } });
  const over = await judge.judge({ mode: "redeem_shop", card: a, details: { goods_id: 9, quantity: 1 } }, undefined, NOW);
  assert.deepEqual([over.reason, over.params], ["offline_limit_exceeded", { limit: 30, left: 5 }]);
});

test("redemption asks the PIN above the station's threshold; a closed shop refuses", async () => {
  const { judge, a } = await world({ config: { station: { modes: ["redeem_shop"], pin_threshold: 10, offline_limit: 30 } } });
  const asked = await judge.judge({ mode: "redeem_shop", card: a, details: { goods_id: 9, quantity: 1 } }, undefined, NOW);
  assert.deepEqual([asked.reason, asked.params], ["pin_required", { points: 10 }]);
  const withPin = await judge.judge({ mode: "redeem_shop", card: a, details: { goods_id: 9, quantity: 1 }, pin: "123456" }, undefined, NOW);
  assert.equal(withPin.accepted, true);
  const closed = await world({ config: { shop_open: false } });
  assert.equal((await closed.judge.judge({ mode: "redeem_shop", card: closed.a, details: { goods_id: 9 } }, undefined, NOW)).reason,
    "offline_shop_closed");
});
