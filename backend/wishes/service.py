"""Micro-wishes on the database: posting (by the resident, or by staff for a resident without a smartphone), taking
from the volunteers' board, dispatching by staff, acknowledging and replying, completing, and the resident's
confirmation with a rating; the boards and the overdue list read the "2341" clocks of backend/wishes/rules.py.

Every step is one transaction that locks the wish row, checks the move with `rules.next_state`, writes the new state,
one timeline row (`WishStep`) and one audit entry. Confirming posts the helper's points in the same transaction: the
catalogue item of the wish's kind (`WishKindItem`), at its value in force on the day the wish was completed, from the
community's issuer to the helper's account, once (idempotency key `wish:<id>`), within the item's per-person caps
(shared with award scans and claims). When no points can be posted (no item for the kind, no eligible account, a cap
reached) the confirmation still stands and the timeline says why."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from backend.accounts.service import issuer_of
from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.catalog import rules as catalog_rules
from backend.catalog import service as catalog
from backend.catalog.tables import Item
from backend.clock import local_date, zone
from backend.community.tables import Node
from backend.db import atomic, engine
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.people.rules import Principal, require_scope
from backend.people.tables import Person
from backend.wishes import rules
from backend.wishes.rules import ASSIGNEE, RESIDENT, STAFF, VOLUNTEER
from backend.wishes.tables import Wish, WishKindItem, WishStep, WishTeam, WishTeamMember, WorkCalendarDay

BOARD_LIMIT = 200
SEARCH_LIMIT = 20
# what a resident's own pages act as, and what the staff desk acts as (one person can be both)
AS_RESIDENT = frozenset({RESIDENT, ASSIGNEE, VOLUNTEER})
AS_STAFF = frozenset({STAFF})


# --- people and places --------------------------------------------------------------------------------------

async def _person(person_id: int) -> dict:
    row = await Person.select(Person.id, Person.name, Person.community, Person.home,
                              Person.home.path.as_alias("home_path"),
                              Person.community.path.as_alias("community_path")).where(Person.id == person_id).first()
    if row is None:
        raise NotFound("person_not_found")
    return row


async def _me(principal: Principal) -> dict:
    if principal.person_id is None:
        raise PermissionDenied()
    return await _person(principal.person_id)


async def _my_teams(person_id: int | None) -> list[int]:
    if person_id is None:
        return []
    return [r["team"] for r in await WishTeamMember.select(WishTeamMember.team).where(WishTeamMember.person == person_id)]


async def calendar() -> rules.WorkCalendar:
    rows = await WorkCalendarDay.select(WorkCalendarDay.day, WorkCalendarDay.working)
    return rules.WorkCalendar(holidays=frozenset(r["day"] for r in rows if not r["working"]),
                              workdays=frozenset(r["day"] for r in rows if r["working"]))


# --- reading wishes ---------------------------------------------------------------------------------------------

def _columns():
    return (Wish.all_columns(), Wish.community.path.as_alias("community_path"),
            Wish.community.name.as_alias("community_name"), Wish.home.path.as_alias("home_path"),
            Wish.for_person.name.as_alias("for_name"), Wish.posted_by.display_name.as_alias("posted_by_name"),
            Wish.posted_by.person.as_alias("posted_by_person"), Wish.assignee.name.as_alias("assignee_name"),
            Wish.team.name.as_alias("team_name"), Wish.completed_by.name.as_alias("completed_by_name"))


async def _steps(wish_ids: list[int]) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {i: [] for i in wish_ids}
    if wish_ids:
        for s in await WishStep.select(WishStep.all_columns(), WishStep.actor.display_name.as_alias("actor_name")).where(
                WishStep.wish.is_in(wish_ids)).order_by(WishStep.at).order_by(WishStep.id):
            found[s["wish"]].append(s)
    return found


async def _place_names(rows: list[dict]) -> dict[int, str]:
    ids = {int(p) for r in rows for p in r["home_path"].strip("/").split("/")}
    return {n["id"]: n["name"] for n in await Node.select(Node.id, Node.name).where(Node.id.is_in(list(ids)))} if ids else {}


async def _with_clocks(rows: list[dict], now: datetime) -> list[dict]:
    """Each wish with its timeline, its 2341 clocks judged at `now`, and its grid's name."""
    steps = await _steps([r["id"] for r in rows])
    work = await calendar()
    places = await _place_names(rows)
    for r in rows:
        r["steps"] = steps[r["id"]]
        r["clocks"] = rules.clocks(r["posted_at"], [(s["action"], s["at"]) for s in r["steps"]], now, work, zone())
        r["overdue"] = rules.overdue_clocks(r["clocks"])
        r["next_due"] = rules.next_due(r["clocks"])
        ids = [int(p) for p in r["home_path"].strip("/").split("/")]
        r["grid"] = places.get(ids[3]) if len(ids) > 3 else None
        r["on_behalf"] = r["posted_by_person"] != r["for_person"]
    return rows


async def _roles(principal: Principal, row: dict) -> frozenset[str]:
    """Who this user is to this wish (see rules: resident, staff, assignee, volunteer)."""
    roles = set()
    me = principal.person_id
    if me is not None and me == row["for_person"]:
        roles.add(RESIDENT)
    if principal.can_at("wishes.dispatch", row["community_path"]):
        roles.add(STAFF)
    if me is not None and (me == row["assignee"] or (row["team"] is not None and row["team"] in await _my_teams(me))):
        roles.add(ASSIGNEE)
    if me is not None and me != row["for_person"] and principal.can("wishes.take"):
        person = await _person(me)
        if person["community"] == row["community"]:
            roles.add(VOLUNTEER)
    return frozenset(roles)


async def _wish(wish_id: int) -> dict:
    row = await Wish.select(*_columns()).where(Wish.id == wish_id).first()
    if row is None:
        raise NotFound("wish_not_found")
    return row


@dataclass(frozen=True)
class WishView:
    wish: dict  # with steps, clocks, overdue
    roles: frozenset[str]
    actions: list[str]  # what this user may do now


async def detail(principal: Principal, wish_id: int, now: datetime, acting_as: frozenset[str] = AS_RESIDENT) -> WishView:
    """One wish with its timeline and clocks, for the resident, its helper, staff of its community, and (while it
    waits on the board) the community's volunteers."""
    row = await _wish(wish_id)
    roles = await _roles(principal, row) & acting_as
    if not roles or roles == {VOLUNTEER} and row["state"] != "posted":
        raise PermissionDenied("wish_not_yours")
    await _with_clocks([row], now)
    return WishView(row, roles, rules.allowed_actions(row["state"], roles))


async def my_wishes(principal: Principal, now: datetime) -> list[dict]:
    """The resident's wishes (and those they posted for someone), newest first."""
    me = await _me(principal)
    rows = await Wish.select(*_columns()).where((Wish.for_person == me["id"]) | (Wish.posted_by == principal.user_id)).order_by(
        Wish.posted_at, ascending=False).order_by(Wish.id, ascending=False).limit(100)
    return await _with_clocks(rows, now)


@dataclass(frozen=True)
class Board:
    open: list[dict]  # waiting in my community for someone to take them
    tasks: list[dict]  # taken by me or dispatched to me or my team, not yet confirmed
    done: list[dict]  # completed by me, the latest


async def board(principal: Principal, now: datetime) -> Board:
    me = await _me(principal)
    waiting = await Wish.select(*_columns()).where(
        (Wish.community == me["community"]) & (Wish.state == "posted") & (Wish.for_person != me["id"])).order_by(
        Wish.posted_at).order_by(Wish.id).limit(BOARD_LIMIT)
    teams = await _my_teams(me["id"])
    mine = Wish.assignee == me["id"]
    if teams:
        mine = mine | Wish.team.is_in(teams)
    tasks = await Wish.select(*_columns()).where(mine & Wish.state.is_in([*rules.ASSIGNED_STATES, "completed"])).order_by(
        Wish.posted_at).order_by(Wish.id).limit(BOARD_LIMIT)
    done = await Wish.select(*_columns()).where((Wish.completed_by == me["id"]) & (Wish.state == "confirmed")).order_by(
        Wish.confirmed_at, ascending=False).limit(20)
    return Board(await _with_clocks(waiting, now), await _with_clocks(tasks, now), await _with_clocks(done, now))


def _scope(principal: Principal):
    where = None
    for path in principal.scope_paths("wishes.dispatch"):
        clause = Wish.community.path.like(f"{path}%")
        where = clause if where is None else where | clause
    return where


@dataclass(frozen=True)
class DispatchBoard:
    wishes: list[dict]
    grids: list[dict]


async def _grids(principal: Principal) -> list[dict]:
    scope = principal.scope_paths("wishes.dispatch")
    return [g for g in await Node.select(Node.id, Node.name, Node.path, Node.parent.name.as_alias("compound")).where(
        Node.kind == "grid").order_by(Node.id) if any(g["path"].startswith(p) for p in scope)]


async def dispatch_board(principal: Principal, now: datetime, state: str | None = None, grid_id: int | None = None,
                         kind: str | None = None, overdue_only: bool = False) -> DispatchBoard:
    """Wishes in the staff member's communities, oldest first: by default those still open or waiting for the
    resident's confirmation; filtered by state, grid and kind; `overdue_only` keeps those with a clock run out."""
    scope = _scope(principal)
    if scope is None:
        return DispatchBoard([], [])
    if state and state not in rules.STATES:
        raise InvalidInput("invalid", field="state")
    if kind and kind not in rules.KINDS:
        raise InvalidInput("invalid", field="kind")
    where = scope & (Wish.state == state if state else Wish.state.is_in([*rules.OPEN_STATES, "completed"]))
    if overdue_only:
        where = scope & Wish.state.is_in(list(rules.OPEN_STATES))
    if grid_id is not None:
        grid = await Node.select(Node.path).where((Node.id == grid_id) & (Node.kind == "grid")).first()
        if grid is None:
            raise NotFound("node_not_found")
        where &= Wish.home.path.like(f"{grid['path']}%")
    if kind:
        where &= Wish.kind == kind
    rows = await _with_clocks(await Wish.select(*_columns()).where(where).order_by(Wish.posted_at).order_by(Wish.id).limit(
        BOARD_LIMIT), now)
    if overdue_only:
        rows = sorted((r for r in rows if r["overdue"]),
                      key=lambda r: min(c.due for c in r["clocks"] if c.overdue))
    return DispatchBoard(rows, await _grids(principal))


async def helpers(principal: Principal, wish_id: int, q: str) -> tuple[list[dict], list[dict]]:
    """Volunteers (by name) and teams of the wish's community that staff may dispatch it to."""
    row = await _wish(wish_id)
    require_scope(principal, "wishes.dispatch", row["community_path"])
    people = await _people_named(row["community"], q, but=row["for_person"])
    teams = await WishTeam.select(WishTeam.id, WishTeam.name).where(
        (WishTeam.community == row["community"]) & (WishTeam.active == True)).order_by(WishTeam.id)  # noqa: E712
    return people, teams


async def _people_named(community_id: int, q: str, but: int | None = None) -> list[dict]:
    """People of the community whose name holds `q` (nobody for an empty search)."""
    if not q.strip():
        return []
    where = (Person.community == community_id) & Person.name.like(f"%{q.strip()}%")
    if but is not None:
        where &= Person.id != but
    return await Person.select(Person.id, Person.name, Person.is_party_member, Person.home.parent.name.as_alias("building"),
                               Person.home.name.as_alias("unit")).where(where).order_by(Person.name).order_by(
        Person.id).limit(SEARCH_LIMIT)


async def residents(principal: Principal, q: str) -> list[dict]:
    """Residents staff may post a wish for: by name, in their communities."""
    scope = principal.scope_paths("wishes.dispatch")
    if not scope or not q.strip():
        return []
    where = None
    for path in scope:
        clause = Person.home.path.like(f"{path}%")
        where = clause if where is None else where | clause
    return await Person.select(Person.id, Person.name, Person.home.parent.name.as_alias("building"),
                               Person.home.name.as_alias("unit"), Person.community.name.as_alias("community_name")).where(
        where & Person.name.like(f"%{q.strip()}%")).order_by(Person.name).order_by(Person.id).limit(SEARCH_LIMIT)


# --- writing ----------------------------------------------------------------------------------------------------

async def _locked(wish_id: int) -> dict:
    """The wish row, locked on PostgreSQL so two people acting on it at once take turns (SQLite's write transaction
    already does)."""
    query = Wish.select().where(Wish.id == wish_id)
    if engine().engine_type == "postgres":
        query = query.lock_rows()
    row = await query.first()
    if row is None:
        raise NotFound("wish_not_found")
    return row


async def _step(wish_id: int, action: str, actor: int, at: datetime, before: str, after: str, note: str = "") -> None:
    await WishStep.insert(WishStep(wish=wish_id, action=action, actor=actor, at=at, from_state=before, to_state=after,
                                   note=note))


async def post(principal: Principal, *, kind: str, description: str, submission_key: str, now: datetime,
               for_person: int | None = None) -> int:
    """Post a wish; returns its id (the same id again for a repeated submission_key). Staff may post for a resident
    of their communities (a resident without a smartphone asks at the station or by phone)."""
    if not submission_key or len(submission_key) > 64:
        raise InvalidInput("invalid")
    earlier = await Wish.select(Wish.id, Wish.posted_by).where(Wish.submission_key == submission_key).first()
    if earlier is not None:
        if earlier["posted_by"] != principal.user_id:
            raise InvalidInput("invalid")
        return earlier["id"]
    if for_person is None or for_person == principal.person_id:
        resident = await _me(principal)
    else:
        resident = await _person(for_person)
        require_scope(principal, "wishes.dispatch", resident["home_path"])
    rules.check_post(kind, description)
    try:
        async with atomic():
            wish_id = (await Wish.insert(Wish(
                community=resident["community"], home=resident["home"], kind=kind, description=description.strip(),
                for_person=resident["id"], posted_by=principal.user_id, posted_at=now, state="posted",
                submission_key=submission_key)))[0]["id"]
            await _step(wish_id, "post", principal.user_id, now, "", "posted")
            await audit.log(principal.user_id, "wish.post", "wish", wish_id, resident["community"],
                            after={"kind": kind, "for_person": resident["id"]})
    except Exception:
        again = await Wish.select(Wish.id).where(Wish.submission_key == submission_key).first()
        if again is not None:  # the same form sent twice at once: the other request posted it
            return again["id"]
        raise
    return wish_id


async def act(principal: Principal, wish_id: int, action: str, now: datetime, note: str = "",
              acting_as: frozenset[str] = AS_RESIDENT) -> str:
    """take | start | complete | reopen | cancel | acknowledge | reply: returns the new state."""
    if action in ("dispatch", "confirm"):
        raise InvalidInput("invalid", field="action")
    found = await _wish(wish_id)
    note = rules.check_note(note, required=action in ("reply", "reopen"))
    async with atomic():
        row = await _locked(wish_id)
        # judged on the locked row: a wish dispatched to someone else a moment ago is no longer the old helper's
        roles = await _roles(principal, {**found, **row}) & acting_as
        after = rules.next_state(action, row["state"], roles)
        changes: dict = {Wish.state: after}
        if action == "take":
            changes.update({Wish.assignee: principal.person_id, Wish.team: None, Wish.assigned_at: now})
        elif action == "complete":
            # staff record it for the assigned helper; a team's member who completes it earns the points
            doer = principal.person_id if ASSIGNEE in roles else row["assignee"]
            if doer is None:
                raise Conflict("wish_needs_helper")
            changes.update({Wish.completed_by: doer, Wish.completed_at: now})
        await Wish.update(changes).where(Wish.id == wish_id)
        await _step(wish_id, action, principal.user_id, now, row["state"], after, note)
        await audit.log(principal.user_id, f"wish.{action}", "wish", wish_id, row["community"],
                        before={"state": row["state"]}, after={"state": after, **({"note": note} if note else {})})
    return after


async def dispatch(principal: Principal, wish_id: int, now: datetime, *, person_id: int | None = None,
                   team_id: int | None = None, note: str = "") -> None:
    """Staff send the wish to a volunteer of its community, or to one of its teams (again, to someone else, too)."""
    found = await _wish(wish_id)
    require_scope(principal, "wishes.dispatch", found["community_path"])
    roles = frozenset({STAFF})
    note = rules.check_note(note)
    if (person_id is None) == (team_id is None):
        raise InvalidInput("wish_helper_required", field="helper")
    if person_id is not None:
        helper = await _person(person_id)
        if helper["community"] != found["community"] or person_id == found["for_person"]:
            raise InvalidInput("wish_helper_elsewhere", field="helper")
        label = helper["name"]
    else:
        team = await WishTeam.select().where((WishTeam.id == team_id) & (WishTeam.active == True)).first()  # noqa: E712
        if team is None or team["community"] != found["community"]:
            raise InvalidInput("wish_helper_elsewhere", field="helper")
        label = team["name"]
    async with atomic():
        row = await _locked(wish_id)
        after = rules.next_state("dispatch", row["state"], roles)
        await Wish.update({Wish.state: after, Wish.assignee: person_id, Wish.team: team_id, Wish.assigned_at: now}).where(
            Wish.id == wish_id)
        await _step(wish_id, "dispatch", principal.user_id, now, row["state"], after, " · ".join(filter(None, [label, note])))
        await audit.log(principal.user_id, "wish.dispatch", "wish", wish_id, row["community"],
                        before={"state": row["state"], "assignee": row["assignee"], "team": row["team"]},
                        after={"state": after, "assignee": person_id, "team": team_id})


@dataclass(frozen=True)
class Confirmed:
    points: int | None  # posted to the helper, or None
    withheld: str | None  # why no points were posted (a reason code), or None
    already: bool = False  # it had been confirmed before: nothing changed


async def confirm(principal: Principal, wish_id: int, rating: int, comment: str, now: datetime,
                  acting_as: frozenset[str] = AS_RESIDENT) -> Confirmed:
    """The resident (or staff, for a resident without a smartphone) says it is done and rates it; the helper's
    points post in the same transaction. Confirming again changes nothing and posts nothing."""
    found = await _wish(wish_id)
    roles = await _roles(principal, found) & acting_as
    if found["state"] == "confirmed" and roles & {RESIDENT, STAFF}:
        return Confirmed(found["points"], None, already=True)
    rules.check_rating(rating, comment)
    async with atomic():
        row = await _locked(wish_id)
        if row["state"] == "confirmed":  # a second tap that waited for the first one's lock
            return Confirmed(row["points"], None, already=True)
        roles = await _roles(principal, {**found, **row}) & acting_as
        after = rules.next_state("confirm", row["state"], roles)
        points, txn, withheld = await _award(principal, row)
        await Wish.update({Wish.state: after, Wish.confirmed_at: now, Wish.rating: rating, Wish.comment: comment.strip(),
                           Wish.points: points, Wish.txn: txn}).where(Wish.id == wish_id)
        await _step(wish_id, "confirm", principal.user_id, now, row["state"], after, comment.strip())
        if withheld:
            await _step(wish_id, "no_points", principal.user_id, now, after, after, withheld)
        await audit.log(principal.user_id, "wish.confirm", "wish", wish_id, row["community"], before={"state": row["state"]},
                        after={"state": after, "rating": rating, "points": points, "transaction": txn, "withheld": withheld})
    return Confirmed(points, withheld)


async def _award(principal: Principal, row: dict) -> tuple[int | None, int | None, str | None]:
    """Inside confirm's transaction: (points, ledger transaction, None) or (None, None, why not)."""
    helper = row["completed_by"]
    day = local_date(row["completed_at"])
    mapping = await WishKindItem.select(WishKindItem.item).where(
        (WishKindItem.community == row["community"]) & (WishKindItem.kind == row["kind"])).first()
    item = None
    if mapping is not None:
        try:
            item = await catalog.item_on(mapping["item"], day, retired_ok=True)
        except (NotFound, Conflict):  # no value in force on the completion day
            item = None
    if item is None or helper is None:
        return None, None, rules.points_refusal(False, False, None)
    accounts = await Account.select(Account.id, Account.kind, Account.colour).where(
        (Account.holder == helper) & (Account.active == True) & (Account.community == row["community"])).order_by(  # noqa: E712
        Account.id)
    eligible = [a for a in accounts if catalog_rules.colour_may_earn(item.colours, catalog_rules.earner_colour(a["kind"], a["colour"]))]
    if not eligible:
        return None, None, rules.points_refusal(True, False, None)
    account = eligible[0]["id"]
    try:
        await catalog.check_caps(item, account, helper, day)
    except Conflict as exc:
        return None, None, rules.points_refusal(True, True, exc.code)
    recorded = await ledger.record(TransactionDraft(
        kind="award", memo=f"微心愿：{row['description']}"[:200], idempotency_key=f"wish:{row['id']}",
        community_id=row["community"], occurred_at=row["completed_at"],
        postings=(PostingDraft(await issuer_of(row["community"]), -item.points), PostingDraft(account, item.points)),
        actor_id=principal.user_id, source_type="wish", source_ref=str(row["id"]), source_label=item.label,
    ))
    await catalog.record_award(item.id, account, helper, day, recorded.transaction_id, "wish")
    return item.points, recorded.transaction_id, None


# --- set-up: which item each kind earns, teams, the work calendar ---------------------------------------------
# The demo loader calls these without `by`; the staff settings page (/staff/wishes/settings) passes the staff
# member, whose scope is then checked. Every change is audited either way.

MAX_TEAM_NAME = rules.MAX_TEAM_NAME
MAX_DAY_NAME = rules.MAX_DAY_NAME


async def _community(community_id: int, by: Principal | None) -> dict:
    node = await Node.select(Node.id, Node.name, Node.path, Node.kind).where(Node.id == community_id).first()
    if node is None or node["kind"] != "community":
        raise NotFound("node_not_found")
    if by is not None:
        require_scope(by, "wishes.dispatch", node["path"])
    return node


async def settings_communities(principal: Principal) -> list[dict]:
    """The communities whose wish settings this staff member keeps (those they dispatch in)."""
    scope = principal.scope_paths("wishes.dispatch")
    return [c for c in await Node.select(Node.id, Node.name, Node.path).where(Node.kind == "community").order_by(Node.id)
            if any(c["path"].startswith(p) for p in scope)]


async def set_kind_item(community_id: int, kind: str, item_id: int | None, by: Principal | None = None,
                        today: date | None = None) -> None:
    """Which catalogue item a confirmed wish of `kind` earns its helper; None: no points for this kind. The item
    must be the community's own and in force `today` (a retired or future item would post nothing)."""
    if kind not in rules.KINDS:
        raise InvalidInput("invalid", field="kind")
    await _community(community_id, by)
    if item_id is not None:
        owner = await Item.select(Item.category.community.as_alias("community")).where(Item.id == item_id).first()
        if owner is None or owner["community"] != community_id:
            raise InvalidInput("unknown_item", field=f"kind_{kind}")
        try:
            item = await catalog.item_on(item_id, today or local_date(datetime.now(zone())))
        except (NotFound, Conflict):
            raise InvalidInput("unknown_item", field=f"kind_{kind}") from None
        if item.points is None:
            raise InvalidInput("wish_item_not_in_force", field=f"kind_{kind}")
    async with atomic():
        before = await WishKindItem.select(WishKindItem.item).where(
            (WishKindItem.community == community_id) & (WishKindItem.kind == kind)).first()
        if (before and before["item"]) == item_id:
            return
        await WishKindItem.delete().where((WishKindItem.community == community_id) & (WishKindItem.kind == kind))
        if item_id is not None:
            await WishKindItem.insert(WishKindItem(community=community_id, kind=kind, item=item_id))
        await audit.log(by.user_id if by else None, "wish.kind_item", "wish_kind", kind, community_id,
                        before={"item": before["item"] if before else None}, after={"item": item_id})


async def set_kind_items(by: Principal, community_id: int, chosen: dict[str, int | None], today: date) -> None:
    """The settings form: all kinds saved together, or none when one is refused."""
    async with atomic():
        for kind, item_id in chosen.items():
            await set_kind_item(community_id, kind, item_id, by, today)


async def kind_items(community_id: int, day: date) -> dict[str, dict]:
    """kind -> the item it earns and its value on `day` (what the post form and the board tell people)."""
    found = {}
    for r in await WishKindItem.select(WishKindItem.kind, WishKindItem.item).where(WishKindItem.community == community_id):
        try:
            item = await catalog.item_on(r["item"], day)
        except (NotFound, Conflict):
            continue
        found[r["kind"]] = {"id": item.id, "name": item.name, "points": item.points}
    return found


async def kind_mapping(community_id: int) -> dict[str, int]:
    """kind -> the item id mapped, whether or not it is in force today (the settings page says when it is not)."""
    return {r["kind"]: r["item"] for r in await WishKindItem.select(WishKindItem.kind, WishKindItem.item).where(
        WishKindItem.community == community_id)}


async def _team(team_id: int, by: Principal | None) -> dict:
    team = await WishTeam.select().where(WishTeam.id == team_id).first()
    if team is None:
        raise NotFound("wish_team_not_found")
    await _community(team["community"], by)
    return team


async def _member_of(community_id: int, person_id: int) -> dict:
    person = await _person(person_id)
    if person["community"] != community_id:
        raise InvalidInput("wish_member_elsewhere", field="person")
    return person


async def add_team(community_id: int, name: str, member_ids: list[int], by: Principal | None = None) -> int:
    await _community(community_id, by)
    name = rules.check_team_name(name)
    for person_id in member_ids:
        await _member_of(community_id, person_id)
    async with atomic():
        team_id = (await WishTeam.insert(WishTeam(community=community_id, name=name)))[0]["id"]
        if member_ids:
            await WishTeamMember.insert(*(WishTeamMember(team=team_id, person=p) for p in dict.fromkeys(member_ids)))
        await audit.log(by.user_id if by else None, "wish.team_add", "volunteer_team", team_id, community_id,
                        after={"name": name, "members": member_ids})
    return team_id


async def rename_team(by: Principal, team_id: int, name: str) -> None:
    team = await _team(team_id, by)
    name = rules.check_team_name(name)
    async with atomic():
        await WishTeam.update({WishTeam.name: name}).where(WishTeam.id == team_id)
        await audit.log(by.user_id, "wish.team_rename", "volunteer_team", team_id, team["community"],
                        before={"name": team["name"]}, after={"name": name})


async def set_team_active(by: Principal, team_id: int, active: bool) -> None:
    """A team no longer dispatched to (its members still finish what they hold); or back in service."""
    team = await _team(team_id, by)
    if team["active"] == active:
        return
    async with atomic():
        await WishTeam.update({WishTeam.active: active}).where(WishTeam.id == team_id)
        await audit.log(by.user_id, "wish.team_active", "volunteer_team", team_id, team["community"],
                        before={"active": team["active"]}, after={"active": active})


async def add_team_member(by: Principal, team_id: int, person_id: int) -> None:
    """Adding someone already in the team changes nothing (a double tap)."""
    team = await _team(team_id, by)
    await _member_of(team["community"], person_id)
    async with atomic():
        if await WishTeamMember.exists().where((WishTeamMember.team == team_id) & (WishTeamMember.person == person_id)):
            return
        await WishTeamMember.insert(WishTeamMember(team=team_id, person=person_id))
        await audit.log(by.user_id, "wish.team_member_add", "volunteer_team", team_id, team["community"],
                        after={"person": person_id})


async def remove_team_member(by: Principal, team_id: int, person_id: int) -> None:
    team = await _team(team_id, by)
    async with atomic():
        member = (WishTeamMember.team == team_id) & (WishTeamMember.person == person_id)
        if await WishTeamMember.exists().where(member):
            await WishTeamMember.delete().where(member)
            await audit.log(by.user_id, "wish.team_member_remove", "volunteer_team", team_id, team["community"],
                            before={"person": person_id})


async def teams(principal: Principal, community_id: int) -> list[dict]:
    """The community's teams (active first) with their members."""
    await _community(community_id, principal)
    found = await WishTeam.select().where(WishTeam.community == community_id).order_by(
        WishTeam.active, ascending=False).order_by(WishTeam.id)
    members: dict[int, list[dict]] = {t["id"]: [] for t in found}
    if found:
        for m in await WishTeamMember.select(WishTeamMember.team, WishTeamMember.person, WishTeamMember.person.name.as_alias(
                "name")).where(WishTeamMember.team.is_in(list(members))).order_by(WishTeamMember.person.name).order_by(
                WishTeamMember.id):
            members[m["team"]].append({"id": m["person"], "name": m["name"]})
    return [t | {"members": members[t["id"]]} for t in found]


async def team_candidates(principal: Principal, team_id: int, q: str) -> list[dict]:
    """People of the team's community found by name, to add to the team (the dispatch page's volunteer search)."""
    team = await _team(team_id, principal)
    return await _people_named(team["community"], q)


async def set_calendar_day(day: date, working: bool, name: str = "", by: Principal | None = None,
                           today: date | None = None) -> None:
    """A public holiday (working=False) or a weekend day worked instead (调休, working=True); setting a day again
    replaces it. With `today` (the settings page), days before it are refused (rules.check_calendar_day)."""
    if by is not None and not by.can("wishes.dispatch"):
        raise PermissionDenied()
    name = rules.check_calendar_day(day, working, name, today)
    async with atomic():
        before = await WorkCalendarDay.select(WorkCalendarDay.working, WorkCalendarDay.name).where(
            WorkCalendarDay.day == day).first()
        await WorkCalendarDay.delete().where(WorkCalendarDay.day == day)
        await WorkCalendarDay.insert(WorkCalendarDay(day=day, working=working, name=name))
        # one calendar for every community (the State Council's notice): audited without a community
        await audit.log(by.user_id if by else None, "wish.calendar_day", "wish_calendar_day", day.isoformat(), None,
                        before=before, after={"working": working, "name": name})


async def remove_calendar_day(by: Principal, day: date, today: date) -> None:
    if not by.can("wishes.dispatch"):
        raise PermissionDenied()
    if day < today:
        raise InvalidInput("wish_day_past", field="day")
    async with atomic():
        before = await WorkCalendarDay.select(WorkCalendarDay.working, WorkCalendarDay.name).where(
            WorkCalendarDay.day == day).first()
        if before is None:
            return
        await WorkCalendarDay.delete().where(WorkCalendarDay.day == day)
        await audit.log(by.user_id, "wish.calendar_day_remove", "wish_calendar_day", day.isoformat(), None, before=before)


async def calendar_days(since: date) -> list[dict]:
    """The holidays and make-up working days from `since` on, in order."""
    return await WorkCalendarDay.select().where(WorkCalendarDay.day >= since).order_by(WorkCalendarDay.day)
