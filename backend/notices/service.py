"""Closing a month into a frozen notice, publishing it for objections, resolving them, finalising, and checking the
fingerprint chain against the ledger. What a notice covers and how the fingerprint is made: backend/notices/rules.py.

Closing is set-based: one INSERT … SELECT … GROUP BY writes every line (both engines), and the fingerprint is fed
from the ledger in id-ordered batches, so 100,000 accounts and a million postings close in seconds."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import AsyncIterator

from piccolo.engine.postgres import PostgresEngine

from backend.accounts.service import issuer_of
from backend.audit import service as audit
from backend.clock import local_date, zone
from backend.community.tables import Node
from backend.db import atomic, engine
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction
from backend.notices import rules
from backend.notices.tables import Notice, NoticeLine, Objection
from backend.people.rules import Principal, require_scope
from backend.people.tables import Person

PAGE_SIZE = 50
FINGERPRINT_BATCH = 20_000  # transactions per read while fingerprinting


def _in_list(values: tuple[str, ...]) -> str:
    # constants from rules.py, never user input
    return ", ".join(f"'{v}'" for v in values)


_EARNING = _in_list(rules.EARNING_KINDS)
_TO_DATE = _in_list(rules.EARNING_KINDS + rules.TO_DATE_ONLY_KINDS)
_STARS = "*" * 100


def _masked(name: str) -> str:
    """backend.people.rules.mask_name in SQL (the same on SQLite and PostgreSQL)."""
    n = f"TRIM({name})"
    return (f"CASE WHEN LENGTH({n}) <= 1 THEN {n} WHEN LENGTH({n}) = 2 THEN SUBSTR({n}, 1, 1) || '*' "
            f"ELSE SUBSTR({n}, 1, 1) || SUBSTR('{_STARS}', 1, LENGTH({n}) - 2) || SUBSTR({n}, LENGTH({n}), 1) END")


# the covered transactions of a notice: up to its cut-off, before its month's end, not covered by the previous one
_COVERED = "t.community = {} AND t.id <= {} AND t.occurred_at < {}"
_NOT_EARLIER = "NOT (t.id <= {} AND t.occurred_at < {})"
# the same, for reading in id order: "+ 0" keeps SQLite (no statistics) off the community index, which would visit
# every transaction of the community for each batch instead of walking the id range
_COVERED_BY_ID = _COVERED.replace("t.community =", "t.community + 0 =")

# A community's first notice sums every earning up to the month's end for `to_date`. Later notices add the
# transactions they cover to the previous notice's frozen `to_date`, so a close reads one month of postings, not
# the whole history. Parameters: notice id, [previous notice id], the previous range (id, end), this range
# (community, id, end), community, true.
_LINES_SQL = f"""
INSERT INTO notice_line (notice, account, holder, name, account_kind, colour, home_path, earned, to_date, rank)
SELECT {{}}, a.id, a.holder,
       CASE WHEN a.kind = 'person' THEN {_masked("COALESCE(h.name, a.name)")} ELSE a.name END,
       a.kind, a.colour, COALESCE(n.path, ''), COALESCE(e.earned, 0), %(to_date)s,
       RANK() OVER (ORDER BY COALESCE(e.earned, 0) DESC)
FROM points_account a
LEFT JOIN person h ON h.id = a.holder
LEFT JOIN community_node n ON n.id = h.home
%(previous_join)s
LEFT JOIN (
    SELECT p.account AS account,
           SUM(CASE WHEN %(earned_range)s (t.kind IN ({_EARNING}) OR o.kind IN ({_EARNING})) THEN p.amount ELSE 0 END) AS earned,
           SUM(CASE WHEN t.kind IN ({_TO_DATE}) OR o.kind IN ({_TO_DATE}) THEN p.amount ELSE 0 END) AS to_date
    FROM ledger_posting p
    JOIN ledger_transaction t ON t.id = p.txn
    LEFT JOIN ledger_transaction o ON o.id = t.reverses AND t.kind = 'reversal'
    WHERE %(where)s
    GROUP BY p.account
) e ON e.account = a.id
WHERE a.community = {{}} AND a.kind IN ({_in_list(rules.LINE_ACCOUNT_KINDS)})
  AND (a.active = {{}} OR e.account IS NOT NULL %(or_previous)s)
"""
_FIRST_LINES_SQL = _LINES_SQL % {
    "to_date": "COALESCE(e.to_date, 0)", "previous_join": "", "earned_range": f"{_NOT_EARLIER} AND",
    "where": _COVERED, "or_previous": ""}
_NEXT_LINES_SQL = _LINES_SQL % {
    "to_date": "COALESCE(pl.to_date, 0) + COALESCE(e.to_date, 0)",
    "previous_join": "LEFT JOIN notice_line pl ON pl.notice = {} AND pl.account = a.id", "earned_range": "",
    "where": f"{_COVERED} AND {_NOT_EARLIER}", "or_previous": "OR pl.to_date <> 0"}


# --- reading the ledger for the fingerprint ---------------------------------------------------------------------

async def _covered_transactions(community_id: int, last_txn_id: int, end: datetime, prev_last_id: int,
                                prev_end: datetime) -> AsyncIterator[rules.CanonicalTransaction]:
    """The transactions a notice covers, in id order, in batches (keyset paging on the id, from the first one)."""
    first = await LedgerTransaction.raw(f"SELECT MIN(t.id) AS first FROM ledger_transaction t WHERE {_COVERED_BY_ID} AND {_NOT_EARLIER}",
                                        community_id, last_txn_id, end, prev_last_id, prev_end)
    if not first or first[0]["first"] is None:
        return
    after = first[0]["first"] - 1
    while True:
        rows = await LedgerTransaction.raw(
            "SELECT s.id, s.kind, s.occurred_at, p.account, p.amount FROM ("
            f"SELECT t.id, t.kind, t.occurred_at FROM ledger_transaction t WHERE t.id > {{}} AND {_COVERED_BY_ID} "
            f"AND {_NOT_EARLIER} ORDER BY t.id LIMIT {{}}) s JOIN ledger_posting p ON p.txn = s.id "
            "ORDER BY s.id, p.account, p.amount",
            after, community_id, last_txn_id, end, prev_last_id, prev_end, FINGERPRINT_BATCH)
        if not rows:
            return
        current: dict | None = None
        postings: list[tuple[int, int]] = []
        for r in rows:
            if current is not None and r["id"] != current["id"]:
                yield rules.CanonicalTransaction(current["id"], current["kind"], _aware(current["occurred_at"]), tuple(postings))
                postings = []
            current = r
            postings.append((r["account"], r["amount"]))
        assert current is not None
        yield rules.CanonicalTransaction(current["id"], current["kind"], _aware(current["occurred_at"]), tuple(postings))
        after = current["id"]


def _aware(value) -> datetime:
    if isinstance(value, str):  # a driver that hands back text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class _Range:
    last_txn_id: int
    end: datetime
    prev_last_id: int
    prev_end: datetime


async def _range_of(notice: dict, previous: dict | None) -> _Range:
    start, end = rules.month_bounds(notice["month"], zone())
    if previous is None:
        # a community's first notice covers its own month; what came before counts to date only
        return _Range(notice["last_txn_id"], end, notice["last_txn_id"], start)
    return _Range(notice["last_txn_id"], end, previous["last_txn_id"], rules.month_bounds(previous["month"], zone())[1])


async def _compute_fingerprint(community_id: int, month: str, previous_fingerprint: str, span: _Range) -> tuple[str, int]:
    chain = rules.Fingerprint(previous_fingerprint, community_id, month)
    async for txn in _covered_transactions(community_id, span.last_txn_id, span.end, span.prev_last_id, span.prev_end):
        chain.add(txn)
    return chain.hexdigest(), chain.count


# --- closing a month ------------------------------------------------------------------------------------------

async def _community(community_id: int) -> dict:
    row = await Node.select(Node.id, Node.name, Node.path, Node.kind).where(Node.id == community_id).first()
    if row is None or row["kind"] != "community":
        raise NotFound("community_not_found")
    return row


async def _cut_off() -> int:
    """The highest committed transaction id. On PostgreSQL a short SHARE lock waits for writers already inserting,
    so no transaction with a lower id can commit after we looked (ids come from a sequence). SQLite has one writer."""
    db = engine()
    if isinstance(db, PostgresEngine):
        async with atomic():
            await db.run_ddl("LOCK TABLE ledger_transaction IN SHARE MODE")
            rows = await LedgerTransaction.raw("SELECT COALESCE(MAX(id), 0) AS top FROM ledger_transaction")
    else:
        rows = await LedgerTransaction.raw("SELECT COALESCE(MAX(id), 0) AS top FROM ledger_transaction")
    return rows[0]["top"]


def _is_unique_violation(exc: Exception) -> bool:
    import sqlite3

    from asyncpg.exceptions import UniqueViolationError

    return isinstance(exc, UniqueViolationError) or (isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc))


async def close_month(principal: Principal | None, community_id: int, month: str, now: datetime) -> int:
    """Freeze the month into a draft notice: every line, ranks, and the chained fingerprint; returns its id.
    `principal` None is the command line / benchmark acting as the system."""
    month = rules.parse_month(month)
    community = await _community(community_id)
    if principal is not None:
        require_scope(principal, "notices.manage", community["path"])
    cut = await _cut_off() if isinstance(engine(), PostgresEngine) else None
    async with atomic():
        notices = await Notice.select(Notice.id, Notice.month, Notice.last_txn_id, Notice.fingerprint).where(
            Notice.community == community_id).order_by(Notice.month)
        rules.check_closable(month, now, zone(), [n["month"] for n in notices])
        previous = notices[-1] if notices else None
        if cut is None:  # SQLite: inside the write transaction no one else is writing
            cut = await _cut_off()
        if previous is not None:
            cut = max(cut, previous["last_txn_id"])
        try:
            notice_id = (await Notice.insert(Notice(
                community=community_id, month=month, state="draft", last_txn_id=cut, fingerprint="",
                previous=previous["id"] if previous else None, previous_fingerprint=previous["fingerprint"] if previous else "",
                closed_by=principal.user_id if principal else None, closed_at=now,
                community_month=f"{community_id}:{month}")))[0]["id"]
        except Exception as exc:
            # a concurrent close of the same month won the unique index (PostgreSQL has aborted this transaction,
            # so ask nothing more of it)
            if _is_unique_violation(exc):
                raise Conflict("month_already_closed", month=month) from None
            raise
        notice = {"month": month, "last_txn_id": cut}
        span = await _range_of(notice, previous)
        if previous is None:
            await NoticeLine.raw(_FIRST_LINES_SQL, notice_id, span.prev_last_id, span.prev_end, community_id,
                                 span.last_txn_id, span.end, community_id, True)
        else:
            await NoticeLine.raw(_NEXT_LINES_SQL, notice_id, previous["id"], community_id, span.last_txn_id, span.end,
                                 span.prev_last_id, span.prev_end, community_id, True)
        digest, count = await _compute_fingerprint(community_id, month, previous["fingerprint"] if previous else "", span)
        await Notice.update({Notice.fingerprint: digest, Notice.txn_count: count}).where(Notice.id == notice_id)
        if principal is not None:
            await audit.log(principal.user_id, "notice.close", "notice", notice_id, community_id,
                            before=None, after={"month": month, "fingerprint": digest, "transactions": count})
    return notice_id


# --- publishing, objections, finalising ---------------------------------------------------------------------------

async def _notice(notice_id: int) -> dict:
    row = await Notice.select(Notice.all_columns(), Notice.community.name.as_alias("community_name"),
                              Notice.community.path.as_alias("community_path")).where(Notice.id == notice_id).first()
    if row is None:
        raise NotFound("notice_not_found")
    return row


async def publish(principal: Principal, notice_id: int, now: datetime, days: int | None = None) -> None:
    notice = await _notice(notice_id)
    require_scope(principal, "notices.manage", notice["community_path"])
    days = rules.objection_days(days)
    rules.check_publishable(notice["state"])
    async with atomic():
        updated = await Notice.update({Notice.state: "published", Notice.published_by: principal.user_id,
                                       Notice.published_at: now,
                                       Notice.objection_ends_at: rules.objection_window_end(now, days)}).where(
            (Notice.id == notice_id) & (Notice.state == "draft")).returning(Notice.id)
        if not updated:
            raise Conflict("notice_not_draft")
        await audit.log(principal.user_id, "notice.publish", "notice", notice_id, notice["community"],
                        before={"state": "draft"}, after={"state": "published", "days": days})


async def raise_objection(principal: Principal, line_id: int, reason: str, now: datetime) -> int:
    if principal.person_id is None:
        raise PermissionDenied("residents_only")
    line = await NoticeLine.select(NoticeLine.id, NoticeLine.notice).where(NoticeLine.id == line_id).first()
    if line is None:
        raise NotFound("line_not_found")
    notice = await _notice(line["notice"])
    person = await Person.select(Person.community).where(Person.id == principal.person_id).first()
    rules.check_objection(notice["state"], notice["objection_ends_at"], now,
                          person is not None and person["community"] == notice["community"], reason)
    async with atomic():
        earlier = await Objection.select(Objection.id).where(
            (Objection.line == line_id) & (Objection.person == principal.person_id) & (Objection.state == "open")).first()
        if earlier is not None:
            raise Conflict("objection_exists")
        return (await Objection.insert(Objection(
            notice=notice["id"], line=line_id, person=principal.person_id, raised_by=principal.user_id,
            reason=reason.strip(), state="open", raised_at=now)))[0]["id"]


async def correctable_transactions(notice_id: int, account_id: int, limit: int = 30) -> list[dict]:
    """The earnings of the line's account that the notice covers, newest first: what an upheld objection may reverse."""
    notice = await Notice.select(Notice.community, Notice.month, Notice.last_txn_id, Notice.previous).where(
        Notice.id == notice_id).first()
    if notice is None:
        raise NotFound("notice_not_found")
    previous = await Notice.select(Notice.month, Notice.last_txn_id).where(Notice.id == notice["previous"]).first() \
        if notice["previous"] else None
    span = await _range_of(notice, previous)
    return await LedgerTransaction.raw(
        "SELECT t.id, t.kind, t.memo, t.source_label, t.occurred_at, p.amount FROM ledger_transaction t "
        f"JOIN ledger_posting p ON p.txn = t.id AND p.account = {{}} WHERE {_COVERED} AND {_NOT_EARLIER} "
        f"AND t.kind IN ({_EARNING}) AND p.amount > 0 AND NOT EXISTS (SELECT 1 FROM ledger_transaction r WHERE r.reverses = t.id) "
        "ORDER BY t.id DESC LIMIT {}",
        account_id, notice["community"], span.last_txn_id, span.end, span.prev_last_id, span.prev_end, limit)


async def resolve(principal: Principal, objection_id: int, decision: str, note: str, points: int | None,
                  now: datetime, reverses: int | None = None) -> int | None:
    """Uphold or reject an objection. An upheld one may correct the points through the ledger: award what was
    missing (`points`) or reverse a transaction of the notice that should not have been (`reverses`). Either is
    recorded now, so it shows in the next notice; the frozen line is never edited. Returns the correcting txn id."""
    objection = await Objection.select(Objection.all_columns(), Objection.line.account.as_alias("account"),
                                       Objection.notice.community.as_alias("community"),
                                       Objection.notice.community.path.as_alias("community_path"),
                                       Objection.notice.month.as_alias("month")).where(Objection.id == objection_id).first()
    if objection is None:
        raise NotFound("objection_not_found")
    require_scope(principal, "notices.manage", objection["community_path"])
    rules.check_resolution(objection["state"], decision, note, points, reverses)
    memo = f"{objection['month']} 公示异议更正：{note.strip()}"[:500]
    key = f"notice-objection:{objection_id}"
    txn_id = None
    async with atomic():
        if reverses is not None:
            allowed = {t["id"]: t for t in await correctable_transactions(objection["notice"], objection["account"], 10_000)}
            if reverses not in allowed:
                raise InvalidInput("not_correctable", field="reverses")
            points = -allowed[reverses]["amount"]
            txn_id = (await ledger.reverse(reverses, memo=memo, actor_id=principal.user_id, idempotency_key=key,
                                           now=now)).transaction_id
        elif points is not None:
            issuer = await issuer_of(objection["community"])
            recorded = await ledger.record(TransactionDraft(
                kind="award", memo=memo, idempotency_key=key, community_id=objection["community"], occurred_at=now,
                postings=(PostingDraft(issuer, -points), PostingDraft(objection["account"], points)),
                actor_id=principal.user_id, source_type="notice", source_ref=str(objection_id),
                source_label=f"{objection['month']} 月度公示异议"))
            txn_id = recorded.transaction_id
        updated = await Objection.update({Objection.state: decision, Objection.resolved_by: principal.user_id,
                                          Objection.resolved_at: now, Objection.resolution: note.strip(),
                                          Objection.correction_txn: txn_id, Objection.correction_points: points}).where(
            (Objection.id == objection_id) & (Objection.state == "open")).returning(Objection.id)
        if not updated:
            raise Conflict("objection_already_resolved")
        await audit.log(principal.user_id, "notice.objection", "notice_objection", objection_id, objection["community"],
                        before={"state": "open"}, after={"state": decision, "points": points, "transaction": txn_id})
    return txn_id


async def finalise(principal: Principal, notice_id: int, now: datetime) -> None:
    notice = await _notice(notice_id)
    require_scope(principal, "notices.manage", notice["community_path"])
    open_count = await Objection.count().where((Objection.notice == notice_id) & (Objection.state == "open"))
    rules.check_finalisable(notice["state"], notice["objection_ends_at"], now, open_count)
    async with atomic():
        updated = await Notice.update({Notice.state: "final", Notice.finalised_by: principal.user_id,
                                       Notice.finalised_at: now}).where(
            (Notice.id == notice_id) & (Notice.state == "published")).returning(Notice.id)
        if not updated:
            raise Conflict("notice_not_published")
        await audit.log(principal.user_id, "notice.finalise", "notice", notice_id, notice["community"],
                        before={"state": "published"}, after={"state": "final", "fingerprint": notice["fingerprint"]})


# --- checking the chain ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainProblem:
    notice_id: int
    community_id: int
    month: str
    what: str  # "fingerprint_mismatch" | "broken_link"
    expected: str
    found: str


async def verify_chain() -> list[ChainProblem]:
    """Recompute every notice's fingerprint from today's ledger rows and the previous notice: a ledger row of a
    closed month changed after closing (amount, account, kind, time) makes it differ."""
    problems: list[ChainProblem] = []
    notices = await Notice.select(Notice.id, Notice.community, Notice.month, Notice.last_txn_id, Notice.fingerprint,
                                  Notice.previous, Notice.previous_fingerprint).order_by(Notice.community).order_by(Notice.month)
    previous: dict | None = None
    for n in notices:
        if previous is not None and previous["community"] != n["community"]:
            previous = None
        expected_link = previous["fingerprint"] if previous else ""
        if n["previous_fingerprint"] != expected_link or n["previous"] != (previous["id"] if previous else None):
            problems.append(ChainProblem(n["id"], n["community"], n["month"], "broken_link", expected_link, n["previous_fingerprint"]))
        digest, _ = await _compute_fingerprint(n["community"], n["month"], n["previous_fingerprint"], await _range_of(n, previous))
        if digest != n["fingerprint"]:
            problems.append(ChainProblem(n["id"], n["community"], n["month"], "fingerprint_mismatch", digest, n["fingerprint"]))
        previous = n
    return problems


# --- reading notices ----------------------------------------------------------------------------------------------

async def communities_for(principal: Principal) -> list[dict]:
    """The communities whose months this member of staff may close."""
    paths = principal.scope_paths("notices.manage")
    rows = await Node.select(Node.id, Node.name, Node.path).where(Node.kind == "community").order_by(Node.id)
    return [r for r in rows if any(r["path"].startswith(p) for p in paths)]


async def staff_notices(principal: Principal) -> list[dict]:
    communities = {c["id"]: c for c in await communities_for(principal)}
    if not communities:
        return []
    rows = await Notice.select(Notice.id, Notice.community, Notice.month, Notice.state, Notice.fingerprint,
                               Notice.closed_at, Notice.objection_ends_at, Notice.txn_count).where(
        Notice.community.is_in(list(communities))).order_by(Notice.month, ascending=False).order_by(Notice.community)
    counts = {r["notice"]: r["n"] for r in await Objection.raw(
        "SELECT notice, COUNT(*) AS n FROM notice_objection WHERE state = 'open' GROUP BY notice")}
    for r in rows:
        r["community_name"] = communities[r["community"]]["name"]
        r["open_objections"] = counts.get(r["id"], 0)
    return rows


def default_month(now: datetime) -> str:
    """The month just ended, the one staff usually close."""
    today = local_date(now)
    return rules.month_of(today.replace(day=1).fromordinal(today.replace(day=1).toordinal() - 1))


@dataclass
class NoticePage:
    notice: dict
    lines: list[dict]
    total_lines: int
    page: int
    pages: int
    query: str
    objections: list[dict]
    totals: dict
    places: dict[int, str]  # node id -> name, for the lines' grid and building
    correctable: dict[int, list[dict]] = field(default_factory=dict)  # open objection id -> transactions to reverse


async def _places(paths: list[str]) -> dict[int, str]:
    ids = {int(part) for p in paths for part in p.strip("/").split("/") if part}
    if not ids:
        return {}
    return {r["id"]: r["name"] for r in await Node.select(Node.id, Node.name, Node.kind).where(
        Node.id.is_in(list(ids)) & Node.kind.is_in(["grid", "building"]))}


def _where_lines(notice_id: int, query: str):
    where = NoticeLine.notice == notice_id
    if query:
        where &= NoticeLine.name.ilike(f"%{query}%")
    return where


async def notice_page(principal: Principal, notice_id: int, query: str = "", page: int = 1) -> NoticePage:
    notice = await _notice(notice_id)
    require_scope(principal, "notices.manage", notice["community_path"])
    return await _page(notice, query, page, with_objections=True)


async def _page(notice: dict, query: str, page: int, with_objections: bool, person_id: int | None = None) -> NoticePage:
    query = (query or "").strip()[:50]
    where = _where_lines(notice["id"], query)
    total = await NoticeLine.count().where(where)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    lines = await NoticeLine.select().where(where).order_by(NoticeLine.rank).order_by(NoticeLine.id).limit(
        PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    objections: list[dict] = []
    if with_objections or person_id is not None:
        select = Objection.select(Objection.all_columns(), Objection.line.name.as_alias("line_name"),
                                  Objection.line.earned.as_alias("line_earned"),
                                  Objection.line.account.as_alias("line_account"),
                                  Objection.person.name.as_alias("person_name")).where(Objection.notice == notice["id"])
        if not with_objections:
            select = select.where(Objection.person == person_id)
        objections = await select.order_by(Objection.id)
    sums = await NoticeLine.raw("SELECT COUNT(*) AS n, COALESCE(SUM(earned), 0) AS earned, COALESCE(SUM(to_date), 0) AS to_date "
                                "FROM notice_line WHERE notice = {}", notice["id"])
    correctable = {o["id"]: await correctable_transactions(notice["id"], o["line_account"])
                   for o in objections if with_objections and o["state"] == "open"}
    return NoticePage(notice, lines, total, page, pages, query, objections, sums[0],
                      await _places([line["home_path"] for line in lines]), correctable)


async def resident_notice(principal: Principal, query: str = "", page: int = 1) -> tuple[NoticePage | None, list[int]]:
    """The latest published notice of the resident's community, their own objections, and their accounts' ids."""
    if principal.person_id is None:
        raise PermissionDenied("residents_only")
    person = await Person.select(Person.community).where(Person.id == principal.person_id).first()
    if person is None:
        raise NotFound("person_not_found")
    notice_row = await _latest_public(person["community"])
    if notice_row is None:
        return None, []
    from backend.accounts.tables import Account

    mine = [r["id"] for r in await Account.select(Account.id).where(Account.holder == principal.person_id)]
    return await _page(await _notice(notice_row["id"]), query, page, with_objections=False, person_id=principal.person_id), mine


async def my_lines(notice_id: int, account_ids: list[int]) -> list[dict]:
    if not account_ids:
        return []
    return await NoticeLine.select().where((NoticeLine.notice == notice_id) & NoticeLine.account.is_in(account_ids))


async def _latest_public(community_id: int) -> dict | None:
    return await Notice.select(Notice.id, Notice.month, Notice.state, Notice.fingerprint).where(
        (Notice.community == community_id) & Notice.state.is_in(["published", "final"])).order_by(
        Notice.month, ascending=False).first()


async def published_board(community_id: int, limit: int = 20) -> dict | None:
    """The latest published or final notice of a community, for the public screen; None before the first one."""
    notice = await _latest_public(community_id)
    if notice is None:
        return None
    rows = await NoticeLine.select(NoticeLine.name, NoticeLine.colour, NoticeLine.earned, NoticeLine.to_date,
                                   NoticeLine.rank).where(NoticeLine.notice == notice["id"]).order_by(
        NoticeLine.rank).order_by(NoticeLine.id).limit(limit)
    return {"month": notice["month"], "state": notice["state"], "fingerprint": notice["fingerprint"],
            "rows": [{"name": r["name"], "colour": r["colour"], "earned": r["earned"], "to_date": r["to_date"],
                      "rank": r["rank"]} for r in rows]}


# --- exports ---------------------------------------------------------------------------------------------------

async def export_rows(principal: Principal, notice_id: int) -> tuple[dict, list[dict]]:
    """The whole notice for a spreadsheet, in rank order. Staff of the community, or a resident of it once published."""
    notice = await _notice(notice_id)
    if not principal.can_at("notices.manage", notice["community_path"]):
        person = await Person.select(Person.community).where(Person.id == principal.person_id).first() \
            if principal.person_id else None
        if person is None or person["community"] != notice["community"] or notice["state"] == "draft":
            raise PermissionDenied()
    lines = await NoticeLine.select(NoticeLine.rank, NoticeLine.name, NoticeLine.colour, NoticeLine.account_kind,
                                    NoticeLine.home_path, NoticeLine.earned, NoticeLine.to_date).where(
        NoticeLine.notice == notice_id).order_by(NoticeLine.rank).order_by(NoticeLine.id)
    places = await _places([line["home_path"] for line in lines])
    for line in lines:
        line["place"] = place_of(line["home_path"], places)
    return notice, lines


def place_of(home_path: str, places: dict[int, str]) -> str:
    return " · ".join(places[int(p)] for p in home_path.strip("/").split("/") if p and int(p) in places)


def check_points(text: str) -> int | None:
    """Points to award, as staff type them: "", "5", "+5"."""
    text = (text or "").strip().replace("＋", "+").replace("－", "-")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput("bad_amount", field="points") from None
