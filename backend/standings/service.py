"""Standings from the ledger: set-based SQL (GROUP BY over postings joined to their transactions and accounts) that
runs the same on SQLite and PostgreSQL. Nothing here writes points; awards and selections are recognition only.

Boards, grid rankings, stars and charts read the monthly rollup that a trigger keeps with every ledger posting
(rollup.py); reports that need a transaction's label or time (category mix, statements, 守望之星) read the ledger,
through the ledger app's indexes ledger_transaction (community, occurred_at, kind, reverses) and
ledger_posting (txn, account, amount)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

from piccolo.engine.sqlite import SQLiteEngine

from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.clock import zone
from backend.community.tables import Node
from backend.db import atomic, engine
from backend.errors import InvalidInput, NotFound, PermissionDenied
from backend.people.rules import Principal, mask_name, require_scope
from backend.people.tables import Person, RoleGrant, User
from backend.standings import rollup, rules
from backend.standings.rules import Period
from backend.standings.tables import AwardCandidate, GridSelection, StandingsSettings

MANAGE = "standings.manage"
# 守望之星 honours looking after neighbours: volunteer hours and the catalogue's helping categories
WATCH_CATEGORIES = ("志愿服务", "邻里互助", "爱心帮扶")


def _time(moment: datetime):
    """SQLite keeps timestamps as UTC text ("2026-07-01 02:03:00+00:00"): compare like with like."""
    moment = moment.astimezone(timezone.utc)
    return str(moment) if isinstance(engine(), SQLiteEngine) else moment


async def _rows(sql: str, *args) -> list[dict]:
    return await Account.raw(sql, *args)


async def _rollup_rows(sql: str, *args) -> list[dict]:
    """A read of the rollup, after folding in the postings written since the last read."""
    await rollup.catch_up()
    return await _rows(sql, *args)


_in = rollup.sql_words


EARNED_FROM = f"""
FROM ledger_transaction t
JOIN ledger_posting p ON p.txn = t.id
LEFT JOIN ledger_transaction o ON o.id = t.reverses
JOIN points_account a ON a.id = p.account
"""
EARNED_WHERE = f"""
t.community = {{}} AND t.occurred_at >= {{}} AND t.occurred_at < {{}}
AND {rollup.EARNING}
"""


@dataclass(frozen=True)
class Scope:
    """Which accounts a board covers: a community, optionally a grid or building below it, a colour, a kind."""

    community_id: int
    node_path: str | None = None  # a grid's or building's path: people living below it
    colour: str | None = None
    kind: str = "person"  # person | organisation

    def sql(self) -> tuple[str, str, list]:
        """(extra joins, extra conditions, their parameters)."""
        joins, where, args = "", f" AND a.kind = {{}}", [self.kind]
        if self.colour:
            where += " AND a.colour = {}"
            args.append(self.colour)
        if self.node_path:
            joins = " JOIN person h ON h.id = a.holder JOIN community_node n ON n.id = h.home"
            where += " AND n.path LIKE {}"
            args.append(self.node_path + "%")
        return joins, where, args


@dataclass
class BoardRow:
    rank: int
    account_id: int
    name: str  # masked for people
    colour: str | None
    kind: str
    earned: int


ROLLUP_FROM = "FROM standings_points r JOIN points_account a ON a.id = r.account"


def _per_account(scope: Scope, period: Period) -> tuple[str, list]:
    """SQL for (account, earned) of every account in scope that earned something in the period: the period's rows
    of the rollup (standings/rollup.py), read down the (community, period, earned) index."""
    joins, where, args = scope.sql()
    return (f"SELECT r.account AS account, r.points AS earned {ROLLUP_FROM}{joins} "
            f"WHERE r.community = {{}} AND r.period = {{}} AND r.points <> 0{where}", [scope.community_id, period.key, *args])


def _keys(periods: list[Period]) -> str:
    """An IN list of period keys (made here from Period, never user input)."""
    return ", ".join(f"'{p.key}'" for p in periods)


async def earned_by_account(scope: Scope, period: Period, limit: int | None = 10, offset: int = 0) -> list[tuple[int, int]]:
    """(account id, earned) high to low, accounts with nothing earned left out."""
    sql, params = _per_account(scope, period)
    sql += " ORDER BY earned DESC, account"
    if limit is not None:
        sql += " LIMIT {} OFFSET {}"
        params += [limit, offset]
    return [(r["account"], int(r["earned"])) for r in await _rollup_rows(sql, *params)]


async def leaderboard(scope: Scope, period: Period, limit: int = 10, offset: int = 0, masked: bool = True) -> list[BoardRow]:
    ranked = await earned_by_account(scope, period, limit, offset)
    if not ranked:
        return []
    accounts = {a["id"]: a for a in await Account.select(Account.id, Account.name, Account.colour, Account.kind)
                .where(Account.id.is_in([account for account, _ in ranked]))}
    ranks = rules.competition_ranks([earned for _, earned in ranked])
    if offset:
        # ties across the page boundary: the first rank on this page counts everyone above it
        above = await _count_above(scope, period, ranked[0][1])
        ranks = [r - ranks[0] + above + 1 for r in ranks]
    rows = []
    for rank, (account_id, earned) in zip(ranks, ranked):
        a = accounts[account_id]
        name = mask_name(a["name"]) if masked and a["kind"] == "person" else a["name"]
        rows.append(BoardRow(rank, account_id, name, a["colour"], a["kind"], earned))
    return rows


async def _count_above(scope: Scope, period: Period, earned: int) -> int:
    sql, params = _per_account(scope, period)
    rows = await _rows(f"SELECT COUNT(*) AS n FROM ({sql}) ranked WHERE earned > {{}}", *params, earned)  # folded by the caller
    return int(rows[0]["n"])


@dataclass
class MyRank:
    account_id: int
    earned: int
    rank: int | None  # None: nothing earned in the period
    of: int  # how many accounts earned something


async def my_rank(scope: Scope, period: Period, account_id: int) -> MyRank:
    sql, params = _per_account(scope, period)
    mine = await _rollup_rows(f"SELECT COALESCE(SUM(earned), 0) AS earned FROM ({sql}) ranked WHERE account = {{}}", *params, account_id)
    earned = int(mine[0]["earned"])
    total = int((await _rows(f"SELECT COUNT(*) AS n FROM ({sql}) ranked", *params))[0]["n"])
    rank = await _count_above(scope, period, earned) + 1 if earned else None
    return MyRank(account_id, earned, rank, total)


# --- grids ----------------------------------------------------------------------------------------------------

async def grids_of(community_id: int) -> list[dict]:
    community = await Node.select(Node.path).where(Node.id == community_id).first()
    if community is None:
        raise NotFound("node_not_found")
    grids = await Node.select(Node.id, Node.name, Node.path, Node.parent.name.as_alias("compound")).where(
        (Node.kind == "grid") & Node.path.like(community["path"] + "%")).order_by(Node.id)
    # grids are often numbered per compound (第一网格 in each): name the compound when a name repeats
    names = [g["name"] for g in grids]
    return [{**g, "name": f"{g['compound']} {g['name']}" if names.count(g["name"]) > 1 else g["name"]} for g in grids]


async def buildings_of(community_id: int) -> list[dict]:
    community = await Node.select(Node.path).where(Node.id == community_id).first()
    if community is None:
        raise NotFound("node_not_found")
    return await Node.select(Node.id, Node.name, Node.path).where(
        (Node.kind == "building") & Node.path.like(community["path"] + "%")).order_by(Node.id)


async def grid_scores(community_id: int, period: Period) -> list[rules.GridScore]:
    """Every grid of the community with its residents, households (people sharing a home: the finest place the
    registry records) and the points its residents earned in the period.

    The SQL groups by home node; which grid a home lies in is worked out here from the node paths (a community has
    hundreds of nodes, not millions), so no row of the big GROUP BY is matched against grid paths."""
    grids = await grids_of(community_id)
    if not grids:
        return []
    community = await Node.select(Node.path).where(Node.id == community_id).first()
    grid_of_path = {g["path"]: g["id"] for g in grids}
    grid_of_node: dict[int, int] = {}
    for node in await Node.select(Node.id, Node.path).where(Node.path.like(community["path"] + "%")):
        parts = node["path"].strip("/").split("/")
        for i in range(len(parts), 0, -1):
            grid = grid_of_path.get("/" + "/".join(parts[:i]) + "/")
            if grid is not None:
                grid_of_node[node["id"]] = grid
                break
    earned = await _rollup_rows(
        f"SELECT h.home AS home, SUM(r.points) AS earned {ROLLUP_FROM} JOIN person h ON h.id = a.holder "
        "WHERE r.community = {} AND r.period = {} AND a.kind = 'person' GROUP BY h.home", community_id, period.key)
    homes = await _rows("SELECT home, COUNT(*) AS residents FROM person WHERE community = {} GROUP BY home", community_id)
    totals = {g["id"]: [0, 0, 0] for g in grids}  # residents, households, earned
    for r in homes:
        grid = grid_of_node.get(r["home"])
        if grid is not None:
            totals[grid][0] += int(r["residents"])
            totals[grid][1] += 1
    for r in earned:
        grid = grid_of_node.get(r["home"])
        if grid is not None:
            totals[grid][2] += int(r["earned"])
    return rules.rank_grids([rules.GridScore(g["id"], g["name"], *totals[g["id"]]) for g in grids])


async def grid_workers(community_id: int) -> dict[int, list[dict]]:
    """Grid workers: staff granted a role on a grid node. grid id -> [{id, display_name}]."""
    grids = {g["id"] for g in await grids_of(community_id)}
    if not grids:
        return {}
    rows = await RoleGrant.select(RoleGrant.node, RoleGrant.user, RoleGrant.user.display_name.as_alias("display_name")).where(
        RoleGrant.node.is_in(list(grids)) & (RoleGrant.role != "resident"))
    workers: dict[int, list[dict]] = {}
    for r in rows:
        workers.setdefault(r["node"], []).append({"id": r["user"], "display_name": r["display_name"]})
    return workers


@dataclass
class QuarterSelection:
    quarter: Period
    grids: list[rules.GridScore]
    proposed: list[rules.GridScore]  # computed red-flag grids
    workers: dict[int, list[dict]]
    decided: list[dict]  # what staff confirmed (GridSelection rows)
    count: int


async def quarter_selection(community_id: int, quarter: Period) -> QuarterSelection:
    settings = await settings_of(community_id)
    grids = await grid_scores(community_id, quarter)
    decided = await GridSelection.select(GridSelection.all_columns(), GridSelection.grid.name.as_alias("grid_name"),
                                         GridSelection.worker.display_name.as_alias("worker_name")).where(
        (GridSelection.community == community_id) & (GridSelection.quarter == quarter.key)).order_by(GridSelection.rank)
    return QuarterSelection(quarter, grids, rules.red_flag_grids(grids, settings["red_flag_count"]),
                            await grid_workers(community_id), decided, settings["red_flag_count"])


async def confirm_selection(principal: Principal, community_id: int, quarter: Period, now: datetime) -> int:
    """Freeze the computed red-flag grids and their grid workers for the quarter (replacing an earlier decision)."""
    await _require_manage(principal, community_id)
    if quarter.kind != "quarter":
        raise InvalidInput("bad_period", field="quarter")
    selection = await quarter_selection(community_id, quarter)
    async with atomic():
        await GridSelection.delete().where((GridSelection.community == community_id) & (GridSelection.quarter == quarter.key))
        rows = []
        for rank, grid in enumerate(selection.proposed, start=1):
            common = dict(community=community_id, quarter=quarter.key, grid=grid.grid_id, rank=rank,
                          per_resident=round(grid.per_resident * 100), decided_by=principal.user_id, decided_at=now)
            rows.append(GridSelection(kind="red_flag", **common))
            rows += [GridSelection(kind="grid_worker", worker=w["id"], **common) for w in selection.workers.get(grid.grid_id, [])]
        if rows:
            await GridSelection.insert(*rows)
        await audit.log(principal.user_id, "standings.red_flag", "quarter", quarter.key, community_id,
                        after={"grids": [g.grid_id for g in selection.proposed]})
    return len(selection.proposed)


# --- merchants and organisations (the alliance) ----------------------------------------------------------------

async def merchant_ranking(community_id: int, period: Period, limit: int = 20) -> list[dict]:
    """Alliance merchants by the points they accepted in redemptions (net of reversed redemptions)."""
    rows = await _rollup_rows(
        f"SELECT a.id AS account, a.name AS name, r.points AS points, r.entries AS redemptions {ROLLUP_FROM} "
        "WHERE r.community = {} AND r.period = {} AND a.kind = 'merchant' AND r.points <> 0 "
        "ORDER BY points DESC, account LIMIT {}", community_id, period.key, limit)
    ranks = rules.competition_ranks([int(r["points"]) for r in rows])
    return [{"rank": rank, "account_id": r["account"], "name": r["name"], "points": int(r["points"]),
             "redemptions": int(r["redemptions"])} for rank, r in zip(ranks, rows)]


# --- charts: points over time, participation, category mix --------------------------------------------------------

def _bucket_case(periods: list[Period]) -> tuple[str, list]:
    """CASE that puts a transaction in its local month: portable, no time-zone functions in SQL."""
    bounds = [p.bounds(zone()) for p in periods]
    sql = "CASE " + " ".join(f"WHEN t.occurred_at < {{}} THEN {i}" for i in range(len(periods))) + " END"
    return sql, [_time(end) for _, end in bounds]


@dataclass
class MonthPoint:
    month: Period
    earned: int = 0
    earners: int = 0


async def monthly_series(community_id: int, months: list[Period], node_path: str | None = None) -> list[MonthPoint]:
    """Points earned and active earners (accounts that earned something) per month."""
    if not months:
        return []
    scope = Scope(community_id, node_path=node_path)
    joins, _, _ = scope.sql()
    extra, args = (" AND n.path LIKE {}", [node_path + "%"]) if node_path else ("", [])
    # the rollup has one row per account and month already
    rows = await _rollup_rows(
        f"SELECT r.period AS period, SUM(r.points) AS earned, SUM(CASE WHEN r.points > 0 THEN 1 ELSE 0 END) AS earners "
        f"{ROLLUP_FROM}{joins} WHERE r.community = {{}} AND r.period IN ({_keys(months)}) "
        f"AND a.kind IN ({_in(rules.BOARD_KINDS)}){extra} GROUP BY r.period", community_id, *args)
    series = {m.key: MonthPoint(m) for m in months}
    for r in rows:
        if r["period"] in series:
            series[r["period"]].earned = int(r["earned"])
            series[r["period"]].earners = int(r["earners"])
    return list(series.values())


async def category_mix(community_id: int, period: Period) -> list[tuple[str, int]]:
    """Points awarded per catalogue category (the part of the ledger's label before " · "), largest first."""
    start, end = period.bounds(zone())
    rows = await _rows(
        "SELECT t.source_label AS label, t.kind AS kind, SUM(p.amount) AS points "
        "FROM ledger_transaction t JOIN ledger_posting p ON p.txn = t.id JOIN points_account a ON a.id = p.account "
        f"WHERE t.community = {{}} AND t.occurred_at >= {{}} AND t.occurred_at < {{}} AND t.kind IN ({_in(rules.EARNING_KINDS)}) "
        f"AND a.kind IN ({_in(rules.BOARD_KINDS)}) GROUP BY t.source_label, t.kind",
        community_id, _time(start), _time(end))
    mix: dict[str, int] = {}
    for r in rows:
        label = (r["label"] or "").split(" · ")[0].strip() if r["label"] else ""
        key = label or ("hours" if r["kind"] == "hours" else "other")
        mix[key] = mix.get(key, 0) + int(r["points"])
    return sorted(mix.items(), key=lambda kv: (-kv[1], kv[0]))


# --- stars -------------------------------------------------------------------------------------------------------

@dataclass
class StarLine:
    account_id: int
    name: str
    monthly: list[int]
    stars: int


async def star_ratings(community_id: int, quarter: Period, account_id: int | None = None) -> list[StarLine]:
    """Every party member's (red account's) quarter: monthly scores and stars by the community's rule."""
    thresholds = rules.parse_thresholds((await settings_of(community_id))["star_thresholds"])
    months = quarter.months()
    keys = [m.key for m in months]
    only, only_args = (" AND r.account = {}", [account_id]) if account_id else ("", [])
    rows = await _rollup_rows(
        f"SELECT r.period AS period, r.account AS account, r.points AS earned {ROLLUP_FROM} "
        f"WHERE r.community = {{}} AND r.period IN ({_keys(months)}) "
        f"AND a.kind = 'person' AND a.colour = 'red'{only}", community_id, *only_args)
    scores: dict[int, list[int]] = {}
    for r in rows:
        scores.setdefault(r["account"], [0] * len(months))[keys.index(r["period"])] += int(r["earned"])
    where = (Account.community == community_id) & (Account.kind == "person") & (Account.colour == "red") & (Account.active == True)  # noqa: E712
    if account_id:
        where &= Account.id == account_id
    members = await Account.select(Account.id, Account.name).where(where).order_by(Account.name)
    lines = [StarLine(m["id"], m["name"], scores.get(m["id"], [0] * len(months)),
                      rules.stars(scores.get(m["id"], [0] * len(months)), thresholds)) for m in members]
    return sorted(lines, key=lambda line: (-line.stars, -sum(line.monthly), line.name))


# --- settings ----------------------------------------------------------------------------------------------------

DEFAULTS = {"star_thresholds": ",".join(map(str, rules.DEFAULT_STAR_THRESHOLDS)), "red_flag_count": 2,
            "shortlist_size": 10, "screen_token": None}


async def settings_of(community_id: int) -> dict:
    row = await StandingsSettings.select().where(StandingsSettings.community == community_id).first()
    return {**DEFAULTS, **{k: row[k] for k in DEFAULTS}} if row else dict(DEFAULTS)


async def _require_manage(principal: Principal, community_id: int) -> dict:
    node = await Node.select(Node.path, Node.kind).where(Node.id == community_id).first()
    if node is None or node["kind"] != "community":
        raise NotFound("node_not_found")
    require_scope(principal, MANAGE, node["path"])
    return node


async def save_settings(principal: Principal, community_id: int, *, star_thresholds: str, red_flag_count: int | None,
                        shortlist_size: int | None, now: datetime) -> None:
    await _require_manage(principal, community_id)
    thresholds = rules.parse_thresholds(star_thresholds)
    if red_flag_count is None or not 1 <= red_flag_count <= rules.MAX_RED_FLAG:
        raise InvalidInput("bad_count", field="red_flag_count", max=rules.MAX_RED_FLAG)
    if shortlist_size is None or not 1 <= shortlist_size <= rules.MAX_SHORTLIST:
        raise InvalidInput("bad_count", field="shortlist_size", max=rules.MAX_SHORTLIST)
    values = {"star_thresholds": ",".join(map(str, thresholds)), "red_flag_count": red_flag_count,
              "shortlist_size": shortlist_size}
    await _upsert_settings(principal, community_id, values, now, "standings.settings")


async def _upsert_settings(principal: Principal, community_id: int, values: dict, now: datetime, action: str) -> None:
    async with atomic():
        before = await settings_of(community_id)
        row = await StandingsSettings.select(StandingsSettings.id).where(StandingsSettings.community == community_id).first()
        if row:
            await StandingsSettings.update({**{getattr(StandingsSettings, k): v for k, v in values.items()},
                                            StandingsSettings.updated_by: principal.user_id,
                                            StandingsSettings.updated_at: now}).where(StandingsSettings.id == row["id"])
        else:
            await StandingsSettings.insert(StandingsSettings(community=community_id, **{**DEFAULTS, **values},
                                                             updated_by=principal.user_id, updated_at=now))
        # the token itself stays out of the log: the log is readable by more people than the screen's address
        logged = {k: ("(set)" if k == "screen_token" and v else v) for k, v in values.items()}
        await audit.log(principal.user_id, action, "community", community_id, community_id,
                        before={k: ("(set)" if k == "screen_token" and before[k] else before[k]) for k in values}, after=logged)


async def new_screen_token(principal: Principal, community_id: int, now: datetime, switch_off: bool = False) -> str | None:
    """A fresh unguessable address for the public screen; the old address stops working at once."""
    await _require_manage(principal, community_id)
    token = None if switch_off else secrets.token_urlsafe(18)
    await _upsert_settings(principal, community_id, {"screen_token": token}, now, "standings.screen_token")
    return token


async def community_of_screen(token: str) -> dict:
    if not token or len(token) > 64:
        raise NotFound("screen_not_found")
    row = await StandingsSettings.select(StandingsSettings.community, StandingsSettings.community.name.as_alias("name")).where(
        StandingsSettings.screen_token == token).first()
    if row is None:
        raise NotFound("screen_not_found")
    return {"id": row["community"], "name": row["name"]}


# --- yearly awards -----------------------------------------------------------------------------------------------

async def award_points(community_id: int, year: int, category: str, limit: int) -> list[tuple[int, int]]:
    """(account, points) for a year's shortlist: all earning for 积分之星, helping neighbours for 守望之星."""
    if category not in rules.AWARD_CATEGORIES:
        raise InvalidInput("bad_category", field="category")
    period = Period("year", year, 1)
    if category == "points_star":
        return await earned_by_account(Scope(community_id), period, limit)
    start, end = period.bounds(zone())
    labels = " OR ".join("COALESCE(t.source_label, o.source_label) LIKE {}" for _ in WATCH_CATEGORIES)
    rows = await _rows(
        f"SELECT p.account AS account, SUM(p.amount) AS earned {EARNED_FROM} WHERE {EARNED_WHERE} AND a.kind = 'person' "
        f"AND (t.kind = 'hours' OR o.kind = 'hours' OR {labels}) "
        "GROUP BY p.account HAVING SUM(p.amount) > 0 ORDER BY earned DESC, p.account LIMIT {}",
        community_id, _time(start), _time(end), *[f"{c} ·%" for c in WATCH_CATEGORIES], limit)
    return [(r["account"], int(r["earned"])) for r in rows]


async def draw_shortlist(principal: Principal, community_id: int, year: int, category: str, now: datetime) -> int:
    """Compute the shortlist from the ledger. Candidates the committee already nominated or decided on stay as they
    are; the rest of the old shortlist is replaced."""
    await _require_manage(principal, community_id)
    size = (await settings_of(community_id))["shortlist_size"]
    top = await award_points(community_id, year, category, size)
    ranks = rules.competition_ranks([points for _, points in top])
    async with atomic():
        where = (AwardCandidate.community == community_id) & (AwardCandidate.year == year) & (AwardCandidate.category == category)
        await AwardCandidate.delete().where(where & (AwardCandidate.state == "shortlisted"))
        kept = {r["account"] for r in await AwardCandidate.select(AwardCandidate.account).where(where)}
        rows = [AwardCandidate(community=community_id, year=year, category=category, account=account, points=points,
                               rank=rank, state="shortlisted", created_at=now)
                for rank, (account, points) in zip(ranks, top) if account not in kept]
        if rows:
            await AwardCandidate.insert(*rows)
        await audit.log(principal.user_id, "standings.shortlist", "award", f"{year}:{category}", community_id,
                        after={"candidates": [a for a, _ in top]})
    return len(top)


async def candidates(community_id: int, year: int) -> list[dict]:
    return await AwardCandidate.select(
        AwardCandidate.all_columns(), AwardCandidate.account.name.as_alias("name"),
        AwardCandidate.account.kind.as_alias("account_kind"),
        AwardCandidate.nominated_by.display_name.as_alias("nominated_by_name"),
        AwardCandidate.decided_by.display_name.as_alias("decided_by_name"),
    ).where((AwardCandidate.community == community_id) & (AwardCandidate.year == year)).order_by(
        AwardCandidate.category).order_by(AwardCandidate.rank)


async def candidate(candidate_id: int) -> dict:
    row = await AwardCandidate.select(AwardCandidate.all_columns(), AwardCandidate.account.name.as_alias("name"),
                                      AwardCandidate.community.name.as_alias("community_name"),
                                      AwardCandidate.community.path.as_alias("community_path")).where(
        AwardCandidate.id == candidate_id).first()
    if row is None:
        raise NotFound("award_not_found")
    return row


async def move_award(principal: Principal, candidate_id: int, move: str, note: str, now: datetime) -> str:
    """Committee steps: nominate a shortlisted candidate, then award or not (or withdraw the nomination)."""
    async with atomic():
        row = await candidate(candidate_id)
        require_scope(principal, MANAGE, row["community_path"])
        state = rules.check_award_move(row["state"], move)
        if len(note) > 500:
            raise InvalidInput("note_too_long", field="note", max=500)
        values = {AwardCandidate.state: state, AwardCandidate.note: note.strip() or row["note"]}
        if move in ("nominate", "withdraw"):
            values |= {AwardCandidate.nominated_by: principal.user_id if move == "nominate" else None,
                       AwardCandidate.nominated_at: now if move == "nominate" else None}
        else:
            values |= {AwardCandidate.decided_by: principal.user_id, AwardCandidate.decided_at: now}
        # the state check is in the WHERE too: two committee members clicking at once decide only once
        done = await AwardCandidate.update(values).where((AwardCandidate.id == candidate_id) & (AwardCandidate.state == row["state"])).returning(AwardCandidate.id)
        if not done:
            from backend.errors import Conflict

            raise Conflict("award_state", state=row["state"])
        await audit.log(principal.user_id, f"standings.award.{move}", "award", candidate_id, row["community"],
                        before={"state": row["state"]}, after={"state": state, "note": note.strip()})
    return state


# --- statements --------------------------------------------------------------------------------------------------

@dataclass
class Statement:
    account: dict
    year: int
    monthly: list[MonthPoint]
    items: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(m.earned for m in self.monthly)


async def statement(account_id: int, year: int) -> Statement:
    """A person's or organisation's year: earned per month and every earning line (for employers and supervising
    departments)."""
    account = await Account.select(Account.all_columns(), Account.community.name.as_alias("community_name"),
                                   Account.community.path.as_alias("community_path")).where(Account.id == account_id).first()
    if account is None or account["kind"] not in rules.BOARD_KINDS:
        raise NotFound("account_not_found")
    period = Period("year", year, 1)
    months = period.months()
    case, case_args = _bucket_case(months)
    start, end = period.bounds(zone())
    rows = await _rows(
        f"SELECT {case} AS bucket, SUM(p.amount) AS earned {EARNED_FROM} WHERE {EARNED_WHERE} AND p.account = {{}} GROUP BY 1",
        *case_args, account["community"], _time(start), _time(end), account_id)
    monthly = [MonthPoint(m) for m in months]
    for r in rows:
        monthly[int(r["bucket"])].earned = int(r["earned"])
    items = await _rows(
        f"SELECT t.id AS id, t.kind AS kind, t.occurred_at AS occurred_at, t.memo AS memo, t.source_label AS label, "
        f"p.amount AS points {EARNED_FROM} WHERE {EARNED_WHERE} AND p.account = {{}} ORDER BY t.occurred_at, t.id",
        account["community"], _time(start), _time(end), account_id)
    for item in items:
        if isinstance(item["occurred_at"], str):
            item["occurred_at"] = datetime.fromisoformat(item["occurred_at"])
    return Statement(account, year, monthly, items)


async def check_statement_access(principal: Principal, account: dict) -> None:
    """Staff of the account's community, or the holder themself."""
    if principal.person_id is not None and account.get("holder") == principal.person_id:
        return
    require_scope(principal, MANAGE, account["community_path"])


async def accounts_of(person_id: int | None) -> list[dict]:
    if person_id is None:
        return []
    return await Account.select(Account.id, Account.name, Account.colour, Account.kind, Account.community,
                                Account.community.name.as_alias("community_name"), Account.holder).where(
        (Account.holder == person_id) & (Account.kind == "person"))


async def communities_for(principal: Principal, capability: str = MANAGE) -> list[dict]:
    paths = principal.scope_paths(capability)
    if not paths:
        return []
    where = None
    for path in paths:
        clause = Node.path.like(path + "%")
        where = clause if where is None else where | clause
    return await Node.select(Node.id, Node.name, Node.path).where((Node.kind == "community") & where).order_by(Node.id)


async def community_name(community_id: int) -> str:
    row = await Node.select(Node.name, Node.kind).where(Node.id == community_id).first()
    if row is None or row["kind"] != "community":
        raise NotFound("node_not_found")
    return row["name"]


async def person_home_community(person_id: int) -> int | None:
    row = await Person.select(Person.community).where(Person.id == person_id).first()
    return row["community"] if row else None


async def user_name(user_id: int) -> str:
    row = await User.select(User.display_name).where(User.id == user_id).first()
    if row is None:
        raise PermissionDenied()
    return row["display_name"]
