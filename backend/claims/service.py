"""Filing claims, confirming those filed on one's behalf, and the committee's weekly review.

An approval that completes a claim posts its points in the same transaction as the state change: the item's
value in force on the deed's day, from the community's issuer to the claimant's account, once (idempotency key
`claim:<id>`, and the claim row is locked while it is decided), within the item's per-person caps."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from backend.accounts.service import issuer_of
from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.catalog import rules as catalog_rules
from backend.catalog import service as catalog
from backend.catalog.tables import Category
from backend.claims import photos, rules
from backend.claims.tables import Claim
from backend.clock import local_date, zone
from backend.community.tables import Node
from backend.db import atomic, engine
from backend.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.people.rules import Principal, require_scope
from backend.people.tables import Person

QUEUE_LIMIT = 200


# --- who is claiming, for whom, into which account ---------------------------------------------------------

async def _person(person_id: int) -> dict:
    row = await Person.select(Person.id, Person.name, Person.community, Person.is_building_lead,
                              Person.home.path.as_alias("home_path")).where(Person.id == person_id).first()
    if row is None:
        raise NotFound("person_not_found")
    return row


async def _me(principal: Principal) -> dict:
    if principal.person_id is None:
        raise PermissionDenied()
    return await _person(principal.person_id)


async def _accounts(person_id: int) -> list[dict]:
    return await Account.select(Account.id, Account.kind, Account.colour, Account.name, Account.community).where(
        (Account.holder == person_id) & (Account.active == True)).order_by(Account.id)  # noqa: E712


async def _leads_building(me: dict) -> str | None:
    return rules.lead_building(me["is_building_lead"], [a["colour"] for a in await _accounts(me["id"])], me["home_path"])


async def neighbours(principal: Principal) -> list[dict]:
    """The residents a building lead may file claims for: the others of their building."""
    me = await _me(principal)
    building = await _leads_building(me)
    if building is None:
        return []
    return await Person.select(Person.id, Person.name, Person.home.name.as_alias("unit")).where(
        Person.home.path.like(f"{building}%") & (Person.id != me["id"])).order_by(Person.home).order_by(Person.name)


@dataclass(frozen=True)
class ClaimForm:
    person: dict
    categories: list[dict]  # the catalogue in force today, each item saying whether evidence is needed
    accounts: list[dict]
    neighbours: list[dict]


async def form(principal: Principal, today: date) -> ClaimForm:
    me = await _me(principal)
    return ClaimForm(me, await catalog.catalogue(me["community"], today), await _accounts(me["id"]), await neighbours(principal))


def _eligible(accounts: list[dict], community_id: int, colours: list[str]) -> list[dict]:
    return [a for a in accounts if a["community"] == community_id
            and catalog_rules.colour_may_earn(colours, catalog_rules.earner_colour(a["kind"], a["colour"]))]


async def submit(principal: Principal, *, item_id: int, deed_date: date, description: str, witnesses: str,
                 photo: bytes | None, submission_key: str, now: datetime, for_person: int | None = None,
                 account_id: int | None = None) -> int:
    """File a claim; returns its id (the same id again for a repeated submission_key). A building lead filing for a
    neighbour leaves the claim waiting for the neighbour's confirmation before it reaches the review queue."""
    me = await _me(principal)
    if not submission_key or len(submission_key) > 64:
        raise InvalidInput("invalid")
    earlier = await Claim.select(Claim.id, Claim.submitted_by).where(Claim.submission_key == submission_key).first()
    if earlier is not None:
        if earlier["submitted_by"] != principal.user_id:
            raise InvalidInput("invalid")
        return earlier["id"]
    claimant = me
    if for_person is not None and for_person != me["id"]:
        claimant = await _person(for_person)
        if not rules.may_file_for(await _leads_building(me), claimant["home_path"]):
            raise PermissionDenied("not_your_building")
    today = local_date(now)
    item = await catalog.item_detail(item_id)
    if not item["active"] or item["community"] != claimant["community"]:
        raise InvalidInput("unknown_item", field="item")
    rules.check_deed_date(deed_date, today)
    rules.check_text(description, witnesses)
    rules.check_evidence(item["needs_evidence"], photo is not None)
    in_force = await catalog.item_on(item_id, deed_date)
    eligible = _eligible(await _accounts(claimant["id"]), claimant["community"], in_force.colours)
    if account_id is not None:
        eligible = [a for a in eligible if a["id"] == account_id]
    if not eligible:
        raise Conflict("colour_not_eligible")
    account = eligible[0]["id"]
    # the caps are judged for good at approval; saying so now spares a claim that cannot be approved
    catalog_rules.check_caps(in_force.caps, await catalog.award_days(item_id, account, claimant["id"], deed_date.year), deed_date)
    stored = None
    if photo is not None:
        stored = await asyncio.to_thread(lambda: photos.store(photos.reencode(photo)))
    on_behalf = claimant["id"] != me["id"]
    try:
        async with atomic():
            claim_id = (await Claim.insert(Claim(
                community=claimant["community"], item=item_id, person=claimant["id"], account=account,
                submitted_by=principal.user_id, deed_date=deed_date, description=description.strip(),
                witnesses=witnesses.strip(), photo=stored, state="pending", needs_confirmation=on_behalf,
                submitted_at=now, submission_key=submission_key)))[0]["id"]
    except Exception:
        if stored:
            photos.remove(stored)
        again = await Claim.select(Claim.id).where(Claim.submission_key == submission_key).first()
        if again is not None:  # the same form sent twice at once: the other request filed it
            return again["id"]
        raise
    return claim_id


# --- the claimant's side ---------------------------------------------------------------------------------------

def _columns():
    return (Claim.all_columns(), Claim.item.name.as_alias("item_name"), Claim.item.category.name.as_alias("category"),
            Claim.item.category.id.as_alias("category_id"), Claim.person.name.as_alias("person_name"),
            Claim.person.home.path.as_alias("home_path"), Claim.community.path.as_alias("community_path"),
            Claim.community.name.as_alias("community_name"), Claim.submitted_by.display_name.as_alias("submitted_by_name"),
            Claim.submitted_by.person.as_alias("submitted_by_person"), Claim.reviewer.display_name.as_alias("reviewer_name"),
            Claim.first_reviewer.display_name.as_alias("first_reviewer_name"))


async def _with_values(rows: list[dict]) -> list[dict]:
    """The points each claim is worth: the value in force on its deed's day (fixed once approved)."""
    values = await catalog.values_on([(r["item"], r["deed_date"]) for r in rows if r["points"] is None])
    for r in rows:
        if r["points"] is None:
            r["points"] = values[(r["item"], r["deed_date"])]
        r["two_reviewers"] = r["points"] is not None and rules.needs_two_reviewers(r["points"])
        r["awaiting_confirmation"] = r["needs_confirmation"] and r["confirmed_at"] is None
        r["on_behalf"] = r["submitted_by_person"] != r["person"]
    return rows


async def my_claims(principal: Principal) -> list[dict]:
    """The resident's claims and those they filed for neighbours, newest first."""
    me = await _me(principal)
    rows = await Claim.select(*_columns()).where((Claim.person == me["id"]) | (Claim.submitted_by == principal.user_id)).order_by(
        Claim.submitted_at, ascending=False).order_by(Claim.id, ascending=False).limit(100)
    return await _with_values(rows)


async def _answer(principal: Principal, claim_id: int, to_state: str, now: datetime) -> None:
    me = await _me(principal)
    changes = {Claim.confirmed_at: now} if to_state == "pending" else {Claim.state: "declined", Claim.reviewed_at: now}
    done = await Claim.update(changes).where(
        (Claim.id == claim_id) & (Claim.person == me["id"]) & (Claim.needs_confirmation == True)  # noqa: E712
        & Claim.confirmed_at.is_null() & (Claim.state == "pending")).returning(Claim.id)
    if not done:
        raise Conflict("nothing_to_confirm")


async def confirm(principal: Principal, claim_id: int, now: datetime) -> None:
    """The resident says the claim a building lead filed for them is right: it goes to the review queue."""
    await _answer(principal, claim_id, "pending", now)


async def decline(principal: Principal, claim_id: int, now: datetime) -> None:
    await _answer(principal, claim_id, "declined", now)


async def claim(claim_id: int) -> dict:
    row = await Claim.select(*_columns()).where(Claim.id == claim_id).first()
    if row is None:
        raise NotFound("claim_not_found")
    return row


async def photo(principal: Principal, claim_id: int):
    """The evidence photo's file, for the claimant, whoever filed it, and reviewers of its community."""
    found = await claim(claim_id)
    if found["photo"] is None:
        raise NotFound("not_found")
    if not (principal.person_id == found["person"] or principal.user_id == found["submitted_by"]
            or principal.can_at("claims.review", found["community_path"])):
        raise PermissionDenied()
    path = photos.path_of(found["photo"])
    if not path.exists():
        raise NotFound("not_found")
    return path


# --- the weekly review ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Queue:
    claims: list[dict]
    grids: list[dict]
    categories: list[dict]
    weeks: list[date]


def _scope(principal: Principal):
    where = None
    for path in principal.scope_paths("claims.review"):
        clause = Claim.community.path.like(f"{path}%")
        where = clause if where is None else where | clause
    return where


def _week_bounds(week: date) -> tuple[datetime, datetime]:
    start = datetime.combine(rules.week_start(week), datetime.min.time(), tzinfo=zone())
    return start, start + timedelta(days=7)


async def queue(principal: Principal, grid_id: int | None = None, category_id: int | None = None,
                week: date | None = None) -> Queue:
    """Claims waiting for a decision in the reviewer's communities, oldest first, filtered by grid, category and
    the week they were submitted in; each says whether this reviewer may decide it and what it is worth."""
    scope = _scope(principal)
    if scope is None:
        return Queue([], [], [], [])
    waiting = scope & Claim.state.is_in(list(rules.OPEN_STATES)) & (
        (Claim.needs_confirmation == False) | Claim.confirmed_at.is_not_null())  # noqa: E712
    weeks = sorted({rules.week_start(local_date(r["submitted_at"])) for r in await Claim.select(Claim.submitted_at).where(waiting)},
                   reverse=True)
    where = waiting
    if grid_id is not None:
        grid = await Node.select(Node.path).where((Node.id == grid_id) & (Node.kind == "grid")).first()
        if grid is None:
            raise NotFound("node_not_found")
        where &= Claim.person.home.path.like(f"{grid['path']}%")
    if category_id is not None:
        where &= Claim.item.category == category_id
    if week is not None:
        start, end = _week_bounds(week)
        where &= (Claim.submitted_at >= start) & (Claim.submitted_at < end)
    rows = await _with_values(await Claim.select(*_columns()).where(where).order_by(Claim.submitted_at).order_by(
        Claim.id).limit(QUEUE_LIMIT))
    places = await _place_names(rows)
    for r in rows:
        ids = [int(p) for p in r["home_path"].strip("/").split("/")]
        r["grid"] = places.get(ids[3]) if len(ids) > 3 else None
        r["building"] = places.get(ids[4]) if len(ids) > 4 else None
        r["conflict"] = rules.review_conflict(principal.user_id, principal.person_id, r["submitted_by"],
                                            r["submitted_by_person"], r["person"])
        r["approved_by_me"] = r["first_reviewer"] == principal.user_id
    return Queue(rows, await _grids(principal), await _categories(principal), weeks)


async def _place_names(rows: list[dict]) -> dict[int, str]:
    ids = {int(p) for r in rows for p in r["home_path"].strip("/").split("/")}
    return {n["id"]: n["name"] for n in await Node.select(Node.id, Node.name).where(Node.id.is_in(list(ids)))} if ids else {}


async def _grids(principal: Principal) -> list[dict]:
    scope = principal.scope_paths("claims.review")
    return [g for g in await Node.select(Node.id, Node.name, Node.path, Node.parent.name.as_alias("compound")).where(
        Node.kind == "grid").order_by(Node.id) if any(g["path"].startswith(p) for p in scope)]


async def _categories(principal: Principal) -> list[dict]:
    scope = principal.scope_paths("claims.review")
    return [c for c in await Category.select(Category.id, Category.name, Category.community.path.as_alias("path"),
                                             Category.community.name.as_alias("community_name")).order_by(
        Category.community).order_by(Category.position).order_by(Category.id) if any(c["path"].startswith(p) for p in scope)]


def _state(row: dict) -> rules.ClaimState:
    return rules.ClaimState(row["state"], row["needs_confirmation"] and row["confirmed_at"] is None, row["first_reviewer"])


async def _reviewable(principal: Principal, claim_id: int) -> dict:
    found = await claim(claim_id)
    require_scope(principal, "claims.review", found["community_path"])
    conflict = rules.review_conflict(principal.user_id, principal.person_id, found["submitted_by"],
                                     found["submitted_by_person"], found["person"])
    if conflict:
        raise PermissionDenied(conflict)
    return found


async def _locked(claim_id: int) -> dict:
    """The claim row, locked on PostgreSQL so two reviewers deciding at once take turns (SQLite's write
    transaction already does)."""
    query = Claim.select().where(Claim.id == claim_id)
    if engine().engine_type == "postgres":
        query = query.lock_rows()
    return await query.first()


async def approve(principal: Principal, claim_id: int, now: datetime, note: str = "") -> str:
    """Approve: "first" when a large claim now waits for a second reviewer, "final" when its points are posted."""
    await _reviewable(principal, claim_id)
    if len(note.strip()) > rules.MAX_REASON:
        raise InvalidInput("text_too_long", field="reason", max=rules.MAX_REASON)
    async with atomic():
        row = await _locked(claim_id)
        item = await catalog.item_on(row["item"], row["deed_date"], retired_ok=True)
        step = rules.approval_step(_state(row), principal.user_id, item.points)
        if step == "first":
            await Claim.update({Claim.state: "approved_once", Claim.first_reviewer: principal.user_id,
                                Claim.first_reviewed_at: now}).where(Claim.id == claim_id)
            await audit.log(principal.user_id, "claim.approve_first", "claim", claim_id, row["community"],
                            before={"state": row["state"]}, after={"state": "approved_once", "points": item.points})
            return step
        account = await Account.select(Account.kind, Account.colour).where(Account.id == row["account"]).first()
        if not catalog_rules.colour_may_earn(item.colours, catalog_rules.earner_colour(account["kind"], account["colour"])):
            raise Conflict("colour_not_eligible")
        await catalog.check_caps(item, row["account"], row["person"], row["deed_date"])
        issuer = await issuer_of(row["community"])
        recorded = await ledger.record(TransactionDraft(
            kind="award", memo=f"积分申报：{row['description']}"[:200], idempotency_key=f"claim:{claim_id}",
            community_id=row["community"], occurred_at=rules.deed_moment(row["deed_date"], zone()),
            postings=(PostingDraft(issuer, -item.points), PostingDraft(row["account"], item.points)),
            actor_id=principal.user_id, source_type="claim", source_ref=str(claim_id), source_label=item.label,
        ))
        await catalog.record_award(item.id, row["account"], row["person"], row["deed_date"], recorded.transaction_id, "claim")
        await Claim.update({Claim.state: "approved", Claim.reviewer: principal.user_id, Claim.reviewed_at: now,
                            Claim.points: item.points, Claim.txn: recorded.transaction_id,
                            Claim.reason: note.strip()}).where(Claim.id == claim_id)
        await audit.log(principal.user_id, "claim.approve", "claim", claim_id, row["community"],
                        before={"state": row["state"], "first_reviewer": row["first_reviewer"]},
                        after={"state": "approved", "points": item.points, "transaction": recorded.transaction_id})
    return step


async def reject(principal: Principal, claim_id: int, reason: str, now: datetime) -> None:
    await _reviewable(principal, claim_id)
    async with atomic():
        row = await _locked(claim_id)
        rules.check_rejection(_state(row), reason)
        await Claim.update({Claim.state: "rejected", Claim.reviewer: principal.user_id, Claim.reviewed_at: now,
                            Claim.reason: reason.strip()}).where(Claim.id == claim_id)
        await audit.log(principal.user_id, "claim.reject", "claim", claim_id, row["community"],
                        before={"state": row["state"]}, after={"state": "rejected", "reason": reason.strip()})


@dataclass(frozen=True)
class Decision:
    claim_id: int
    outcome: str  # approved | approved_once | rejected | refused
    reason: str | None = None  # the refusal's code
    params: dict | None = None


async def review(principal: Principal, claim_ids: list[int], decision: str, reason: str, now: datetime) -> list[Decision]:
    """The weekly batch: each selected claim decided in its own transaction, so one refusal (a cap, a claim
    someone else decided a moment ago) does not hold up the others; each says what happened."""
    if decision not in ("approve", "reject"):
        raise InvalidInput("invalid", field="decision")
    if not claim_ids:
        raise InvalidInput("nothing_selected")
    if decision == "reject" and not reason.strip():
        raise InvalidInput("reason_required", field="reason")
    decisions = []
    for claim_id in dict.fromkeys(claim_ids):
        try:
            if decision == "approve":
                step = await approve(principal, claim_id, now, reason)
                decisions.append(Decision(claim_id, "approved" if step == "final" else "approved_once"))
            else:
                await reject(principal, claim_id, reason, now)
                decisions.append(Decision(claim_id, "rejected"))
        except DomainError as exc:
            decisions.append(Decision(claim_id, "refused", exc.code, exc.params))
    return decisions



# --- confirming at the card scan: a resident without a smartphone answers at a station -----------------------

DESCRIPTION_PREVIEW = 40


async def _holder_at_station(station_id: int, card_text: str, now: datetime):
    """The card shown at the station (URL, token or number, as scanned) and the station's community: the card
    itself is the proof the resident is there, as at any scan."""
    from backend.servicecards import service as cards
    from backend.stations.tables import Station

    station = await Station.select(Station.community, Station.active).where(Station.id == station_id).first()
    if station is None or not station["active"]:
        raise PermissionDenied("device_revoked")
    card = await cards.resolve((card_text or "").strip()[:600], now)
    if card.holder_person_id is None:
        return station, card, []
    return station, card, await Claim.select(*_columns()).where(
        (Claim.person == card.holder_person_id) & (Claim.community == station["community"])
        & (Claim.needs_confirmation == True) & Claim.confirmed_at.is_null() & (Claim.state == "pending")  # noqa: E712
    ).order_by(Claim.submitted_at).order_by(Claim.id)


async def awaiting_at_station(station_id: int, card_text: str, now: datetime) -> list[dict]:
    """Claims a building lead filed for the card's holder that wait for them to confirm, with masked details only
    (the station's screen faces the room): item, deed date, the description's start, who filed it (masked)."""
    from backend.people.rules import mask_name

    _station, _card, rows = await _holder_at_station(station_id, card_text, now)
    out = []
    for r in await _with_values(rows):
        text = r["description"]
        out.append({"id": r["id"], "item": r["item_name"], "category": r["category"], "points": r["points"],
                    "deed_date": r["deed_date"].isoformat(),
                    "description": text if len(text) <= DESCRIPTION_PREVIEW else text[:DESCRIPTION_PREVIEW] + "…",
                    "filed_by": mask_name(r["submitted_by_name"])})
    return out


async def answer_at_station(station_id: int, device_id: int, claim_id: int, card_text: str, confirmed: bool,
                            now: datetime) -> str:
    """The holder taps "confirm" (the claim goes to the review queue) or "not mine" (it becomes `disputed`, which
    reviewers see: someone filed a deed the resident says they did not do). Returns the claim's new state."""
    _station, card, rows = await _holder_at_station(station_id, card_text, now)
    if claim_id not in {r["id"] for r in rows}:
        raise Conflict("nothing_to_confirm")
    changes = {Claim.confirmed_at: now} if confirmed else {Claim.state: "disputed", Claim.reviewed_at: now}
    async with atomic():
        done = await Claim.update(changes).where(
            (Claim.id == claim_id) & (Claim.person == card.holder_person_id) & (Claim.needs_confirmation == True)  # noqa: E712
            & Claim.confirmed_at.is_null() & (Claim.state == "pending")).returning(Claim.id, Claim.community)
        if not done:
            raise Conflict("nothing_to_confirm")
        await audit.log(None, "claim.confirm_at_station" if confirmed else "claim.dispute_at_station", "claim", claim_id,
                        done[0]["community"], after={"station": station_id, "device": device_id, "card": card.card_number[-4:],
                                                     "state": "pending" if confirmed else "disputed"})
    return "pending" if confirmed else "disputed"


async def disputed(principal: Principal, limit: int = 50) -> list[dict]:
    """Claims filed on someone's behalf that the resident said, at a station, were not theirs: for reviewers to
    take up with the building lead who filed them. Latest first."""
    scope = _scope(principal)
    if scope is None:
        return []
    return await _with_values(await Claim.select(*_columns()).where(scope & (Claim.state == "disputed")).order_by(
        Claim.reviewed_at, ascending=False).limit(limit))
