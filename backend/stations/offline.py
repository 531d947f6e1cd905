"""What a station keeps to judge scans by itself while the network is down (ARCHITECTURE.md "Offline").

One document, fetched by the paired device while online and cached on it: the station config (modes, award items
with their values and colours, today's events, goods or offers with prices), the public card keys, the revoked card
ids, today's rosters, and the cards the station knows (seen here recently, or on a roster) with their last-known
balance. The device judges offline from this alone; the server judges every replayed scan again (backend/scans).
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta

from piccolo.query.functions.aggregate import Sum

import cards
from backend.clock import local_date, zone
from backend.events.tables import Attendance, Signup
from backend.people.rules import mask_name
from backend.scans import service as scans
from backend.scans.tables import Scan
from backend.servicecards import rules as card_rules
from backend.servicecards import service as servicecards
from backend.servicecards.tables import Card

# a card seen at this station within this long is one its holder will likely bring back
SEEN_WITHIN = timedelta(days=30)
# a bound on what one device carries (and on the document's size): the most recently seen first
MAX_SEEN_CARDS = 5000


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


async def offline_data(station_id: int, now: datetime) -> dict:
    config = await scans.station_config(station_id, now)
    events = config.get("events", [])
    roster = await _rosters([e["id"] for e in events])
    seen = await _seen_accounts(station_id, now)
    persons = {p for r in roster.values() for p in r["persons"]}
    accounts = set(seen) | {a for r in roster.values() for a in r["accounts"]}
    known = await _cards_of(accounts, persons, now)
    spent = await _spent_offline_today(station_id, now)
    for entry in known.values():
        # the server's offline limit counts an account's offline spending at this station in a day
        # (backend/scans/offline.py, rule 4): the device adds what it spent since to this
        entry["offline_spent_today"] = spent.get(entry["account"], 0)
    by_account: dict[int, list[str]] = {}
    by_person: dict[int, list[str]] = {}
    for card_id, entry in known.items():
        by_account.setdefault(entry["account"], []).append(card_id)
        person = entry.pop("person")  # only to find the roster's cards: the device needs no person ids
        if person is not None:
            by_person.setdefault(person, []).append(card_id)

    def card_ids(persons_: set[int], accounts_: set[int]) -> list[str]:
        ids = {c for p in persons_ for c in by_person.get(p, [])} | {c for a in accounts_ for c in by_account.get(a, [])}
        return sorted(ids)

    return {
        "server_time": now.isoformat(),
        "station": config["station"],
        "offline_limit": config["station"]["offline_limit"],
        "config": config,
        "keys": [{"key_id": k, "public_key": _b64url(raw)} for k, raw in sorted((await servicecards.public_keys()).items())],
        "revoked": await servicecards.revocation_list(),
        "rosters": {str(event_id): {
            "signed_up": card_ids(r["signed_up"], set()),
            "checked_in": card_ids(r["open_persons"], r["open_accounts"]),
            "checked_out": card_ids(r["left_persons"], r["left_accounts"]),
        } for event_id, r in roster.items()},
        "cards": known,
    }


async def _rosters(event_ids: list[int]) -> dict[int, dict]:
    """Per event: who signed up, who is in now (an open stay), who has been and left. People by person id, an
    organisation's card by its account (check-in counts one place per person, events/service.py _who)."""
    out = {e: {"signed_up": set(), "open_persons": set(), "open_accounts": set(), "left_persons": set(),
               "left_accounts": set(), "persons": set(), "accounts": set()} for e in event_ids}
    if not event_ids:
        return out
    for row in await Signup.select(Signup.event, Signup.person).where(Signup.event.is_in(event_ids)):
        out[row["event"]]["signed_up"].add(row["person"])
        out[row["event"]]["persons"].add(row["person"])
    stays = await Attendance.select(Attendance.event, Attendance.account, Attendance.person,
                                    Attendance.checked_out_at).where(Attendance.event.is_in(event_ids))
    for row in stays:
        entry = out[row["event"]]
        where = "open" if row["checked_out_at"] is None else "left"
        if row["person"] is not None:
            entry[f"{where}_persons"].add(row["person"])
            entry["persons"].add(row["person"])
        else:
            entry[f"{where}_accounts"].add(row["account"])
            entry["accounts"].add(row["account"])
    for entry in out.values():
        # left and came back: in now
        entry["left_persons"] -= entry["open_persons"]
        entry["left_accounts"] -= entry["open_accounts"]
    return out


async def _seen_accounts(station_id: int, now: datetime) -> list[int]:
    rows = await Scan.select(Scan.account).where(
        (Scan.station == station_id) & (Scan.received_at >= now - SEEN_WITHIN) & Scan.account.is_not_null()
    ).order_by(Scan.id, ascending=False).limit(MAX_SEEN_CARDS * 4)
    seen: list[int] = []
    for row in rows:
        if row["account"] not in seen:
            seen.append(row["account"])
        if len(seen) >= MAX_SEEN_CARDS:
            break
    return seen


async def _spent_offline_today(station_id: int, now: datetime) -> dict[int, int]:
    day_start = datetime.combine(local_date(now), datetime.min.time(), tzinfo=zone())
    rows = await Scan.select(Scan.account, Sum(Scan.points).as_alias("points")).where(
        (Scan.station == station_id) & (Scan.offline == True) & (Scan.accepted == True)  # noqa: E712
        & (Scan.points < 0) & (Scan.scanned_at >= day_start) & Scan.undone_at.is_null()
    ).group_by(Scan.account)
    return {r["account"]: -int(r["points"] or 0) for r in rows if r["account"] is not None}


async def _cards_of(accounts: set[int], persons: set[int], now: datetime) -> dict[str, dict]:
    """The active cards of these accounts and of these people's accounts, by card id, with what the station needs
    offline: the number (a typed number is only accepted offline for a known card), masked holder, colour (award
    items' colours), and the account's balance as of now."""
    if not accounts and not persons:
        return {}
    where = Card.state == "active"
    who = None
    if accounts:
        who = Card.account.is_in(sorted(accounts))
    if persons:
        by_person = Card.account.holder.is_in(sorted(persons))
        who = by_person if who is None else (who | by_person)
    rows = await Card.select(
        Card.card_id, Card.serial, Card.account, Card.pin_hash, Card.account.kind.as_alias("kind"),
        Card.account.colour.as_alias("colour"), Card.account.balance.as_alias("balance"),
        Card.account.holder.as_alias("person"), Card.account.holder.name.as_alias("holder_name"),
        Card.account.name.as_alias("account_name"),
    ).where(where & who)
    stamp = now.isoformat()
    return {r["card_id"]: {
        "number": cards.card_number_from_serial(r["serial"]),
        "account": r["account"],
        "colour": card_rules.card_colour(r["kind"], r["colour"]),
        "holder": mask_name(r["holder_name"] or r["account_name"]),
        "balance": r["balance"],
        "balance_at": stamp,
        "has_pin": r["pin_hash"] is not None,
        "person": r["person"],
    } for r in rows}
