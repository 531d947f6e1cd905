"""Bringing existing residents in from a sheet: preview (parse + check, store the batch) and commit (people,
accounts and opening balances, all in ONE transaction).

The commit writes in bulk — a few INSERTs per chunk of rows instead of a few queries per row — and keeps the
ledger's invariants itself: every opening transaction has two postings summing to zero (issuer -> person), each new
account's cached balance is its one posting, the issuer's cache moves by the total. `ledger.verify()` proves it.

Progress: the commit is one transaction, so the database cannot show how far it got. The web layer runs it as a
background task of the process that received the request and the task reports into `_progress` (this process
only). Another worker serving the progress poll sees the batch as "previewed" until the commit lands; a
second commit of the same batch waits for the first and then finds it no longer pending (the state is claimed
inside the same transaction). The database never holds "committing": a crash mid-commit rolls everything back and
leaves the batch "previewed", to be committed again.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from piccolo.table import Table

from backend.accounts.service import issuer_of
from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.community.tables import Node
from backend.db import atomic
from backend.errors import Conflict, DomainError, InvalidInput, NotFound
from backend.imports import rules
from backend.imports.tables import ImportBatch
from backend.ledger import rules as ledger_rules
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction, Posting
from backend.people.rules import Principal, require_scope
from backend.people.tables import Person

log = logging.getLogger(__name__)

CAPABILITY = "people.import"
CHUNK = 500  # rows per INSERT: well under SQLite's and asyncpg's bound-parameter limits
RECENT = 20
SHOWN_ERRORS = 200
SAMPLE = 20

ProgressFn = Callable[[int, int], None]


@dataclass
class Progress:
    done: int
    total: int


# batch id -> progress of a commit running in THIS process; see the module docstring
_progress: dict[int, Progress] = {}
_tasks: dict[int, asyncio.Task] = {}
_starts: dict[int, int] = {}  # runs started per batch by this process; only compared within one call


@dataclass(frozen=True)
class Status:
    state: str  # previewed | committing | committed | failed
    done: int
    total: int
    created: int
    failure: str | None


@dataclass(frozen=True)
class Committed:
    people: int
    accounts: int
    openings: int
    points: int


# ---- reading ----------------------------------------------------------------------------------------------------

async def communities(principal: Principal) -> list[dict]:
    """The communities the staff member may import into (granted on them or on a street above)."""
    paths = principal.scope_paths(CAPABILITY)
    if not paths:
        return []
    where = Node.kind == "community"
    scope = None
    for path in paths:
        clause = Node.path.like(f"{path}%")
        scope = clause if scope is None else scope | clause
    return await Node.select(Node.id, Node.name, Node.path).where(where & scope).order_by(Node.path)


async def recent(principal: Principal) -> list[dict]:
    paths = principal.scope_paths(CAPABILITY)
    if not paths:
        return []
    where = None
    for path in paths:
        clause = ImportBatch.community.path.like(f"{path}%")
        where = clause if where is None else where | clause
    rows = await ImportBatch.select(
        ImportBatch.id, ImportBatch.filename, ImportBatch.state, ImportBatch.row_count, ImportBatch.error_count,
        ImportBatch.created_count, ImportBatch.created_at, ImportBatch.community.name.as_alias("community_name"),
        ImportBatch.uploaded_by.display_name.as_alias("uploaded_by_name"),
    ).where(where).order_by(ImportBatch.created_at, ascending=False).order_by(ImportBatch.id, ascending=False).limit(RECENT)
    for row in rows:
        if row["id"] in _progress:
            row["state"] = "committing"
    return rows


async def _meta(batch_id: int) -> dict:
    row = await ImportBatch.select(
        ImportBatch.id, ImportBatch.filename, ImportBatch.community, ImportBatch.state, ImportBatch.row_count,
        ImportBatch.error_count, ImportBatch.created_count, ImportBatch.created_at, ImportBatch.failure,
        ImportBatch.community.name.as_alias("community_name"), ImportBatch.community.path.as_alias("community_path"),
        ImportBatch.uploaded_by.display_name.as_alias("uploaded_by_name"),
    ).where(ImportBatch.id == batch_id).first()
    if row is None:
        raise NotFound("import_not_found")
    return row


async def _rows(batch_id: int) -> list[dict]:
    row = await ImportBatch.select(ImportBatch.rows).where(ImportBatch.id == batch_id).output(load_json=True).first()
    return row["rows"] if row else []


def _status(meta: dict, running: Progress | None) -> Status:
    if running is not None and meta["state"] == "previewed":
        return Status("committing", running.done, running.total, 0, None)
    done = meta["created_count"] if meta["state"] == "committed" else 0
    return Status(meta["state"], done, meta["row_count"], meta["created_count"], meta["failure"])


async def status(principal: Principal, batch_id: int) -> tuple[dict, Status]:
    # look at the progress BEFORE reading the row: a read that started before the commit landed still shows
    # "committing", never a stale "previewed" once the task has gone
    running = _progress.get(batch_id)
    meta = await _meta(batch_id)
    require_scope(principal, CAPABILITY, meta["community_path"])
    return meta, _status(meta, running)


@dataclass(frozen=True)
class BatchView:
    meta: dict
    status: Status
    errors: list[dict]  # {"row", "name", "column", "code", "params"}, in sheet order, at most SHOWN_ERRORS
    error_total: int
    sample: list[dict]  # the first good rows
    good_rows: int
    people_with_points: int
    points: int


async def view(principal: Principal, batch_id: int) -> BatchView:
    meta, state = await status(principal, batch_id)
    rows = await _rows(batch_id)
    errors = [dict(e, row=r["row"], name=r["name"]) for r in rows for e in r["errors"]]
    good = [r for r in rows if not r["errors"]]
    sample = [dict(r, colours=rules.account_colours(r["party"], r["lead"])) for r in good[:SAMPLE]]
    return BatchView(meta, state, errors[:SHOWN_ERRORS], len(errors), sample, len(good),
                     sum(1 for r in good if r["points"] > 0), sum(r["points"] for r in good))


async def template_place(principal: Principal) -> tuple[str, str, str] | None:
    """A real grid / building / unit of the staff member's first community, for the sample file."""
    for community in await communities(principal):
        nodes = await Node.select(Node.id, Node.kind, Node.name, Node.path).where(Node.path.like(f"{community['path']}%"))
        index = rules.place_index(nodes)
        for (_, _, unit), places in sorted(index.by_names.items()):
            if unit:
                return tuple(part.strip() for part in places[0].label.split(" / ")[-3:])  # type: ignore[return-value]
    return None


# ---- preview ----------------------------------------------------------------------------------------------------

async def _community(principal: Principal, community_id: int | None) -> dict:
    if community_id is None:
        raise InvalidInput("community_required", field="community")
    node = await Node.select(Node.id, Node.kind, Node.name, Node.path).where(Node.id == community_id).first()
    if node is None or node["kind"] != "community":
        raise InvalidInput("community_required", field="community")
    require_scope(principal, CAPABILITY, node["path"])
    return node


async def _existing_people(community_id: int) -> set[tuple]:
    rows = await Person.select(Person.name, Person.phone, Person.home).where(Person.community == community_id)
    return {rules.person_key(r["name"], r["phone"], r["home"]) for r in rows}


async def preview(principal: Principal, community_id: int | None, filename: str, content: bytes) -> int:
    """Parse and check the sheet; store it as a "previewed" batch (errors included) and return its id.
    A file that cannot be read at all raises InvalidInput and stores nothing."""
    community = await _community(principal, community_id)
    rules.check_size(len(content))
    filename = (filename or "upload").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    # parsing a large workbook takes a moment of CPU: keep the event loop free for other requests
    sheet = await asyncio.to_thread(rules.read_sheet, filename, content)
    nodes = await Node.select(Node.id, Node.kind, Node.name, Node.path).where(Node.path.like(f"{community['path']}%"))
    checked = await asyncio.to_thread(rules.check_sheet, sheet, rules.place_index(nodes),
                                      await _existing_people(community["id"]))
    inserted = await ImportBatch.insert(ImportBatch(
        filename=filename, community=community["id"], uploaded_by=principal.user_id, state="previewed",
        rows=checked.rows, error_count=checked.error_rows, row_count=checked.row_count, created_count=0,
    ))
    return inserted[0]["id"]


# ---- commit -----------------------------------------------------------------------------------------------------

def _check_pending(meta: dict) -> None:
    if meta["state"] != "previewed":
        raise Conflict("import_not_pending")
    if meta["error_count"]:
        raise Conflict("import_has_errors")


async def start_commit(principal: Principal, batch_id: int, now: datetime) -> Status:
    """Start the commit as a background task of this process and return at once (state "committing").
    Asking again while it runs is harmless: the same task goes on."""
    starts_seen = _starts.get(batch_id, 0)
    meta, state = await status(principal, batch_id)
    if batch_id in _tasks:
        return state
    _check_pending(meta)
    if any(r["points"] > 0 for r in await _rows(batch_id)):
        await issuer_of(meta["community"])  # fail now, with the batch still pending, rather than mid-commit
    # another click got here during the awaits above: its run is going on, or has already finished
    if batch_id in _tasks:
        return Status("committing", _progress[batch_id].done, _progress[batch_id].total, 0, None)
    if _starts.get(batch_id, 0) != starts_seen:
        return (await status(principal, batch_id))[1]
    # no await from here on, so no other click can get between the checks and the start
    _starts[batch_id] = starts_seen + 1
    _progress[batch_id] = Progress(0, meta["row_count"])
    task = asyncio.create_task(_run(principal, batch_id, now), name=f"import-{batch_id}")
    _tasks[batch_id] = task

    def finished(done: asyncio.Task) -> None:
        if _tasks.get(batch_id) is done:
            del _tasks[batch_id]
            _progress.pop(batch_id, None)

    task.add_done_callback(finished)
    return Status("committing", 0, meta["row_count"], 0, None)


async def _run(principal: Principal, batch_id: int, now: datetime) -> None:
    def report(done: int, total: int) -> None:
        _progress[batch_id] = Progress(done, total)

    try:
        await commit(principal, batch_id, now, progress=report)
    except DomainError as exc:
        log.warning("import %s not committed: %s", batch_id, exc)
    except Exception:
        log.exception("import %s failed", batch_id)


async def wait(batch_id: int) -> None:
    """Until this process's commit of the batch (if any) has finished. For tests and shutdown."""
    task = _tasks.get(batch_id)
    if task is not None:
        await asyncio.wait({task})


async def commit(principal: Principal, batch_id: int, now: datetime, progress: ProgressFn | None = None) -> Committed:
    """Everything or nothing. The state moves previewed -> committed inside the transaction, so two commits of one
    batch cannot both write; if anything fails the transaction rolls back and the batch is marked "failed"."""
    meta = await _meta(batch_id)
    require_scope(principal, CAPABILITY, meta["community_path"])
    _check_pending(meta)
    rows = await _rows(batch_id)
    try:
        async with atomic():
            claimed = await ImportBatch.update({ImportBatch.state: "committed"}).where(
                (ImportBatch.id == batch_id) & (ImportBatch.state == "previewed") & (ImportBatch.error_count == 0)
            ).returning(ImportBatch.id)
            if not claimed:
                raise _Taken()
            result = await _write(meta, rows, principal.user_id, now, progress)
            await ImportBatch.update({ImportBatch.created_count: result.people}).where(ImportBatch.id == batch_id)
            await audit.log(principal.user_id, "people.import", "import_batch", batch_id, meta["community"], before=None,
                            after={"filename": meta["filename"], "people": result.people, "accounts": result.accounts,
                                   "opening_transactions": result.openings, "opening_points": result.points})
    except _Taken:
        raise Conflict("import_not_pending") from None
    except Exception as exc:
        await ImportBatch.update({ImportBatch.state: "failed",
                                  ImportBatch.failure: exc.code if isinstance(exc, DomainError) else "import_failed"}).where(
            (ImportBatch.id == batch_id) & (ImportBatch.state == "previewed"))
        raise
    return result


class _Taken(Exception):
    """Another commit claimed the batch first (raised inside the transaction so it rolls back)."""


async def _insert_ids(table: type[Table], rows: list[dict]) -> list[int]:
    """One multi-row INSERT ... RETURNING id for rows that all have the same keys (the table's column names).

    Written as SQL rather than `table.insert(*instances)`: building thousands of Table instances and their query
    strings cost piccolo far more than the database's own work (benchmarks/import_10k.py, 10,000 rows on SQLite:
    commit 6.3 s with Table.insert, 1.1 s like this; one ledger.record() per person instead: ~39 s).
    A multi-row INSERT numbers its rows in VALUES order on both engines, but RETURNING's order is not promised,
    so the ids are sorted rather than trusted."""
    if not rows:
        return []
    columns = ", ".join('"%s"' % table._meta.get_column_by_name(name)._meta.db_column_name for name in rows[0])
    values = "(" + ", ".join(["{}"] * len(rows[0])) + ")"
    sql = f'INSERT INTO "{table._meta.tablename}" ({columns}) VALUES {", ".join([values] * len(rows))} RETURNING "id"'
    ids = sorted(r["id"] for r in await table.raw(sql, *[v for row in rows for v in row.values()]))
    if len(ids) != len(rows):
        raise RuntimeError(f"{table.__name__}: inserted {len(rows)}, got {len(ids)} ids back")
    return ids


async def _write(meta: dict, rows: list[dict], actor_id: int, now: datetime, progress: ProgressFn | None) -> Committed:
    community_id = meta["community"]
    total_points = sum(r["points"] for r in rows)
    issuer = await issuer_of(community_id) if total_points else None
    memo = f"{rules.OPENING_MEMO}（{meta['filename']}）"[: ledger_rules.MAX_MEMO]
    people = accounts = openings = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        person_ids = await _insert_ids(Person, [{
            "name": r["name"], "phone": r["phone"], "home": r["home"], "community": community_id,
            "is_party_member": r["party"], "is_building_lead": r["lead"], "created_at": now,
        } for r in chunk])
        new_accounts: list[dict] = []
        receives: list[int] = []  # index into new_accounts of each row's first account
        for r, person_id in zip(chunk, person_ids):
            receives.append(len(new_accounts))
            for i, colour in enumerate(rules.account_colours(r["party"], r["lead"])):
                # a new account's only posting will be its opening one: the cache starts at that amount
                new_accounts.append({"kind": "person", "colour": colour, "holder": person_id, "name": r["name"],
                                     "community": community_id, "balance": r["points"] if i == 0 else 0,
                                     "may_go_negative": False, "active": True, "created_at": now})
        account_ids = await _insert_ids(Account, new_accounts)
        drafts = [TransactionDraft(
            kind="opening", memo=memo, idempotency_key=f"import-{meta['id']}-row-{r['row']}", community_id=community_id,
            occurred_at=now, postings=(PostingDraft(issuer, -r["points"]), PostingDraft(account_ids[receives[i]], r["points"])),
            actor_id=actor_id, source_type="import", source_ref=str(meta["id"]), source_label=meta["filename"][:200],
        ) for i, r in enumerate(chunk) if r["points"] > 0]
        for draft in drafts:
            ledger_rules.check_draft(draft)
        txn_ids = await _insert_ids(LedgerTransaction, [{
            "kind": d.kind, "memo": d.memo, "actor": d.actor_id, "source_type": d.source_type, "source_ref": d.source_ref,
            "source_label": d.source_label, "idempotency_key": d.idempotency_key, "community": d.community_id,
            "occurred_at": d.occurred_at, "recorded_at": now, "reverses": None,
        } for d in drafts])
        await _insert_ids(Posting, [{"txn": txn_id, "account": p.account_id, "amount": p.amount}
                                    for txn_id, d in zip(txn_ids, drafts) for p in d.postings])
        people += len(person_ids)
        accounts += len(account_ids)
        openings += len(txn_ids)
        if progress is not None:
            progress(people, len(rows))
        # SQLite runs a write transaction's statements on the event loop's own thread (backend.db.LoopConnection):
        # give the loop back between chunks, so pages and reads are answered during a large import, not after it
        await asyncio.sleep(0)
    if issuer is not None:
        await Account.update({Account.balance: Account.balance - total_points}, use_auto_update=False).where(Account.id == issuer)
    return Committed(people, accounts, openings, total_points)
