"""Events: creating and cancelling them, sign-ups, check-in and check-out (called by the scan modes in
events/scans.py, inside the scan's transaction), the automatic check-out at the end, and the roster.

Points are written at check-out: hours × the event's points per hour, or the catalogue item's value in force
on the event's day. Awarding at check-out rather than check-in means a volunteer who scans in and walks away
earns nothing until the event ends; one who forgets to scan out is checked out automatically at the end
(`close_event`) and credited up to the end, marked "automatic" on the roster so staff can see it and reverse.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from backend.accounts.service import issuer_of
from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.catalog import service as catalog
from backend.catalog.tables import Item
from backend.clock import local_date, zone
from backend.community.tables import Node
from backend.db import atomic, engine
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.events import rules
from backend.events.tables import Attendance, Event, Signup
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.people.rules import Principal, require_scope
from backend.people.tables import Person

# the staff list shows events that ended this recently
RECENT = timedelta(days=60)


def _columns():
    return (Event.all_columns(), Event.community.path.as_alias("community_path"),
            Event.community.name.as_alias("community_name"), Event.item.name.as_alias("item_name"))


def _rule(event: dict) -> rules.EventRule:
    return rules.EventRule(event["starts_at"], event["ends_at"], event["capacity"], event["cancelled"])


async def event(event_id: int) -> dict:
    row = await Event.select(*_columns()).where(Event.id == event_id).first()
    if row is None:
        raise NotFound("event_not_found")
    return row


async def _locked(event_id: int) -> dict | None:
    """The event row, locked on PostgreSQL so concurrent check-ins count places one at a time
    (SQLite's write transaction already serialises them)."""
    query = Event.select().where(Event.id == event_id)
    if engine().engine_type == "postgres":
        query = query.lock_rows()
    return await query.first()


# --- staff: create, cancel, list ------------------------------------------------------------------------

async def create_event(principal: Principal, community_id: int, title: str, place: str, starts_at: datetime,
                       ends_at: datetime, capacity: int | None = None, points_per_hour: int | None = None,
                       item_id: int | None = None) -> int:
    node = await Node.select(Node.path, Node.kind).where(Node.id == community_id).first()
    if node is None or node["kind"] != "community":
        raise InvalidInput("community_required", field="community")
    require_scope(principal, "events.manage", node["path"])
    rules.check_event(title, place, starts_at, ends_at, capacity, points_per_hour, item_id)
    if item_id is not None:
        item = await Item.select(Item.active, Item.category.community.as_alias("community")).where(Item.id == item_id).first()
        if item is None or not item["active"] or item["community"] != community_id:
            raise InvalidInput("unknown_item", field="item")
        # refuse now rather than at every check-out: the item must have a value on the event's day
        await catalog.item_on(item_id, local_date(starts_at))
    async with atomic():
        event_id = (await Event.insert(Event(
            community=community_id, title=title.strip(), place=place.strip(), starts_at=starts_at, ends_at=ends_at,
            capacity=capacity, item=item_id, points_per_hour=points_per_hour, created_by=principal.user_id,
        )))[0]["id"]
        await audit.log(principal.user_id, "event.create", "event", event_id, community_id, after={
            "title": title.strip(), "place": place.strip(), "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(), "capacity": capacity, "points_per_hour": points_per_hour, "item": item_id})
    return event_id


async def cancel_event(principal: Principal, event_id: int) -> None:
    found = await event(event_id)
    require_scope(principal, "events.manage", found["community_path"])
    async with atomic():
        problem = rules.cancel_refusal(_rule(await _locked(event_id)), await Attendance.count().where(Attendance.event == event_id))
        if problem:
            raise Conflict(problem)
        await Event.update({Event.cancelled: True}).where(Event.id == event_id)
        await audit.log(principal.user_id, "event.cancel", "event", event_id, found["community"],
                        before={"cancelled": False}, after={"cancelled": True})


async def _counts(event_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per event: sign-ups, people who came, people checked in right now."""
    counts = {i: {"signups": 0, "attendees": 0, "present": 0} for i in event_ids}
    if not event_ids:
        return counts
    for r in await Signup.select(Signup.event).where(Signup.event.is_in(event_ids)):
        counts[r["event"]]["signups"] += 1
    seen: set[tuple[int, object]] = set()
    for r in await Attendance.select(Attendance.event, Attendance.account, Attendance.person, Attendance.checked_out_at).where(
            Attendance.event.is_in(event_ids)):
        who = (r["event"], _who(r["person"], r["account"]))
        if who not in seen:
            seen.add(who)
            counts[r["event"]]["attendees"] += 1
        if r["checked_out_at"] is None:
            counts[r["event"]]["present"] += 1
    return counts


def _who(person_id: int | None, account_id: int) -> object:
    """One place per person; an organisation's card counts by its account."""
    return person_id if person_id is not None else ("account", account_id)


async def _with_counts(rows: list[dict]) -> list[dict]:
    counts = await _counts([r["id"] for r in rows])
    return [r | counts[r["id"]] for r in rows]


async def events_in(scope_paths: list[str], now: datetime) -> tuple[list[dict], list[dict]]:
    """(upcoming and ongoing, soonest first; recently ended, latest first) in the given parts of the tree."""
    where = None
    for path in scope_paths:
        clause = Event.community.path.like(f"{path}%")
        where = clause if where is None else where | clause
    if where is None:
        return [], []
    upcoming = await Event.select(*_columns()).where(where & (Event.ends_at > now)).order_by(Event.starts_at).order_by(Event.id)
    past = await Event.select(*_columns()).where(where & (Event.ends_at <= now) & (Event.ends_at > now - RECENT)).order_by(
        Event.starts_at, ascending=False).order_by(Event.id, ascending=False)
    return await _with_counts(upcoming), await _with_counts(past)


async def form_choices(principal: Principal, day: datetime) -> tuple[list[dict], list[dict]]:
    """The communities the user may create events in, and the catalogue items in force there today."""
    scope = principal.scope_paths("events.manage")
    communities = [c for c in await Node.select(Node.id, Node.name, Node.path).where(Node.kind == "community").order_by(Node.id)
                   if any(c["path"].startswith(p) for p in scope)]
    ids = [c["id"] for c in communities]
    rows = await Item.select(Item.id, Item.category.community.as_alias("community")).where(
        Item.category.community.is_in(ids) & (Item.active == True)).order_by(Item.id) if ids else []  # noqa: E712
    names = {c["id"]: c["name"] for c in communities}
    community_of = {r["id"]: r["community"] for r in rows}
    items = [{"id": i.id, "label": i.label, "community": community_of[i.id], "community_name": names[community_of[i.id]]}
             for i in await catalog.items_in_force(list(community_of), local_date(day))]
    return communities, items


# --- the roster and the automatic check-out ---------------------------------------------------------------

@dataclass(frozen=True)
class Roster:
    event: dict
    signed_up: list[dict]  # name, signed up at, whether they came
    present: list[dict]  # checked in now
    done: list[dict]  # checked out: hours and points
    no_shows: list[dict]  # signed up, never came (only once the event is over)
    over: bool


async def roster(principal: Principal, event_id: int, now: datetime) -> Roster:
    """Who signed up, who is in, who has left with how many points. Viewing it after the end closes the
    stays still open (the automatic check-out), so the roster is final."""
    found = await event(event_id)
    require_scope(principal, "events.manage", found["community_path"])
    over = now >= found["ends_at"]
    if over:
        await close_event(event_id, now)
    stays = await Attendance.select(
        Attendance.all_columns(), Attendance.account.name.as_alias("account_name"), Attendance.person.name.as_alias("name"),
    ).where(Attendance.event == event_id).order_by(Attendance.checked_in_at).order_by(Attendance.id)
    for s in stays:
        s["name"] = s["name"] or s["account_name"]
        s["hours"] = rules.hours_text(s["minutes"]) if s["minutes"] is not None else None
    came = {s["person"] for s in stays if s["person"] is not None}
    signups = await Signup.select(Signup.person, Signup.created_at, Signup.person.name.as_alias("name")).where(
        Signup.event == event_id).order_by(Signup.created_at).order_by(Signup.id)
    for s in signups:
        s["came"] = s["person"] in came
    return Roster(
        event=found, signed_up=signups, present=[s for s in stays if s["checked_out_at"] is None],
        done=[s for s in stays if s["checked_out_at"] is not None],
        no_shows=[s for s in signups if not s["came"]] if over else [], over=over,
    )


async def close_event(event_id: int, now: datetime) -> int:
    """Check out, at the event's end, everyone still checked in once it is over; return how many.
    Safe to run any number of times and concurrently: a stay is closed by a conditional update, once."""
    found = await Event.select().where(Event.id == event_id).first()
    if found is None or now < found["ends_at"]:
        return 0
    closed = 0
    async with atomic():
        for stay in await Attendance.select().where((Attendance.event == event_id) & Attendance.checked_out_at.is_null()):
            if await _check_out(found, stay, found["ends_at"], auto=True, key=f"event-close:{stay['id']}",
                                source=("event", str(event_id))) is not None:
                closed += 1
    return closed


async def close_ended(now: datetime) -> tuple[int, int]:
    """Close every event that is over and still has people checked in: (events, stays closed)."""
    open_events = {r["event"] for r in await Attendance.select(Attendance.event).where(
        Attendance.checked_out_at.is_null() & (Attendance.event.ends_at <= now))}
    stays = 0
    for event_id in sorted(open_events):
        stays += await close_event(event_id, now)
    return len(open_events), stays


# --- check-in and check-out (inside the scan's transaction) ---------------------------------------------

@dataclass(frozen=True)
class StayResult:
    attendance_id: int
    title: str
    minutes: int | None = None
    points: int = 0
    txn_id: int | None = None
    balance: int | None = None
    # the catalogue item's per-person cap that left the stay without points: {"reason": code, "limit": n}
    capped: dict | None = None

    @property
    def hours(self) -> float:
        return rules.half_hours(self.minutes or 0) / 2


async def _event_here(event_id: object, community_id: int) -> dict:
    if type(event_id) is not int:  # bool is an int in Python; True is not event 1
        raise InvalidInput("event_required", field="event_id")
    found = await _locked(event_id)
    if found is None:
        raise NotFound("event_not_found")
    if found["community"] != community_id:
        raise Conflict("event_elsewhere")
    return found


async def _open_stay(event_id: int, account_id: int) -> dict | None:
    return await Attendance.select().where((Attendance.event == event_id) & (Attendance.account == account_id)
                                           & Attendance.checked_out_at.is_null()).first()


async def check_in(event_id: object, station_community: int, account_id: int, person_id: int | None, at: datetime,
                   scan_id: UUID) -> StayResult:
    """Open a stay at `at` (the time of the scan, which may have been made offline), or raise Conflict."""
    found = await _event_here(event_id, station_community)
    stays = await Attendance.select(Attendance.account, Attendance.person, Attendance.checked_out_at).where(
        Attendance.event == found["id"])
    me = _who(person_id, account_id)
    mine = [s for s in stays if _who(s["person"], s["account"]) == me]
    problem = rules.checkin_refusal(
        _rule(found), at, open_stay=any(s["checked_out_at"] is None for s in mine),
        last_checkout=max((s["checked_out_at"] for s in mine), default=None),
        attendees=len({_who(s["person"], s["account"]) for s in stays}), counted=bool(mine))
    if problem == "outside_event_hours":
        raise Conflict(problem, opens=_local_text(found["starts_at"] - rules.CHECKIN_OPENS), closes=_local_text(found["ends_at"]))
    if problem:
        raise Conflict(problem)
    stay_id = (await Attendance.insert(Attendance(event=found["id"], account=account_id, person=person_id,
                                                  checked_in_at=at, checkin_scan=scan_id)))[0]["id"]
    return StayResult(stay_id, found["title"], balance=await ledger.balance(account_id))


def _local_text(moment: datetime) -> str:
    return moment.astimezone(zone()).strftime("%Y-%m-%d %H:%M")


async def check_out(event_id: object, station_community: int, account_id: int, at: datetime, key: str,
                    scan_id: UUID) -> StayResult:
    """Close the holder's open stay at `at` and write the points it earned, or raise Conflict."""
    found = await _event_here(event_id, station_community)
    stay = await _open_stay(found["id"], account_id)
    has_stayed = stay is not None or await Attendance.exists().where(
        (Attendance.event == found["id"]) & (Attendance.account == account_id))
    problem = rules.checkout_refusal(stay is not None, has_stayed)
    if problem:
        raise Conflict(problem)
    result = await _check_out(found, stay, at, auto=False, key=key, source=("scan", str(scan_id)))
    if result is None:  # closed by the automatic check-out a moment ago
        raise Conflict("already_checked_out")
    return result


async def _check_out(found: dict, stay: dict, at: datetime, *, auto: bool, key: str, source: tuple[str, str]) -> StayResult | None:
    """Close one stay and record its points. None if someone else closed it first."""
    minutes = rules.minutes_served(stay["checked_in_at"], at, found["starts_at"], found["ends_at"])
    taken = await Attendance.update({Attendance.checked_out_at: at, Attendance.minutes: minutes,
                                     Attendance.auto_checked_out: auto}).where(
        (Attendance.id == stay["id"]) & Attendance.checked_out_at.is_null()).returning(Attendance.id)
    if not taken:
        return None
    draft = await _points_draft(found, stay["account"], minutes, at, auto, key, source)
    capped = await _cap_refusal(found, stay["account"]) if draft is not None else None
    if draft is None or capped is not None:  # the hours stay recorded; the item's cap leaves out its points
        return StayResult(stay["id"], found["title"], minutes, balance=await ledger.balance(stay["account"]), capped=capped)
    recorded = await ledger.record(draft)
    if found["points_per_hour"] is None and recorded.created:  # counted by the item's caps like any award
        holder = await Account.select(Account.holder).where(Account.id == stay["account"]).first()
        await catalog.record_award(found["item"], stay["account"], holder["holder"] if holder else None,
                                   local_date(found["starts_at"]), recorded.transaction_id, "event")
    points = draft.postings[1].amount
    await Attendance.update({Attendance.points: points, Attendance.txn: recorded.transaction_id}).where(Attendance.id == stay["id"])
    return StayResult(stay["id"], found["title"], minutes, points, recorded.transaction_id,
                      recorded.balances.get(stay["account"]) if recorded.created else await ledger.balance(stay["account"]))


async def _points_draft(found: dict, account_id: int, minutes: int, at: datetime, auto: bool, key: str,
                        source: tuple[str, str]) -> TransactionDraft | None:
    """The ledger transaction for a stay: issuer -> holder, saying which event and how long. None for 0 points."""
    hours = rules.hours_text(minutes)
    if found["points_per_hour"] is not None:
        kind, points = "hours", rules.hours_points(minutes, found["points_per_hour"])
        memo = f"志愿时长转化积分：{hours}小时 × {found['points_per_hour']}分/小时"
    else:
        item = await catalog.item_on(found["item"], local_date(found["starts_at"]))
        kind, points = "award", item.points if rules.earns_item(minutes) else 0
        memo = item.label
    if points <= 0:
        return None
    issuer = await issuer_of(found["community"])
    return TransactionDraft(
        kind=kind, memo=memo, idempotency_key=key, community_id=found["community"], occurred_at=at,
        postings=(PostingDraft(issuer, -points), PostingDraft(account_id, points)),
        source_type=source[0], source_ref=source[1],
        source_label=f"志愿服务 · {found['title']}（{hours}小时{'，自动签退' if auto else ''}）",
    )


async def _cap_refusal(found: dict, account_id: int) -> dict | None:
    """An event that awards a catalogue item respects the item's per-person caps per day, month and year, as the
    award scan and claims do (counted on the event's day, like its value): None when the award fits."""
    if found["points_per_hour"] is not None:
        return None
    day = local_date(found["starts_at"])
    holder = await Account.select(Account.holder).where(Account.id == account_id).first()
    try:
        await catalog.check_caps(await catalog.item_on(found["item"], day), account_id, holder["holder"] if holder else None, day)
    except Conflict as exc:
        return {"reason": exc.code, **{k: v for k, v in exc.params.items() if isinstance(v, (int, str))}}
    return None


async def undo_check_in(attendance_id: int) -> None:
    """Forget a check-in made by mistake, unless the stay has been closed since."""
    gone = await Attendance.delete().where((Attendance.id == attendance_id) & Attendance.checked_out_at.is_null()).returning(
        Attendance.id)
    if not gone:
        raise Conflict("already_checked_out")


async def undo_check_out(attendance_id: int) -> None:
    """Reopen a stay whose check-out is undone; the scan core reverses its points."""
    stay = await Attendance.select().where(Attendance.id == attendance_id).first()
    if stay is None:
        raise NotFound("event_not_found")
    if await _open_stay(stay["event"], stay["account"]) is not None:
        raise Conflict("already_checked_in")
    await Attendance.update({Attendance.checked_out_at: None, Attendance.minutes: None, Attendance.points: 0,
                             Attendance.txn: None, Attendance.auto_checked_out: False}).where(Attendance.id == attendance_id)


async def station_events(community_id: int, now: datetime) -> list[dict]:
    """Today's and ongoing events of a community, for the station's check-in screen."""
    day = local_date(now)
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=zone())
    day_end = day_start + timedelta(days=1)
    rows = await Event.select(Event.id, Event.title, Event.place, Event.starts_at, Event.ends_at, Event.capacity).where(
        (Event.community == community_id) & (Event.cancelled == False) & (Event.starts_at < day_end)  # noqa: E712
        & (Event.ends_at > day_start)).order_by(Event.starts_at).order_by(Event.id)
    counts = await _counts([r["id"] for r in rows])
    return [{"id": r["id"], "title": r["title"], "place": r["place"], "starts_at": r["starts_at"].isoformat(),
             "ends_at": r["ends_at"].isoformat(), "capacity": r["capacity"], "checked_in": counts[r["id"]]["present"]}
            for r in rows]


# --- residents: sign up, withdraw, their events -----------------------------------------------------------

async def _person(principal: Principal) -> dict:
    if principal.person_id is None:
        raise PermissionDenied()
    return await Person.select(Person.id, Person.community).where(Person.id == principal.person_id).first()


async def _resident_event(principal: Principal, event_id: int) -> tuple[dict, dict]:
    person = await _person(principal)
    found = await event(event_id)
    if found["community"] != person["community"]:
        raise NotFound("event_not_found")
    return person, found


async def upcoming_for(principal: Principal, now: datetime) -> list[dict]:
    """Events of the resident's community not over yet, soonest first, each saying whether they signed up."""
    person = await _person(principal)
    rows = await Event.select(*_columns()).where((Event.community == person["community"]) & (Event.ends_at > now)
                                                 & (Event.cancelled == False)).order_by(Event.starts_at).order_by(Event.id)  # noqa: E712
    mine = {r["event"] for r in await Signup.select(Signup.event).where(Signup.person == person["id"])}
    return [r | {"signed_up": r["id"] in mine} for r in await _with_counts(await _item_points(rows))]


async def _item_points(rows: list[dict]) -> list[dict]:
    """The points an item event gives, at the value in force on its day."""
    for r in rows:
        r["item_points"] = None
        if r["item"] is not None:
            found = await catalog.items_in_force([r["item"]], local_date(r["starts_at"]))
            r["item_points"] = found[0].points if found else None
    return rows


async def event_for(principal: Principal, event_id: int, now: datetime) -> dict:
    person, found = await _resident_event(principal, event_id)
    signed_up = await Signup.exists().where((Signup.event == event_id) & (Signup.person == person["id"]))
    return (await _with_counts(await _item_points([found])))[0] | {"signed_up": signed_up}


async def my_events(principal: Principal) -> list[dict]:
    """The resident's stays, latest first: hours and points."""
    person = await _person(principal)
    rows = await Attendance.select(
        Attendance.all_columns(), Attendance.event.title.as_alias("title"), Attendance.event.place.as_alias("place"),
        Attendance.event.starts_at.as_alias("starts_at"),
    ).where(Attendance.person == person["id"]).order_by(Attendance.checked_in_at, ascending=False).order_by(Attendance.id, ascending=False)
    for r in rows:
        r["hours"] = rules.hours_text(r["minutes"]) if r["minutes"] is not None else None
    return rows


async def sign_up(principal: Principal, event_id: int, now: datetime) -> bool:
    """Put the resident on the list; False if they were on it already."""
    person, _found = await _resident_event(principal, event_id)
    async with atomic():
        found = await _locked(event_id)
        if await Signup.exists().where((Signup.event == event_id) & (Signup.person == person["id"])):
            return False
        problem = rules.signup_refusal(_rule(found), now, await Signup.count().where(Signup.event == event_id))
        if problem:
            raise Conflict(problem)
        await Signup.insert(Signup(event=event_id, person=person["id"], created_at=now))
    return True


async def withdraw(principal: Principal, event_id: int, now: datetime) -> None:
    person, found = await _resident_event(principal, event_id)
    problem = rules.withdraw_refusal(_rule(found), now)
    if problem:
        raise Conflict(problem)
    await Signup.delete().where((Signup.event == event_id) & (Signup.person == person["id"]))
