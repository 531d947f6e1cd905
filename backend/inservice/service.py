"""In-service members (在职党员 "双报到"): the register, the community's projects and check-in rules, monthly
check-ins (a card scan at a station, see scans.py, or a claim from the phone), the staff's monthly list and the
yearly report for the member's employer.

A check-in is one row per member and month (a unique key backs it). Points come from the community's catalogue
item for the check-in when it has one: at a station at once (within the item's caps, like an award scan); from the
phone as a points claim for the weekly review, since no one saw the member come."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from backend.accounts.service import issuer_of
from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.catalog import rules as catalog_rules
from backend.catalog import service as catalog
from backend.clock import local_date, zone
from backend.community.tables import Node
from backend.db import atomic
from backend.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from backend.inservice import rules
from backend.inservice.tables import CheckIn, Member, Project, Setting
from backend.ledger import service as ledger
from backend.ledger.rules import EARNING_KINDS, PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction, Posting
from backend.people.rules import Principal, require_scope
from backend.people.tables import Person

MANAGE = "inservice.manage"


# --- communities, settings, projects ------------------------------------------------------------------------

async def communities(principal: Principal) -> list[dict]:
    """The communities whose in-service members the user looks after."""
    scope = principal.scope_paths(MANAGE)
    return [c for c in await Node.select(Node.id, Node.name, Node.path).where(Node.kind == "community").order_by(Node.id)
            if any(c["path"].startswith(p) for p in scope)]


async def _community(community_id: int) -> dict:
    node = await Node.select(Node.id, Node.name, Node.path, Node.kind).where(Node.id == community_id).first()
    if node is None or node["kind"] != "community":
        raise NotFound("node_not_found")
    return node


async def _scoped(principal: Principal, community_id: int) -> dict:
    node = await _community(community_id)
    require_scope(principal, MANAGE, node["path"])
    return node


@dataclass(frozen=True)
class Rules:
    window: rules.Window
    award_item: int | None


async def setting(community_id: int) -> Rules:
    row = await Setting.select().where(Setting.community == community_id).first()
    if row is None:
        return Rules(rules.Window(), None)
    return Rules(rules.Window(row["window_days"], row["strict"]), row["award_item"])


async def save_setting(principal: Principal, community_id: int, window_days: int, strict: bool, award_item: int | None) -> None:
    await _scoped(principal, community_id)
    rules.check_window_days(window_days)
    if award_item is not None:
        item = await catalog.item_detail(award_item)
        if item["community"] != community_id or not item["active"]:
            raise InvalidInput("item_not_in_community", field="award_item")
    before = await setting(community_id)
    async with atomic():
        changes = {Setting.window_days: window_days, Setting.strict: strict, Setting.award_item: award_item}
        if not await Setting.update(changes).where(Setting.community == community_id).returning(Setting.id):
            await Setting.insert(Setting(community=community_id, window_days=window_days, strict=strict, award_item=award_item))
        await audit.log(principal.user_id, "inservice.settings", "node", community_id, community_id,
                        before={"window_days": before.window.days, "strict": before.window.strict, "award_item": before.award_item},
                        after={"window_days": window_days, "strict": strict, "award_item": award_item})


async def award_items(community_id: int, day: date) -> list[dict]:
    """The community's catalogue items in force, for choosing the one a check-in earns."""
    return [{"id": i["id"], "label": f"{c['name']} · {i['name']}（{i['points']}分）"}
            for c in await catalog.catalogue(community_id, day) for i in c["items"]]


async def projects(community_id: int, *, with_retired: bool = False) -> list[dict]:
    where = Project.community == community_id
    if not with_retired:
        where &= Project.active == True  # noqa: E712
    return await Project.select().where(where).order_by(Project.id)


async def add_project(principal: Principal, community_id: int, name: str, description: str = "") -> int:
    await _scoped(principal, community_id)
    rules.check_project(name, description)
    async with atomic():
        project_id = (await Project.insert(Project(community=community_id, name=name.strip(),
                                                   description=description.strip())))[0]["id"]
        await audit.log(principal.user_id, "inservice.project.create", "inservice_project", project_id, community_id,
                        after={"name": name.strip()})
    return project_id


async def retire_project(principal: Principal, project_id: int) -> int:
    """Off the list for new check-ins (those made stay as they are); returns the project's community."""
    row = await Project.select().where(Project.id == project_id).first()
    if row is None:
        raise NotFound("project_not_found")
    await _scoped(principal, row["community"])
    async with atomic():
        await Project.update({Project.active: False}).where(Project.id == project_id)
        await audit.log(principal.user_id, "inservice.project.retire", "inservice_project", project_id, row["community"],
                        before={"active": row["active"]}, after={"active": False})
    return row["community"]


async def _project(community_id: int, project_id: object) -> dict:
    if project_id is None or project_id == "":
        raise InvalidInput("project_required", field="project")
    if isinstance(project_id, str) and project_id.isdigit():
        project_id = int(project_id)
    row = await Project.select().where(Project.id == project_id).first() if isinstance(project_id, int) else None
    if row is None or row["community"] != community_id or not row["active"]:
        raise Conflict("project_not_available")
    return row


# --- the register ---------------------------------------------------------------------------------------------

def _member_columns():
    return (Member.all_columns(), Member.person.name.as_alias("name"), Member.person.home.name.as_alias("home_name"),
            Member.community.name.as_alias("community_name"), Member.community.path.as_alias("community_path"))


async def candidates(principal: Principal, community_id: int) -> list[dict]:
    """Party members of the community not on the register yet (an inactive one can be registered again)."""
    await _scoped(principal, community_id)
    registered = {r["person"] for r in await Member.select(Member.person).where(
        (Member.community == community_id) & (Member.active == True))}  # noqa: E712
    return [p for p in await Person.select(Person.id, Person.name, Person.home.name.as_alias("home_name")).where(
        (Person.community == community_id) & (Person.is_party_member == True)).order_by(Person.name).order_by(Person.id)  # noqa: E712
        if p["id"] not in registered]


async def register(principal: Principal, person_id: int, employer: str, branch: str, since: date, today: date) -> int:
    """Put a party member on the community's register (报到登记), or back on it with new details."""
    person = await Person.select(Person.id, Person.community, Person.is_party_member).where(Person.id == person_id).first()
    if person is None:
        raise NotFound("person_not_found")
    await _scoped(principal, person["community"])
    rules.check_registration(employer, branch, since, today, person["is_party_member"])
    values = {"employer": employer.strip(), "branch": branch.strip(), "since": since}
    async with atomic():
        earlier = await Member.select().where(Member.person == person_id).first()
        if earlier is not None and earlier["active"]:
            raise Conflict("already_registered_member")
        if earlier is not None:
            await Member.update({Member.employer: values["employer"], Member.branch: values["branch"], Member.since: since,
                                 Member.community: person["community"], Member.active: True,
                                 Member.registered_by: principal.user_id}).where(Member.id == earlier["id"])
            member_id = earlier["id"]
        else:
            member_id = (await Member.insert(Member(person=person_id, community=person["community"],
                                                    registered_by=principal.user_id, **values)))[0]["id"]
        await audit.log(principal.user_id, "inservice.register", "inservice_member", member_id, person["community"],
                        after={"person": person_id, "employer": values["employer"], "branch": values["branch"],
                               "since": since.isoformat()})
    return member_id


async def end_membership(principal: Principal, member_id: int) -> None:
    """Off the register (moved away, retired): their check-ins stay for the yearly reports."""
    found = await member(member_id)
    require_scope(principal, MANAGE, found["community_path"])
    async with atomic():
        await Member.update({Member.active: False}).where(Member.id == member_id)
        await audit.log(principal.user_id, "inservice.unregister", "inservice_member", member_id, found["community"],
                        before={"active": found["active"]}, after={"active": False})


async def member(member_id: int) -> dict:
    row = await Member.select(*_member_columns()).where(Member.id == member_id).first()
    if row is None:
        raise NotFound("member_not_found")
    return row


async def member_of_person(person_id: int) -> dict | None:
    return await Member.select(*_member_columns()).where(Member.person == person_id).first()


async def members(principal: Principal, community_id: int) -> list[dict]:
    await _scoped(principal, community_id)
    return await Member.select(*_member_columns()).where(Member.community == community_id).order_by(
        Member.active, ascending=False).order_by(Member.person.name).order_by(Member.id)


# --- checking in ----------------------------------------------------------------------------------------------

def _columns():
    return (CheckIn.all_columns(), CheckIn.project.name.as_alias("project_name"), CheckIn.claim.state.as_alias("claim_state"))


async def _reported(member_id: int, month: str) -> str | None:
    row = await CheckIn.select(CheckIn.month).where(CheckIn.member_month == f"{member_id}:{month}").first()
    return row["month"] if row else None


async def _earning_account(item: catalog.ItemInForce, person_id: int, community_id: int, preferred: int | None) -> int | None:
    """The account the check-in's points go to: the scanned card's when its colour may earn the item, else the
    member's other account in the community that may (a party member's red one)."""
    accounts = await Account.select(Account.id, Account.kind, Account.colour).where(
        (Account.holder == person_id) & (Account.community == community_id) & (Account.active == True)).order_by(Account.id)  # noqa: E712
    eligible = [a["id"] for a in accounts
                if catalog_rules.colour_may_earn(item.colours, catalog_rules.earner_colour(a["kind"], a["colour"]))]
    if preferred in eligible:
        return preferred
    return eligible[0] if eligible else None


@dataclass(frozen=True)
class Awarded:
    points: int = 0
    txn_id: int | None = None
    balance: int | None = None
    account_id: int | None = None
    note: dict | None = None  # why no points: {"reason": code, ...params}


async def _award(rules_: Rules, person_id: int, community_id: int, day: date, at: datetime, key: str, preferred: int | None,
                 label_suffix: str, source: tuple[str, str]) -> Awarded:
    """The check-in's catalogue award at a station, inside the scan's transaction; never refuses the check-in."""
    if rules_.award_item is None:
        return Awarded()
    try:
        item = await catalog.item_on(rules_.award_item, day)
    except (NotFound, Conflict) as exc:
        return Awarded(note={"reason": exc.code} | {k: v for k, v in exc.params.items() if isinstance(v, (str, int))})
    account = await _earning_account(item, person_id, community_id, preferred)
    if account is None:
        return Awarded(note={"reason": "colour_not_eligible"})
    try:
        await catalog.check_caps(item, account, person_id, day)
    except Conflict as exc:
        return Awarded(note={"reason": exc.code, **exc.params})
    recorded = await ledger.record(TransactionDraft(
        kind="award", memo=f"{item.name}（{rules.month_key(day)}）", idempotency_key=key, community_id=community_id,
        occurred_at=at, postings=(PostingDraft(await issuer_of(community_id), -item.points), PostingDraft(account, item.points)),
        source_type=source[0], source_ref=source[1], source_label=f"{item.label} · {label_suffix}"[:200],
    ))
    await catalog.record_award(item.id, account, person_id, day, recorded.transaction_id, source[0])
    return Awarded(item.points, recorded.transaction_id, recorded.balances.get(account), account)


@dataclass(frozen=True)
class StationCheckIn:
    check_in_id: int
    project: str
    month: str
    in_window: bool
    awarded: Awarded


async def check_in_at_station(person_id: int | None, station_community: int, project_id: object, at: datetime,
                              scan_id: str, ledger_key: str, card_account: int, station_name: str) -> StationCheckIn:
    """The card holder checks in for this month at a station (inside the scan's transaction). Refusals: not a
    registered member of this community, already checked in this month, a project not on the list, and — only
    where the community made the window strict — outside the last days of the month."""
    found = await member_of_person(person_id) if person_id is not None else None
    rules.check_member(found is not None and found["active"])
    if found["community"] != station_community:
        raise Conflict("member_of_other_community", community=found["community_name"])
    day = local_date(at)
    community_rules = await setting(station_community)
    timing = rules.station_timing(day, community_rules.window)
    rules.check_not_reported(await _reported(found["id"], timing.month))
    project = await _project(station_community, project_id)
    awarded = await _award(community_rules, found["person"], station_community, day, at, ledger_key, card_account,
                           station_name, ("scan", scan_id))
    check_in_id = (await CheckIn.insert(CheckIn(
        member=found["id"], person=found["person"], community=station_community, month=timing.month,
        member_month=f"{found['id']}:{timing.month}", via="station", day=day, checked_in_at=at, in_window=timing.in_window,
        late=False, project=project["id"], scan_id=scan_id, txn=awarded.txn_id, points=awarded.points,
        note=(awarded.note or {}).get("reason", ""))))[0]["id"]
    return StationCheckIn(check_in_id, project["name"], timing.month, timing.in_window, awarded)


async def undo_station_check_in(check_in_id: int) -> None:
    """An undone check-in scan takes the check-in back too (its points are reversed by the scan service)."""
    await CheckIn.delete().where((CheckIn.id == check_in_id) & (CheckIn.via == "station"))


async def _me(principal: Principal) -> dict:
    if principal.person_id is None:
        raise PermissionDenied()
    found = await member_of_person(principal.person_id)
    if found is None or not found["active"]:
        raise Conflict("not_in_service_member")
    return found


async def claim_check_in(principal: Principal, day: date, project_id: int | None, project_text: str,
                         submission_key: str, now: datetime) -> int:
    """The member checks in from the phone: the check-in counts at once on the staff's list; its points (the
    community's check-in item) go to the weekly review as a points claim, since no one saw the member come."""
    from backend.claims import service as claims

    found = await _me(principal)
    rules.check_project_choice(project_id, project_text)
    project = await _project(found["community"], project_id) if project_id is not None else None
    community_rules = await setting(found["community"])
    timing = rules.claim_timing(day, local_date(now), community_rules.window)
    rules.check_not_reported(await _reported(found["id"], timing.month))
    taken = project["name"] if project else project_text.strip()
    claim_id, note = None, ""
    async with atomic():
        if community_rules.award_item is not None:
            try:
                claim_id = await claims.submit(
                    principal, item_id=community_rules.award_item, deed_date=day,
                    description=f"在职党员回家报到（{timing.month}）：领办项目「{taken}」", witnesses="", photo=None,
                    submission_key=f"inservice:{found['id']}:{timing.month}:{submission_key}"[:64], now=now)
            except (Conflict, InvalidInput) as exc:  # the check-in still counts; the list says why no points
                note = exc.code
        try:
            check_in_id = (await CheckIn.insert(CheckIn(
                member=found["id"], person=found["person"], community=found["community"], month=timing.month,
                member_month=f"{found['id']}:{timing.month}", via="claim", day=day, checked_in_at=now,
                in_window=timing.in_window, late=timing.late, project=project["id"] if project else None,
                project_text="" if project else project_text.strip(), claim=claim_id, note=note)))[0]["id"]
        except DomainError:
            raise
        except Exception:
            # the same member checking in twice at once: the other request won the month's unique key
            raise Conflict("already_reported", month=timing.month) from None
    return check_in_id


@dataclass(frozen=True)
class MyCheckIns:
    member: dict | None
    check_ins: list[dict]
    projects: list[dict]
    window: rules.Window
    this_month: str
    reported_this_month: bool
    window_dates: tuple[date, date]


async def my_check_ins(principal: Principal, today: date) -> MyCheckIns:
    found = await member_of_person(principal.person_id) if principal.person_id is not None else None
    month = rules.month_key(today)
    window_dates = rules.window_of(today.year, today.month, rules.WINDOW_DAYS)
    if found is None or not found["active"]:
        return MyCheckIns(found, [], [], rules.Window(), month, False, window_dates)
    community_rules = await setting(found["community"])
    rows = await CheckIn.select(*_columns()).where(CheckIn.member == found["id"]).order_by(CheckIn.month, ascending=False).limit(36)
    return MyCheckIns(found, rows, await projects(found["community"]), community_rules.window, month,
                      any(r["month"] == month for r in rows),
                      rules.window_of(today.year, today.month, community_rules.window.days))


# --- the staff's monthly list and the yearly report -------------------------------------------------------------

@dataclass(frozen=True)
class MonthList:
    community: dict
    month: str
    rows: list[dict]  # each member with "check_in" (or None)
    counts: dict[str, int]
    window: rules.Window
    window_dates: tuple[date, date]


async def month_list(principal: Principal, community_id: int, month: str) -> MonthList:
    """Who has checked in this month and who has not yet: members registered by the month's end, active ones, and
    anyone who checked in that month (they stay on that month's list even if they left since)."""
    community = await _scoped(principal, community_id)
    year, number = rules.parse_month(month)
    month = f"{year:04d}-{number:02d}"
    done = {r["member"]: r for r in await CheckIn.select(*_columns()).where(
        (CheckIn.community == community_id) & (CheckIn.month == month))}
    end = rules.last_day(year, number)
    rows = [m | {"check_in": done.get(m["id"])} for m in await Member.select(*_member_columns()).where(
        Member.community == community_id).order_by(Member.person.name).order_by(Member.id)
        if m["id"] in done or (m["active"] and m["since"] <= end)]
    rows.sort(key=lambda r: (r["check_in"] is not None, r["name"]))  # "not yet" first: whom to call
    community_rules = await setting(community_id)
    return MonthList(community, month, rows, rules.month_counts(rows), community_rules.window,
                     rules.window_of(year, number, community_rules.window.days))


async def points_earned(person_id: int, year: int) -> int:
    """Points the person earned that year (awards and volunteer hours to any of their accounts, reversed ones left
    out), from the ledger itself."""
    accounts = [a["id"] for a in await Account.select(Account.id).where(Account.holder == person_id)]
    if not accounts:
        return 0
    start = datetime(year, 1, 1, tzinfo=zone())
    end = datetime(year + 1, 1, 1, tzinfo=zone())
    rows = await Posting.select(Posting.amount, Posting.txn).where(
        Posting.account.is_in(accounts) & Posting.txn.kind.is_in(list(EARNING_KINDS))
        & (Posting.txn.occurred_at >= start) & (Posting.txn.occurred_at < end))
    if not rows:
        return 0
    reversed_ = {r["reverses"] for r in await LedgerTransaction.select(LedgerTransaction.reverses).where(
        LedgerTransaction.reverses.is_in(list({r["txn"] for r in rows})))}
    return sum(r["amount"] for r in rows if r["txn"] not in reversed_)


@dataclass(frozen=True)
class YearReport:
    member: dict
    year: int
    summary: rules.YearSummary
    projects: list[str]
    check_in_points: int
    points_earned: int


async def yearly_report(principal: Principal, member_id: int, year: int, today: date) -> YearReport:
    """One member's year for their employer (列入党建工作年度考评): the twelve months, the projects taken on, the
    points the check-ins brought and all points earned that year."""
    found = await member(member_id)
    if principal.person_id != found["person"]:
        require_scope(principal, MANAGE, found["community_path"])
    if not 2000 <= year <= 2100:
        raise InvalidInput("bad_year", field="year")
    rows = await CheckIn.select(*_columns()).where(
        (CheckIn.member == member_id) & CheckIn.month.like(f"{year:04d}-%")).order_by(CheckIn.month)
    for r in rows:
        r["project_label"] = r["project_name"] or r["project_text"]
    taken = list(dict.fromkeys(r["project_label"] for r in rows if r["project_label"]))
    return YearReport(found, year, rules.year_summary(year, rows, found["since"], today), taken,
                      sum(r["points"] for r in rows), await points_earned(found["person"], year))
