"""Points per account, community and local period (month, quarter, year): what people and organisations earned,
and what alliance merchants accepted in redemptions.

Boards, grid rankings, stars and charts read this rollup instead of summing a period's postings (a year's are a
million) on every page view: a board is a walk down an index of one period's rows.

How it is kept: the scan hot path must not pay for it, so writing the ledger only notes which postings are new.
A trigger on ledger_posting adds the ids of new postings to standings_pending, inside the
writing transaction (every write path: the ledger service, the scan hot path's raw SQL, imports, corrections; a
rolled-back write leaves no note). Readers call catch_up() first: in one transaction it takes the pending notes
(on PostgreSQL `DELETE … RETURNING`, so two readers never fold the same posting) and adds their postings into the
rollup, set-based, one upsert per account and period however many postings there were. So a board always shows
every committed posting, and the rollup is never half-written.

"Earned" is the ledger's definition (ledger.rules.EARNING_KINDS, less reversals of those, counted when the
reversal happened); a merchant's points are its redemptions less reversed ones. Only accounts that appear on
boards are kept (people, organisations, merchants); `entries` counts the transactions (not their reversals).

Periods are the communities' local months, quarters and years, keyed like rules.Period.key ("2026-07",
"2026-Q3", "2026"), in settings.timezone. PostgreSQL converts with the named zone; SQLite's date functions know
only fixed offsets, which is what China's zones are. The zone the rollup was built in is recorded in
standings_rollup_state (schema state like the trigger: not a piccolo table, so tests emptying tables keep it),
and a process that starts with a different zone rebuilds the rollup (see ensure())."""
from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from backend.db import atomic, fetch, is_postgres
from backend.ledger.rules import EARNING_KINDS
from backend.standings.rules import BOARD_KINDS

TABLE = "standings_points"
PENDING = "standings_pending"
STATE = "standings_rollup_state"
TRIGGER = "standings_pending_on_posting"
KEPT_KINDS = BOARD_KINDS + ("merchant",)  # merchants for their redemptions
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-/]+$")


class ZoneNotSupported(ValueError):
    """SQLite can bucket periods only in a zone with one fixed UTC offset."""


def sql_words(values) -> str:
    """A literal IN list of fixed words (kinds): never user input."""
    return ", ".join(f"'{v}'" for v in values)


def fixed_offset_minutes(zone_name: str) -> int:
    """The zone's UTC offset in minutes, if it has the same offset all year round (checked hourly over two years)."""
    zone = ZoneInfo(zone_name)
    start = datetime(2024, 1, 1)
    offsets = {zone.utcoffset(start + timedelta(hours=h)) for h in range(0, 2 * 366 * 24, 1)}
    if len(offsets) != 1:
        raise ZoneNotSupported(f"time zone {zone_name} changes its UTC offset; on SQLite use a fixed-offset zone "
                               "(e.g. Asia/Shanghai) or PostgreSQL")
    return int(offsets.pop().total_seconds() // 60)


def period_sql(zone_name: str, column: str = "t.occurred_at") -> list[str]:
    """SQL for the local month ('2026-07'), quarter ('2026-Q3') and year ('2026') of a timestamp column."""
    if not _ZONE_NAME.match(zone_name):
        raise ZoneNotSupported(f"bad time zone name {zone_name!r}")
    ZoneInfo(zone_name)  # raises for an unknown zone
    if is_postgres():
        local = f"({column} AT TIME ZONE '{zone_name}')"
        return [f"to_char({local}, 'YYYY-MM')", f"to_char({local}, 'YYYY-\"Q\"Q')", f"to_char({local}, 'YYYY')"]
    shift = f"'{fixed_offset_minutes(zone_name):+d} minutes'"
    year = f"strftime('%Y', {column}, {shift})"
    return [f"strftime('%Y-%m', {column}, {shift})",
            f"{year} || '-Q' || ((CAST(strftime('%m', {column}, {shift}) AS INTEGER) + 2) / 3)", year]


EARNING = (f"(t.kind IN ({sql_words(EARNING_KINDS)}) OR (t.kind = 'reversal' AND o.kind IN ({sql_words(EARNING_KINDS)})))")
COUNTED = (f"((a.kind IN ({sql_words(BOARD_KINDS)}) AND {EARNING}) OR (a.kind = 'merchant' AND "
           "(t.kind = 'redemption' OR (t.kind = 'reversal' AND o.kind = 'redemption'))))")
ENTRY = "CASE WHEN t.kind = 'reversal' THEN 0 ELSE 1 END"


def _trigger_ddl() -> list[str]:
    """Note new postings. PostgreSQL: once per statement over its transition table (the hot path writes a
    transaction's postings in one statement), every posting (a join to the accounts there cost the writer more
    than the fold spends skipping the issuer's side); SQLite, which has only row triggers: postings to counted
    accounts."""
    if is_postgres():
        return [
            f"DROP TRIGGER IF EXISTS {TRIGGER} ON ledger_posting",
            f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"INSERT INTO {PENDING} (posting) SELECT id FROM new_postings; RETURN NULL; END $$",
            f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON ledger_posting REFERENCING NEW TABLE AS new_postings "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}()",
        ]
    kinds = sql_words(KEPT_KINDS)
    return [f"DROP TRIGGER IF EXISTS {TRIGGER}",
            f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON ledger_posting "
            f"WHEN (SELECT kind FROM points_account WHERE id = NEW.account) IN ({kinds}) "
            f"BEGIN INSERT INTO {PENDING} (posting) VALUES (NEW.id); END"]


def aggregate_sql(zone_name: str, postings: str = "ledger_posting") -> str:
    """Points and entries per community, account and period of the postings in `postings` (a table or a subquery
    with the posting columns), straight from the ledger."""
    per_period = [
        f"SELECT t.community AS community, p.account AS account, {period} AS period, SUM(p.amount) AS points, "
        f"SUM({ENTRY}) AS entries FROM {postings} p JOIN ledger_transaction t ON t.id = p.txn "
        "LEFT JOIN ledger_transaction o ON o.id = t.reverses JOIN points_account a ON a.id = p.account "
        f"WHERE {COUNTED} GROUP BY t.community, p.account, {period}"
        for period in period_sql(zone_name)]
    return " UNION ALL ".join(per_period)


_ADD = (f"ON CONFLICT (community, account, period) DO UPDATE "
        f"SET points = {TABLE}.points + excluded.points, entries = {TABLE}.entries + excluded.entries")


async def catch_up() -> int:
    """Fold the pending postings into the rollup; how many there were. Cheap when there are none (one read)."""
    if not await fetch(f"SELECT posting FROM {PENDING} LIMIT 1"):
        return 0
    async with atomic():
        zone_name = await installed_zone()
        if is_postgres():
            await fetch("SELECT pg_advisory_xact_lock(7355002)")  # one fold at a time: no two lock pending rows crosswise
            taken = await fetch(
                f"WITH taken AS (DELETE FROM {PENDING} RETURNING posting), "
                "postings AS (SELECT p.* FROM ledger_posting p JOIN taken ON taken.posting = p.id), "
                f"added AS (INSERT INTO {TABLE} (community, account, period, points, entries) "
                f"SELECT * FROM ({aggregate_sql(zone_name, 'postings')}) folded {_ADD} RETURNING 1) "
                "SELECT COUNT(*) AS n FROM taken")
            return int(taken[0]["n"])
        # SQLite: this transaction holds the only write lock, so no note can arrive between the fold and the delete
        count = (await fetch(f"SELECT COUNT(*) AS n FROM {PENDING}"))[0]["n"]
        postings = f"(SELECT p.* FROM ledger_posting p WHERE p.id IN (SELECT posting FROM {PENDING}))"
        await fetch(f"INSERT INTO {TABLE} (community, account, period, points, entries) "
                    f"SELECT * FROM ({aggregate_sql(zone_name, postings)}) folded WHERE true {_ADD}")
        await fetch(f"DELETE FROM {PENDING}")
        return int(count)


async def keep_folding(seconds: float) -> None:
    """Fold in the background every `seconds` (a server process's task), so readers find little to fold."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await catch_up()
        except Exception:  # a busy or briefly unreachable database: the next round or the next reader folds
            logging.getLogger(__name__).warning("standings fold failed; retrying later", exc_info=True)


async def install(zone_name: str) -> None:
    """(Re)build the trigger and the rollup (in the zone) from the whole ledger, in one transaction."""
    async with atomic():
        if is_postgres():  # two processes starting at once: one rebuilds, the other then finds it done
            await fetch("SELECT pg_advisory_xact_lock(7355001)")
        for ddl in _trigger_ddl():
            await fetch(ddl)
        await fetch(f"DELETE FROM {PENDING}")
        await fetch(f"DELETE FROM {TABLE}")
        await fetch(f"INSERT INTO {TABLE} (community, account, period, points, entries) "
                   f"SELECT community, account, period, points, entries FROM ({aggregate_sql(zone_name)}) ledger")
        await fetch(f"DELETE FROM {STATE}")
        await fetch(f"INSERT INTO {STATE} (zone) VALUES (?)", zone_name)


async def installed_zone() -> str | None:
    rows = await fetch(f"SELECT zone FROM {STATE}")
    return rows[0]["zone"] if rows else None


async def ensure(zone_name: str) -> bool:
    """Install for the zone unless it already is; True when it rebuilt."""
    period_sql(zone_name)  # a zone SQLite cannot bucket fails here, at start-up, with the reason
    if await installed_zone() == zone_name:
        return False
    await install(zone_name)
    return True


async def differences(zone_name: str) -> list[dict]:
    """Rows where the rollup and the ledger disagree (none, unless someone edited ledger rows in place)."""
    await catch_up()
    ledger = aggregate_sql(zone_name)
    sql = (f"SELECT l.community, l.account, l.period, l.points AS ledger, COALESCE(r.points, 0) AS rollup FROM ({ledger}) l "
           f"LEFT JOIN {TABLE} r ON r.community = l.community AND r.account = l.account AND r.period = l.period "
           "WHERE COALESCE(r.points, 0) <> l.points OR COALESCE(r.entries, 0) <> l.entries "
           f"UNION ALL SELECT r.community, r.account, r.period, 0, r.points FROM {TABLE} r "
           "WHERE (r.points <> 0 OR r.entries <> 0) AND NOT EXISTS "
           f"(SELECT 1 FROM ({ledger}) l WHERE l.community = r.community AND l.account = r.account AND l.period = r.period)")
    return await fetch(sql)
