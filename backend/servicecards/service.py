"""Service cards: issue (one or a whole place), report lost, PINs, phone codes, printing, signing keys, and
`resolve`, which turns whatever a station scanner delivers into a card — the contract the scan service calls.

Every write is one transaction, with its audit entry inside it. The code on a card is never stored: Ed25519
signatures are deterministic, so sign_card(card_id, key_id) gives the same token every time it is printed.
"""
from __future__ import annotations

import asyncio
import functools
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

import cards
from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.community.tables import Node
from backend.db import atomic, fetch, fetchrow, json_value, read_ahead
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.people.rules import Principal, mask_name, require_scope
from backend.servicecards import rules
from backend.servicecards.rules import CardRejected, PinRejected
from backend.servicecards.tables import Card, SigningKey
from backend.settings import get_settings

__all__ = [
    "CardRejected", "CardView", "Identified", "PhoneCode", "PinRejected", "ResolvedCard", "check_pin", "resolve",
]

_hasher = PasswordHasher()
_CHUNK = 100  # rows per bulk insert, well inside SQLite's limit on bound parameters
MAX_SCANNED_TEXT = 2048


# --- views -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResolvedCard:
    """A usable card, as the scan service needs it. `account_colour` is the printed colour:
    red | blue | green for person accounts, organisation for organisation accounts."""

    card_pk: int
    card_id_hex: str
    card_number: str  # ten digits, unformatted
    account_id: int
    account_colour: str
    account_kind: str
    holder_person_id: int | None  # None for organisation cards
    holder_name: str
    masked_name: str
    community_id: int
    is_phone_code: bool
    has_pin: bool
    # only with resolve(allow_revoked=True): a revoked card, and since when (the offline conflict policy)
    active: bool = True
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class CardView:
    pk: int
    card_id_hex: str
    number: str  # ten digits
    state: str
    key_id: int
    account_id: int
    account_kind: str
    colour: str  # red | blue | green | organisation
    holder_person_id: int | None
    holder_name: str
    community_id: int
    community_name: str
    scope_path: str  # where the card belongs in the tree: the holder's home, or the account's community
    issued_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    replaced_by: int | None
    has_pin: bool
    pin_locked_until: datetime | None

    @property
    def formatted_number(self) -> str:
        return cards.format_card_number(self.number)

    @property
    def masked_name(self) -> str:
        return mask_name(self.holder_name)

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def pin_locked(self) -> bool:
        return rules.pin_locked(self.pin_locked_until, datetime.now(timezone.utc))


@dataclass(frozen=True)
class Identified:
    """What a scanned text stands for, even when it may not be used: `reason` None means usable."""

    card: CardView | None
    reason: str | None
    is_phone_code: bool = False


@dataclass(frozen=True)
class PhoneCode:
    token: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class BulkIssue:
    node_id: int
    node_name: str
    issued: list[int]  # new card pks
    already: int  # accounts under the place that had an active card


def _card_columns():
    return (
        Card.all_columns(),
        Card.account.kind.as_alias("account_kind"), Card.account.colour.as_alias("account_colour"),
        Card.account.name.as_alias("account_name"), Card.account.holder.as_alias("holder_id"),
        Card.account.holder.name.as_alias("holder_name"), Card.account.community.as_alias("community_id"),
        Card.account.community.name.as_alias("community_name"), Card.account.community.path.as_alias("community_path"),
        Card.account.holder.home.path.as_alias("home_path"),
    )


def _view(row: dict) -> CardView:
    return CardView(
        pk=row["id"], card_id_hex=row["card_id"], number=cards.card_number_from_serial(row["serial"]),
        state=row["state"], key_id=row["key_id"], account_id=row["account"], account_kind=row["account_kind"],
        colour=rules.card_colour(row["account_kind"], row["account_colour"]), holder_person_id=row["holder_id"],
        holder_name=row["holder_name"] or row["account_name"], community_id=row["community_id"],
        community_name=row["community_name"], scope_path=row["home_path"] or row["community_path"],
        issued_at=row["issued_at"], revoked_at=row["revoked_at"], revoke_reason=row["revoke_reason"],
        replaced_by=row["replaced_by"], has_pin=row["pin_hash"] is not None, pin_locked_until=row["pin_locked_until"],
    )


async def _rows(where) -> list[dict]:
    return await Card.select(*_card_columns()).where(where).order_by(Card.id)


@functools.cache
def _card_query() -> str:
    """The one-card query with its joins, rendered once. Building it through piccolo costs about 5 ms a call and
    this is the scan hot path (resolve): rendered once and run raw, a lookup takes a third of the time."""
    return str(Card.select(*_card_columns()))


_LOOKUP_COLUMNS = {"id", "serial", "card_id"}


async def _row(column: str, value: int | str) -> dict | None:
    if column not in _LOOKUP_COLUMNS:  # each is unique and indexed; never a name from outside
        raise ValueError(f"cannot look cards up by {column!r}")
    found, row = read_ahead(("service_card", column, value))  # see rows_ahead
    if found:
        return row
    # db.fetch: on the current transaction's connection without piccolo's query building (every scan)
    return await fetchrow(f'{_card_query()} WHERE "service_card"."{column}" = ? LIMIT 1', value)


async def rows_ahead(scanned: list[tuple[str, datetime]]) -> dict:
    """What scans of (text, at the time) will look up (see _find), in one statement: a group of scans reads its
    cards with this before its scans run (backend.db.grouped's `ahead`; PostgreSQL), {("service_card", column,
    value): row or None}, and how each text names its card, {("card_code", text, at): _lookup's answer}, so that
    a phone code's signature (never cached: it expires) is checked once a scan, not twice. A text that is no card
    code is left out: its scan refuses it itself. Scans change no card row (a PIN's count is read on its own), so
    a row read here is the one the scan would have read."""
    serials, card_ids, found = set(), set(), {}
    for text, at in scanned:
        try:
            found["card_code", text, at] = named = await _lookup(text, at)
        except CardRejected:
            continue
        (serials if named[0] == "serial" else card_ids).add(named[1])
    if not serials and not card_ids:
        return {}
    rows = await fetch(_cards_ahead_query(), json_value(list(card_ids)), json_value(list(serials)))
    found.update({("service_card", "card_id", c): None for c in card_ids})
    found.update({("service_card", "serial", n): None for n in serials})
    for row in rows:
        for lookup in (("service_card", "card_id", row["card_id"]), ("service_card", "serial", row["serial"])):
            if lookup in found:  # only what a scan asked for
                found[lookup] = row
    return found


@functools.cache
def _cards_ahead_query() -> str:
    """PostgreSQL: the one-card query once a card id or serial (JSON arrays), each by its unique index (LIMIT 1
    keeps each a lookup of its own). A plain `= ANY(…)` was planned as a scan of every card and a hash join of
    every account until the tables had statistics; an unnest of an array, planned anew at each call for its
    length (as the group's end statement was, see backend.db._finish_group)."""
    return " UNION ALL ".join(
        f"SELECT c.* FROM json_array_elements_text(?::json) AS k(v), LATERAL ({_card_query()}"
        f' WHERE "service_card"."{column}" = k.v::{kind} LIMIT 1) AS c' for column, kind in (("card_id", "varchar"), ("serial", "integer")))


async def card(card_pk: int) -> CardView:
    row = await _row("id", card_pk)
    if row is None:
        raise NotFound("card_not_found")
    return _view(row)


async def cards_of_person(person_id: int) -> list[CardView]:
    """Every card of the person's accounts, the working ones first, newest first."""
    views = [_view(r) for r in await _rows(Card.account.holder == person_id)]
    return sorted(views, key=lambda v: (not v.active, -v.pk))


async def active_cards_of_person(person_id: int) -> list[CardView]:
    return [v for v in await cards_of_person(person_id) if v.active]


async def cards_under(node_path: str | None = None, state: str | None = None) -> list[CardView]:
    """Cards of the people living under a place (and of organisations in communities under it), in the order
    a grid worker hands them out: by building and unit, then name. Every card when `node_path` is None."""
    where = Card.id > 0
    if node_path is not None:
        where &= (Card.account.holder.home.path.like(f"{node_path}%")
                  | ((Card.account.kind == "organisation") & Card.account.community.path.like(f"{node_path}%")))
    if state is not None:
        where &= Card.state == state
    views = [_view(r) for r in await _rows(where)]
    return sorted(views, key=lambda v: (v.scope_path, v.holder_name, v.pk))


async def card_by_number(text: str) -> CardView:
    """The card with this number (spaces, dashes and full-width digits allowed), whatever its state."""
    try:
        typed = rules.typed_card_number(text)
    except CardRejected:
        typed = None
    if typed is None:
        raise InvalidInput("bad_card_number", field="number")
    row = await _row("serial", typed.serial)
    if row is None:
        raise NotFound("card_not_found")
    return _view(row)


# --- resolving what a scanner delivers --------------------------------------------------------------------

async def identify(text: str, now: datetime, *, numbers: bool = True) -> Identified:
    """A card URL, a raw token or (with `numbers`) a typed card number -> the card it names and whether it may
    be used. Pages anyone can open pass numbers=False: card numbers are guessable, tokens are not."""
    try:
        if not numbers and rules.typed_card_number(text) is not None:
            raise CardRejected(cards.Reason.MALFORMED)
        row, is_phone_code = await _find(text, now)
    except CardRejected as exc:
        return Identified(None, exc.code)
    reason = rules.card_state_reason(row["state"])
    return Identified(_view(row), reason.value if reason else None, is_phone_code)


async def resolve(text: str, now: datetime, *, allow_revoked: bool = False) -> ResolvedCard:
    """The usable card behind a scan or a typed number; CardRejected(reason) otherwise, reason one of
    cards.Reason: malformed, unknown_version, unknown_key, bad_signature, expired, revoked, unknown_card.
    `allow_revoked`: return a revoked card (active=False, revoked_at) instead of refusing it — for judging a scan
    a station made offline before it learnt of the revocation (backend/scans/offline.py)."""
    row, is_phone_code = await _find(text, now)
    reason = rules.card_state_reason(row["state"])
    if reason is not None and not allow_revoked:
        raise CardRejected(reason)
    view = _view(row)
    return ResolvedCard(
        card_pk=view.pk, card_id_hex=view.card_id_hex, card_number=view.number, account_id=view.account_id,
        account_colour=view.colour, account_kind=view.account_kind, holder_person_id=view.holder_person_id,
        holder_name=view.holder_name, masked_name=view.masked_name, community_id=view.community_id,
        is_phone_code=is_phone_code, has_pin=view.has_pin, active=reason is None, revoked_at=view.revoked_at,
    )


async def _find(text: str, now: datetime) -> tuple[dict, bool]:
    column, value, is_phone_code = await _lookup(text, now)
    row = await _row(column, value)
    if row is None:
        raise CardRejected(cards.Reason.UNKNOWN_CARD)
    return row, is_phone_code


async def _lookup(text: str, now: datetime) -> tuple[str, int | str, bool]:
    """(column, value, is_phone_code): how the card a scanned text names is looked up (a typed number by its
    serial, a signed code by its card id once verified); CardRejected if the text is no card code."""
    if not isinstance(text, str) or len(text) > MAX_SCANNED_TEXT:
        raise CardRejected(cards.Reason.MALFORMED)
    known, lookup = read_ahead(("card_code", text, now))  # see rows_ahead
    if known:
        return lookup
    typed = rules.typed_card_number(text)
    if typed is not None:
        return "serial", typed.serial, False
    try:
        verified = await _verify(cards.extract_token(text), now)
    except cards.CardCodeError as exc:
        raise CardRejected(exc.reason) from None
    return "card_id", verified.card_id.hex(), verified.is_phone_code


# Verifying keys, cached for a few seconds: every scan needs them and they change once in a blue moon. A key
# this process has not seen (or a signature that fails against a cached key) reloads them before the code is
# refused; a key retired by another process stops verifying here within KEYS_CACHE_SECONDS.
# Printed cards' tokens never change and never expire: one verified against the cached keys is remembered with
# them (a signature check is the costliest step of a scan), and forgotten whenever the keys reloaded differ from
# those that verified it (a key retired or added).
KEYS_CACHE_SECONDS = 10.0
_VERIFIED_MAX = 50_000
# (loaded at, key id -> public key, printed-card token -> its verification, key id -> raw public key)
_keys_cache: tuple[float, dict[int, object], dict[str, cards.VerifiedToken], dict[int, bytes]] | None = None


async def _verify(token: str, now: datetime) -> cards.VerifiedToken:
    global _keys_cache
    cached = _keys_cache
    if cached is not None and time.monotonic() - cached[0] < KEYS_CACHE_SECONDS:
        known = cached[2].get(token)
        if known is not None:
            return known
        try:
            return _remember(cached, token, cards.verify(token, cached[1], now))
        except cards.CardCodeError as exc:
            if exc.reason not in (cards.Reason.UNKNOWN_KEY, cards.Reason.BAD_SIGNATURE):
                raise
    raw_keys = await public_keys()
    loaded = {key_id: cards.load_public_key(raw) for key_id, raw in raw_keys.items()}
    # the same keys as before: what they verified still stands
    verified = cached[2] if cached is not None and cached[3] == raw_keys else {}
    _keys_cache = (time.monotonic(), loaded, verified, raw_keys)
    return _remember(_keys_cache, token, cards.verify(token, loaded, now))


def _remember(cached, token: str, verified: cards.VerifiedToken) -> cards.VerifiedToken:
    if verified.expires_at is None and len(cached[2]) < _VERIFIED_MAX:  # phone codes expire: always checked
        cached[2][token] = verified
    return verified


def forget_keys() -> None:
    global _keys_cache
    _keys_cache = None


# --- PINs ------------------------------------------------------------------------------------------------

def _matches(pin_hash: str, pin: str) -> bool:
    try:
        return _hasher.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def check_pin(card_pk: int, pin: str | None, now: datetime) -> None:
    """Return if `pin` is the card's PIN. Otherwise PinRejected: pin_required, pin_not_set,
    wrong_pin (remaining=…), pin_locked (minutes=…) after MAX_PIN_FAILURES wrong ones in a row.
    A wrong PIN is counted in its own small transaction."""
    row = await Card.select(Card.id, Card.pin_hash, Card.pin_failures, Card.pin_locked_until).where(
        Card.id == card_pk).first()
    if row is None:
        raise NotFound("card_not_found")
    pin = rules.before_pin_check(row["pin_hash"] is not None, row["pin_locked_until"], pin, now)
    # argon2 takes tens of milliseconds: off the event loop, so other requests keep flowing
    if await asyncio.to_thread(_matches, row["pin_hash"], pin):
        if row["pin_failures"] or row["pin_locked_until"]:
            async with atomic():
                await Card.update({Card.pin_failures: 0, Card.pin_locked_until: None}).where(Card.id == card_pk)
        return
    async with atomic():
        # counted in the database, so two tills trying at once cannot both get the same "attempt"
        counted = await Card.update({Card.pin_failures: Card.pin_failures + 1}, use_auto_update=False).where(
            Card.id == card_pk).returning(Card.pin_failures)
        failures, locked_until = rules.after_wrong_pin(counted[0]["pin_failures"] - 1, now)
        if locked_until is not None:
            await Card.update({Card.pin_failures: failures, Card.pin_locked_until: locked_until}).where(
                Card.id == card_pk)
    raise rules.wrong_pin_error(failures, locked_until, now)


async def set_pin(principal: Principal, card_pk: int, new_pin: str | None, confirm_pin: str | None,
                  current_pin: str | None, now: datetime) -> None:
    """The holder chooses a PIN; changing one asks for the current PIN first (which counts towards the lock)."""
    view = await card(card_pk)
    if principal.person_id is None or view.holder_person_id != principal.person_id:
        raise PermissionDenied("not_your_card")
    if not view.active:
        raise Conflict("card_not_active")
    pin = rules.check_new_pin(new_pin, confirm_pin)
    if view.has_pin:
        if not rules.normalize_pin(current_pin):
            raise InvalidInput("current_pin_required", field="current_pin")
        await check_pin(card_pk, current_pin, now)
    pin_hash = await asyncio.to_thread(_hasher.hash, pin)
    async with atomic():
        await Card.update({Card.pin_hash: pin_hash, Card.pin_failures: 0, Card.pin_locked_until: None}).where(
            Card.id == card_pk)
        await audit.log(principal.user_id, "card.pin_set", "card", card_pk, view.community_id,
                        after={"card_number": view.number, "changed": view.has_pin})


async def reset_pin(principal: Principal, card_pk: int, new_pin: str | None, confirm_pin: str | None,
                    now: datetime) -> bool:
    """Staff clear a forgotten PIN (and lift a lock); with `new_pin`, the holder types a new one at the counter.
    Returns whether the card now has a PIN."""
    view = await card(card_pk)
    require_scope(principal, "cards.issue", view.scope_path)
    if not view.active:
        raise Conflict("card_not_active")
    pin_hash = None
    if rules.normalize_pin(new_pin) or rules.normalize_pin(confirm_pin):
        pin_hash = await asyncio.to_thread(_hasher.hash, rules.check_new_pin(new_pin, confirm_pin))
    async with atomic():
        await Card.update({Card.pin_hash: pin_hash, Card.pin_failures: 0, Card.pin_locked_until: None}).where(
            Card.id == card_pk)
        await audit.log(principal.user_id, "card.pin_reset", "card", card_pk, view.community_id,
                        before={"had_pin": view.has_pin}, after={"card_number": view.number, "has_pin": bool(pin_hash)})
    return pin_hash is not None


# --- issuing, replacing ----------------------------------------------------------------------------------

async def _account(account_id: int) -> dict:
    row = await Account.select(
        Account.id, Account.kind, Account.active, Account.community, Account.name,
        Account.community.path.as_alias("community_path"), Account.holder.home.path.as_alias("home_path"),
    ).where(Account.id == account_id).first()
    if row is None:
        raise NotFound("account_not_found")
    return row


async def _unused_serials(count: int) -> list[int]:
    """Random 9-digit serials that no card has yet (a clash is rare: 900 million numbers)."""
    chosen: set[int] = set()
    while len(chosen) < count:
        wanted = count - len(chosen)
        candidates = {rules.MIN_SERIAL + secrets.randbelow(rules.MAX_SERIAL - rules.MIN_SERIAL + 1)
                      for _ in range(wanted)} - chosen
        taken: set[int] = set()
        for chunk in _chunks(sorted(candidates), 500):
            taken |= {r["serial"] for r in await Card.select(Card.serial).where(Card.serial.is_in(chunk))}
        chosen |= candidates - taken
    return list(chosen)


async def insert_cards(account_ids: list[int], key_id: int, issued_by: int | None, now: datetime,
                       pin_hash: str | None = None) -> list[int]:
    """Write new active cards, many rows per statement; the caller holds the transaction. Returns their pks."""
    serials = await _unused_serials(len(account_ids))
    pks: list[int] = []
    pairs = list(zip(account_ids, serials, strict=True))
    for chunk in _chunks(pairs, _CHUNK):
        rows = await Card.insert(*(Card(
            card_id=cards.generate_card_id().hex(), serial=serial, account=account_id, state="active", key_id=key_id,
            issued_at=now, issued_by=issued_by, pin_hash=pin_hash,
        ) for account_id, serial in chunk))
        pks.extend(r["id"] for r in rows)
    return pks


async def issue(principal: Principal, account_id: int, now: datetime) -> CardView:
    """A first card for an account (a replacement goes through report_lost)."""
    account = await _account(account_id)
    require_scope(principal, "cards.issue", account["home_path"] or account["community_path"])
    if not rules.may_have_card(account["kind"]):
        raise Conflict("no_card_for_account_kind")
    if not account["active"]:
        raise Conflict("account_inactive")
    key = await ensure_signing_key(now)
    try:
        async with atomic():
            if await Card.exists().where((Card.account == account_id) & (Card.state == "active")):
                raise Conflict("card_already_active")
            (card_pk,) = await insert_cards([account_id], key["key_id"], principal.user_id, now)
            number = cards.card_number_from_serial(
                (await Card.select(Card.serial).where(Card.id == card_pk).first())["serial"])
            await audit.log(principal.user_id, "card.issue", "card", card_pk, account["community"],
                            after={"card_number": number, "account": account_id, "key_id": key["key_id"]})
    except Conflict:
        raise
    except Exception:
        # a concurrent issue for the same account won the "one active card" index
        if await Card.exists().where((Card.account == account_id) & (Card.state == "active")):
            raise Conflict("card_already_active") from None
        raise
    return await card(card_pk)


async def issue_bulk(principal: Principal, node_id: int, now: datetime) -> BulkIssue:
    """One card for every person account under the place (and organisation account in it) that has none."""
    node = await Node.select(Node.id, Node.name, Node.path).where(Node.id == node_id).first()
    if node is None:
        raise NotFound("node_not_found")
    require_scope(principal, "cards.issue", node["path"])
    key = await ensure_signing_key(now)
    path = node["path"]
    under = (Account.active == True) & (  # noqa: E712
        ((Account.kind == "person") & Account.holder.home.path.like(f"{path}%"))
        | ((Account.kind == "organisation") & Account.community.path.like(f"{path}%")))
    async with atomic():
        accounts = [r["id"] for r in await Account.select(Account.id).where(under).order_by(Account.id)]
        with_card: set[int] = set()
        for chunk in _chunks(accounts, 500):
            with_card |= {r["account"] for r in await Card.select(Card.account).where(
                (Card.state == "active") & Card.account.is_in(chunk))}
        missing = [a for a in accounts if a not in with_card]
        issued = await insert_cards(missing, key["key_id"], principal.user_id, now) if missing else []
        if issued:
            await audit.log(principal.user_id, "card.issue_bulk", "node", node_id, await _community_or_node(path),
                            after={"place": node["name"], "issued": len(issued), "already": len(with_card)})
    return BulkIssue(node_id, node["name"], issued, len(with_card))


async def issue_missing_cards(issued_by: int | None, now: datetime) -> int:
    """A card for every person and organisation account that has no working card, many rows per statement.
    No scope check and no transaction of its own: for the demo loader (and later bulk imports), inside theirs."""
    key = await ensure_signing_key(now)
    accounts = [r["id"] for r in await Account.select(Account.id).where(
        (Account.active == True) & Account.kind.is_in(list(rules.CARD_KINDS))  # noqa: E712
        & Account.id.not_in(Card.select(Card.account).where(Card.state == "active"))).order_by(Account.id)]
    return len(await insert_cards(accounts, key["key_id"], issued_by, now)) if accounts else 0


async def _community_or_node(path: str) -> int:
    """The community above a place, for the audit log; the place itself above community level (a street)."""
    ids = [int(p) for p in path.strip("/").split("/")]
    row = await Node.select(Node.id).where(Node.id.is_in(ids) & (Node.kind == "community")).first()
    return row["id"] if row else ids[-1]


async def report_lost(principal: Principal, card_pk: int, now: datetime, reason: str = "lost") -> CardView:
    """Revoke the card at once and issue its replacement to the same account, in one transaction.
    The balance lives on the account, so it moves with nothing to do; the PIN carries over."""
    if reason not in ("lost", "replaced"):
        raise InvalidInput("bad_revoke_reason")
    old = await card(card_pk)
    require_scope(principal, "cards.issue", old.scope_path)
    if not old.active:
        raise Conflict("card_not_active")
    key = await ensure_signing_key(now)
    async with atomic():
        await _revoke(card_pk, reason, now)
        pin_hash = (await Card.select(Card.pin_hash).where(Card.id == card_pk).first())["pin_hash"]
        (new_pk,) = await insert_cards([old.account_id], key["key_id"], principal.user_id, now, pin_hash=pin_hash)
        await Card.update({Card.replaced_by: new_pk}).where(Card.id == card_pk)
        new_number = cards.card_number_from_serial(
            (await Card.select(Card.serial).where(Card.id == new_pk).first())["serial"])
        await audit.log(principal.user_id, f"card.{reason}", "card", card_pk, old.community_id,
                        before={"card_number": old.number, "state": "active"},
                        after={"state": "revoked", "reason": reason, "new_card": new_pk, "new_card_number": new_number})
    return await card(new_pk)


async def revoke(principal: Principal, card_pk: int, now: datetime) -> CardView:
    """Staff withdraw a card without a replacement (the account stays; a new card can be issued later)."""
    old = await card(card_pk)
    require_scope(principal, "cards.issue", old.scope_path)
    async with atomic():
        await _revoke(card_pk, "staff", now)
        await audit.log(principal.user_id, "card.revoke", "card", card_pk, old.community_id,
                        before={"card_number": old.number, "state": old.state}, after={"state": "revoked"})
    return await card(card_pk)


async def _revoke(card_pk: int, reason: str, now: datetime) -> None:
    # the state in the WHERE: of two staff reporting the same card at once, only one revokes it
    done = await Card.update({Card.state: "revoked", Card.revoked_at: now, Card.revoke_reason: reason}).where(
        (Card.id == card_pk) & (Card.state == "active")).returning(Card.id)
    if not done:
        raise Conflict("card_not_active")


# --- codes: printed, phone, print sheets ----------------------------------------------------------------

async def _private_key(key_id: int) -> bytes:
    """The one place that reads a private key (see tables.SigningKey: a KMS or HSM would sign here instead)."""
    row = await SigningKey.select(SigningKey.private_key).where(
        (SigningKey.key_id == key_id) & SigningKey.retired_at.is_null()).first()
    if row is None:
        raise Conflict("card_key_retired", key_id=key_id)
    return bytes.fromhex(row["private_key"])


async def card_token(view: CardView) -> str:
    """The printed card's code (QR and NFC): the same text every time."""
    return cards.sign_card(bytes.fromhex(view.card_id_hex), view.key_id, await _private_key(view.key_id))


def url_of(token: str) -> str:
    return cards.card_url(get_settings().base_url, token)


async def card_url(view: CardView) -> str:
    return url_of(await card_token(view))


async def phone_code(person_id: int | None, card_pk: int, now: datetime) -> PhoneCode:
    """A short-lived signed code for the holder's phone: a screenshot stops working within a minute."""
    view = await card(card_pk)
    if person_id is None or view.holder_person_id != person_id:
        raise PermissionDenied("not_your_card")
    if not view.active:
        raise Conflict("card_not_active")
    key = await ensure_signing_key(now)
    expires_at = rules.phone_code_expiry(now)
    token = cards.sign_phone_code(bytes.fromhex(view.card_id_hex), key["key_id"], bytes.fromhex(key["private_key"]),
                                  expires_at)
    return PhoneCode(token, url_of(token), expires_at)


async def faces(views: list[CardView], title: str, number_label: str) -> list[cards.CardFace]:
    """Card faces for a print sheet; the caller passes the labels in the reader's language."""
    keys = {r["key_id"]: bytes.fromhex(r["private_key"]) for r in await SigningKey.select(
        SigningKey.key_id, SigningKey.private_key).where(SigningKey.retired_at.is_null())}
    out = []
    for v in views:
        if v.key_id not in keys:
            raise Conflict("card_key_retired", key_id=v.key_id)
        token = cards.sign_card(bytes.fromhex(v.card_id_hex), v.key_id, keys[v.key_id])
        out.append(cards.CardFace(holder_name=v.holder_name, colour=v.colour, community=v.community_name,
                                  url=url_of(token), card_number=v.number, title=title, number_label=number_label))
    return out


async def printable_card(principal: Principal, card_pk: int) -> CardView:
    view = await card(card_pk)
    require_scope(principal, "cards.issue", view.scope_path)
    if not view.active:
        raise Conflict("card_not_active")
    return view


async def printable_place(principal: Principal, node_id: int) -> tuple[dict, list[CardView]]:
    """The place and its active cards, for a print sheet."""
    node = await place(node_id)
    require_scope(principal, "cards.issue", node["path"])
    return node, await cards_under(node["path"], "active")


async def place(node_id: int) -> dict:
    node = await Node.select(Node.id, Node.kind, Node.name, Node.path).where(Node.id == node_id).first()
    if node is None:
        raise NotFound("node_not_found")
    return node


async def place_summary(principal: Principal, node_id: int) -> dict:
    """For the card desk: the place, and how many of its accounts have a working card."""
    node = await place(node_id)
    require_scope(principal, "cards.issue", node["path"])
    path = node["path"]
    under = (Account.active == True) & (  # noqa: E712
        ((Account.kind == "person") & Account.holder.home.path.like(f"{path}%"))
        | ((Account.kind == "organisation") & Account.community.path.like(f"{path}%")))
    rows = await Account.select(
        Account.id, Account.kind, Account.colour, Account.name, Account.holder.home.path.as_alias("home_path"),
    ).where(under).order_by(Account.id)
    views = await cards_under(path)
    with_card = {v.account_id for v in views if v.active}
    without = sorted((r for r in rows if r["id"] not in with_card), key=lambda r: (r["home_path"] or "", r["name"]))
    return {"node": node, "accounts": len(rows), "active": len(with_card), "missing": len(without),
            "cards": views, "without": without}


# --- keys and revocations for offline stations ------------------------------------------------------------

async def _current_key() -> dict | None:
    return await SigningKey.select().where(SigningKey.retired_at.is_null()).order_by(
        SigningKey.key_id, ascending=False).first()


async def _add_key(now: datetime) -> dict:
    used = [r["key_id"] for r in await SigningKey.select(SigningKey.key_id)]
    key_id = rules.next_key_id(used)
    private, public = cards.new_signing_key()
    await SigningKey.insert(SigningKey(key_id=key_id, private_key=private.hex(), public_key=public.hex(), created_at=now))
    return await SigningKey.select().where(SigningKey.key_id == key_id).first()


async def ensure_signing_key(now: datetime) -> dict:
    """The key new cards and phone codes are signed with: the newest one not retired, made on first use."""
    key = await _current_key()
    if key is not None:
        return key
    try:
        async with atomic():
            key = await _current_key() or await _add_key(now)
    except Conflict:
        raise
    except Exception:
        # another process made the first key at the same moment: use theirs
        key = await _current_key()
        if key is None:
            raise
    return key


async def rotate_keys(now: datetime, retire: int | None = None, force: bool = False) -> tuple[int, int | None]:
    """Add a key that new cards use from now on; old keys keep verifying. With `retire`, that key stops
    verifying (its cards read as unknown_key): refused while active cards use it, unless `force`."""
    async with atomic():
        new = await _add_key(now)
        if retire is not None:
            await _retire(retire, now, force)
        await audit.log(None, "card.keys_rotate", "signing_key", new["key_id"], None,
                        after={"new_key": new["key_id"], "retired": retire})
    forget_keys()
    return new["key_id"], retire


async def _retire(key_id: int, now: datetime, force: bool) -> None:
    key = await SigningKey.select().where(SigningKey.key_id == key_id).first()
    if key is None:
        raise NotFound("key_not_found", key_id=key_id)
    if key["retired_at"] is not None:
        raise Conflict("key_already_retired", key_id=key_id)
    in_use = await Card.count().where((Card.key_id == key_id) & (Card.state == "active"))
    if in_use and not force:
        raise Conflict("key_in_use", key_id=key_id, cards=in_use)
    await SigningKey.update({SigningKey.retired_at: now}).where(SigningKey.key_id == key_id)


async def keys_overview() -> list[dict]:
    rows = await SigningKey.select(SigningKey.key_id, SigningKey.public_key, SigningKey.created_at,
                                   SigningKey.retired_at).order_by(SigningKey.key_id)
    for r in rows:
        r["active_cards"] = await Card.count().where((Card.key_id == r["key_id"]) & (Card.state == "active"))
    return rows


async def public_keys() -> dict[int, bytes]:
    """Every key that verifies (not retired): key id -> 32 raw bytes of the Ed25519 public key."""
    rows = await SigningKey.select(SigningKey.key_id, SigningKey.public_key).where(SigningKey.retired_at.is_null())
    return {r["key_id"]: bytes.fromhex(r["public_key"]) for r in rows}


async def revocation_list() -> list[str]:
    """The card ids (16 hex digits) of every revoked card. Card ids are random and carry no personal data."""
    rows = await Card.select(Card.card_id).where(Card.state == "revoked").order_by(Card.id)
    return [r["card_id"] for r in rows]


def _chunks(rows: list, size: int) -> list[list]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
