"""The database engine, the one way services open a write transaction, and the few primitives the hot paths
use: raw parameterised SQL on the current transaction's connection, and short-lived in-process caches."""
from __future__ import annotations

import asyncio
import contextvars
import functools
import re
import sqlite3
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Awaitable, Callable, Hashable

import msgspec
from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory


class DatabaseUnavailable(RuntimeError):
    pass


# --- in-process caches ---------------------------------------------------------------------------------------

class TTLCache:
    """A few rows that rarely change (a device, a station, an item's value today), kept for `seconds` in this
    process. The process that changes such a row calls `forget` at once; other processes see it within `seconds`."""

    def __init__(self, seconds: float, max_size: int = 10_000):
        self.seconds = seconds
        self.max_size = max_size
        self._rows: dict[Hashable, tuple[float, Any]] = {}
        _CACHES.append(self)

    def get(self, key: Hashable, default: Any = None) -> Any:
        found = self._rows.get(key)
        if found is None or time.monotonic() >= found[0]:
            return default
        return found[1]

    def put(self, key: Hashable, value: Any) -> Any:
        if len(self._rows) >= self.max_size:
            self._rows.clear()  # crude, and never reached by a real deployment's few stations and items
        self._rows[key] = (time.monotonic() + self.seconds, value)
        return value

    def forget(self, key: Hashable | None = None) -> None:
        if key is None:
            self._rows.clear()
        else:
            self._rows.pop(key, None)


_CACHES: list[TTLCache] = []


def forget_caches() -> None:
    """Drop every cached row (after bulk changes: migrations, tests emptying tables)."""
    for cache in _CACHES:
        cache.forget()


_BULK = ("DELETE", "TRUNCATE", "DROP", "UPDATE", "INSERT", "ALTER", "CREATE")


def _bulk_change(ddl: str) -> bool:
    return ddl.lstrip().upper().startswith(_BULK)


# --- SQLite ------------------------------------------------------------------------------------------------

class _Done:
    """The result of a statement already run: what piccolo awaits or enters (`async with conn.execute(...)`)."""

    __slots__ = ("cursor",)

    def __init__(self, cursor: sqlite3.Cursor):
        self.cursor = cursor

    def __await__(self):
        if False:  # pragma: no cover — makes this a generator: awaiting returns at once
            yield
        return self

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        self.cursor.close()

    async def fetchall(self) -> list:
        return self.cursor.fetchall()

    async def fetchone(self):
        return self.cursor.fetchone()

    @property
    def lastrowid(self):
        return self.cursor.lastrowid


# the writer's commits between two WAL checkpoints (a scan group's commit writes some tens of pages; SQLite's own
# automatic checkpoint comes every 1,000)
CHECKPOINT_EVERY = 20


class LoopConnection:
    """A plain sqlite3 connection used on the event loop's own thread. Only for work that never waits on a lock:
    statements inside a write transaction that already holds SQLite's write lock, and reads (WAL: readers never
    wait). A short statement takes tens of microseconds; handing it to a worker thread and back costs more than
    that, and under load the hand-off waits for the GIL (which made scans take hundreds of milliseconds)."""

    def __init__(self, path: str, timeout: float):
        self.timeout_ms = int(timeout * 1000)
        self.raw = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
                                   isolation_level=None, check_same_thread=False, timeout=timeout)
        self.raw.row_factory = dict_factory
        self.raw.execute("PRAGMA foreign_keys = 1")
        self.raw.execute("PRAGMA synchronous = NORMAL")
        # never wait inside SQLite on the loop's thread: begin_immediate waits for other processes instead; once
        # it holds the write lock nothing else of this connection waits (WAL readers never do)
        self.raw.execute("PRAGMA busy_timeout = 0")
        # the hot tables' indexes stay in this connection's page cache (SQLite's default: 2 MB)
        self.raw.execute("PRAGMA cache_size = -16384")  # 16 MB
        # savepoints (two a scan) keep the pages they change in a sub-journal: in memory, not a temporary file
        # (which cost a write() per page and tripled the time of every statement inside a savepoint)
        self.raw.execute("PRAGMA temp_store = MEMORY")
        self.path, self.commits, self.checkpointing, self.checkpointer = path, 0, False, None

    def checkpoint_in_background(self) -> None:
        """For the writer: copy the WAL back into the database file on a worker thread now and then, instead of
        inside a commit on the loop (SQLite's automatic checkpoint, which also fsyncs: milliseconds)."""
        self.raw.execute("PRAGMA wal_autocheckpoint = 0")

    def committed(self) -> None:
        self.commits += 1
        if self.commits >= CHECKPOINT_EVERY and not self.checkpointing:
            self.commits, self.checkpointing = 0, True
            done = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
            done.add_done_callback(lambda _: setattr(self, "checkpointing", False))

    def _checkpoint(self) -> None:
        try:
            if self.checkpointer is None:
                self.checkpointer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                                    timeout=self.timeout_ms / 1000)
            self.checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")  # never blocks the writer or readers
        except sqlite3.Error:
            pass  # the next one will try again; meanwhile the WAL just grows

    # what piccolo calls on a transaction's connection
    row_factory = property(lambda self: self.raw.row_factory, lambda self, value: None)

    def execute(self, sql: str, args=()) -> _Done:
        return _Done(self.raw.execute(sql, args))

    def rows(self, sql: str, args=()) -> list[dict]:
        return self.raw.execute(sql, args).fetchall()

    async def begin_immediate(self) -> None:
        """Take the write lock. If another process holds it, wait (up to the engine's timeout) without blocking
        the loop: this connection's busy timeout is 0, so SQLite answers "busy" at once and we sleep here."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        pause = 0.001
        while True:
            try:
                self.raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def commit(self) -> None:
        self.raw.execute("COMMIT")

    async def close(self) -> None:
        pass  # kept for the next transaction


class _GroupState:
    """What a group commit keeps on its transaction (see grouped), on either engine's transaction class."""

    hot_moves: dict[int, list[int]] | None = None  # set by a group commit (see defer_move)
    deferred_rows: list[tuple[Any, dict]] | None = None  # set by a group's first pass (see defer_insert)
    deferred_moves: list[tuple[int, int, "BalanceAfter"]] | None = None  # PostgreSQL first pass (see defer_balance_move)
    moved_now: set[int] | None = None  # accounts that moved at once in such a pass (see moving_now)

    async def savepoint(self, name: str | None = None) -> "_Savepoint":
        return _Savepoint(await super().savepoint(name), self)


class _WriteTransaction(_GroupState, SQLiteTransaction):
    """BEGIN IMMEDIATE on this thread's writer connection, kept open between transactions, its statements run
    on the loop (it holds the write lock, so none of them waits). Entered only under the writer lock."""

    async def __aenter__(self):
        if self._parent is not None:
            return self._parent
        self.connection = self.engine.loop_connection("writer")
        await self.connection.begin_immediate()
        self.context = self.engine.current_transaction.set(self)
        return self

    async def begin(self):
        self.connection.raw.execute("BEGIN IMMEDIATE")

    async def commit(self):
        self.connection.raw.execute("COMMIT")
        self._committed = True
        self.connection.committed()

    async def rollback(self):
        self.connection.raw.execute("ROLLBACK")
        self._rolled_back = True

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception is not None:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                try:
                    await self.commit()
                except BaseException:
                    if self.connection.raw.in_transaction:
                        self.connection.raw.execute("ROLLBACK")
                    raise
        finally:
            self.engine.current_transaction.reset(self.context)
        return exception is None


class LinliSQLiteEngine(SQLiteEngine):
    """SQLite in WAL mode with synchronous=NORMAL on every connection: a commit is durable across an application
    crash and the file is never corrupted by a power cut, but the last commits before a power cut may be lost
    (they are not fsync'ed one by one). That is what makes a single station box fast; a district runs PostgreSQL.

    Write transactions (atomic()) run on one long-lived connection per thread, on the event loop (see
    LoopConnection); everything else goes through piccolo's worker-thread connections as before."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._local = threading.local()

    async def get_connection(self):
        connection = await super().get_connection()
        await connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    def loop_connection(self, role: str) -> LoopConnection:
        found = getattr(self._local, role, None)
        if found is None:
            found = LoopConnection(self.path, self.connection_kwargs.get("timeout", 5.0))
            if role == "writer":
                found.checkpoint_in_background()
            setattr(self._local, role, found)
        return found

    def transaction(self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True):
        if transaction_type is TransactionType.immediate and self.current_transaction.get() is None:
            return _WriteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)
        return super().transaction(transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_existing_connection(self, connection, query: str, args=None, query_type: str = "generic",
                                          table=None):
        if isinstance(connection, LoopConnection):
            return connection.rows(query, args or [])
        return await super()._run_in_existing_connection(connection, query, args, query_type, table)

    async def run_ddl(self, ddl: str, in_pool: bool = False):
        try:
            return await super().run_ddl(ddl, in_pool)
        finally:
            if _bulk_change(ddl):
                forget_caches()


class _PostgresTransaction(_GroupState, PostgresTransaction):
    """piccolo's transaction; `lazy` (a group's first pass) sends BEGIN only before the first statement that is not
    a plain read (see _LazyBegin). A first pass whose jobs only read and defer their writes never begins: its one
    end statement (backend.db._finish_group) commits on its own, and two round trips a group are saved."""

    def __init__(self, engine, allow_nested: bool = True, lazy: bool = False):
        super().__init__(engine=engine, allow_nested=allow_nested)
        self.lazy, self.begun = lazy, False

    async def begin(self):
        if self.lazy:
            self.connection = _LazyBegin(self.connection, self)
        else:
            await self.ensure_begun()

    async def ensure_begun(self) -> None:
        if not self.begun:
            await self.transaction.start()
            self.begun = True

    async def commit(self):
        if self.begun:
            await self.transaction.commit()
        self._committed = True

    async def rollback(self):
        if self.begun:
            await self.transaction.rollback()
        self._rolled_back = True

    async def savepoint(self, name: str | None = None) -> "_Savepoint":
        await self.ensure_begun()
        return await super().savepoint(name)

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent is None and isinstance(self.connection, _LazyBegin):
            self.connection = self.connection.raw  # what the pool lent
        return await super().__aexit__(exception_type, exception, traceback)


# a statement that may run before a lazy transaction's BEGIN: a SELECT that neither locks nor has a side effect
_PLAIN_READ = re.compile(r"\s*SELECT\b(?!.*\b(?:FOR\s+(?:UPDATE|SHARE|NO\s+KEY|KEY\s+SHARE)|pg_advisory\w*|nextval|setval"
                         r"|pg_notify)\b)", re.IGNORECASE | re.DOTALL)


@functools.lru_cache(maxsize=512)
def _plain_read(sql: str) -> bool:
    return _PLAIN_READ.match(sql) is not None


class _LazyBegin:
    """The connection of a lazy transaction: plain reads run at once (at READ COMMITTED each statement reads its
    own snapshot, inside a transaction or not, and nothing has been written yet); anything else sends BEGIN
    first. Only the calls piccolo and this module make are offered: any other fails loudly rather than run
    outside the transaction."""

    def __init__(self, raw, transaction: _PostgresTransaction):
        self.raw, self.transaction = raw, transaction

    async def _ready(self, sql: str) -> None:
        if not self.transaction.begun and not _plain_read(sql):
            await self.transaction.ensure_begun()

    async def fetch(self, sql: str, *args, **kwargs):
        await self._ready(sql)
        return await self.raw.fetch(sql, *args, **kwargs)

    async def execute(self, sql: str, *args, **kwargs):
        await self._ready(sql)
        return await self.raw.execute(sql, *args, **kwargs)


class _Savepoint:
    """piccolo's savepoint, which when rolled back to also forgets the rows deferred since (see defer_insert)."""

    def __init__(self, inner, transaction):
        self.inner, self.transaction = inner, transaction
        self.deferred = len(transaction.deferred_rows) if transaction.deferred_rows is not None else 0

    async def rollback_to(self) -> None:
        await self.inner.rollback_to()
        if self.transaction.deferred_rows is not None:
            del self.transaction.deferred_rows[self.deferred:]

    async def release(self) -> None:
        await self.inner.release()


class LinliPostgresEngine(PostgresEngine):
    def transaction(self, allow_nested: bool = True, lazy: bool = False) -> PostgresTransaction:
        return _PostgresTransaction(engine=self, allow_nested=allow_nested, lazy=lazy)

    async def run_ddl(self, ddl: str, in_pool: bool = True):
        try:
            return await super().run_ddl(ddl, in_pool)
        finally:
            if _bulk_change(ddl):
                forget_caches()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # timeout: writers of other processes wait for each other instead of failing with "database is locked"
        return LinliSQLiteEngine(path=str(path), timeout=30)
    if url.startswith(("postgresql://", "postgres://")):
        return LinliPostgresEngine(config={"dsn": url})
    raise ValueError(f"LINLI_DATABASE_URL must start with sqlite:/// or postgresql:// (got {url!r})")


_engine: Engine | None = None


def engine() -> Engine:
    global _engine
    if _engine is None:  # finding it imports the configuration module each time: once is enough
        _engine = engine_finder()
        assert _engine is not None, "backend.piccolo_conf defines DB"
    return _engine


# --- raw SQL for the hot paths -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """`?` placeholders (SQLite's) -> `$1, $2 …` (PostgreSQL's). Hot-path SQL never has a `?` in a literal."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" if i < len(parts) else part for i, part in enumerate(parts, start=1))


async def fetch(sql: str, *args) -> list[dict]:
    """Run one parameterised statement (`?` placeholders, any engine) and return its rows as dicts: on the
    current transaction's connection, else (reads only) on a connection of this process. Skips piccolo's query
    building, which costs more than the query itself on the scan path. Values go in and come out as piccolo
    stores them, except JSON columns: pass `json_value(x)`, read with `json.loads`."""
    db = engine()
    transaction = db.current_transaction.get()
    if isinstance(db, PostgresEngine):
        sql = _numbered(sql)
        if transaction is not None:
            rows = await transaction.connection.fetch(sql, *args)
        elif db.pool is not None:
            async with db.pool.acquire() as connection:
                rows = await connection.fetch(sql, *args)
        else:
            connection = await db.get_new_connection()
            try:
                rows = await connection.fetch(sql, *args)
            finally:
                await connection.close()
        return [dict(r) for r in rows]
    if transaction is not None:
        if isinstance(transaction.connection, LoopConnection):
            return transaction.connection.rows(sql, args)
        async with transaction.connection.execute(sql, args) as cursor:
            return await cursor.fetchall()
    if sql.lstrip()[:6].upper() == "SELECT":
        try:
            return db.loop_connection("reader").rows(sql, args)
        except sqlite3.OperationalError as exc:  # busy: only when the file is not in WAL mode (yet)
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        return await db._run_in_new_connection(sql, list(args))
    async with atomic():
        return await fetch(sql, *args)


async def fetchrow(sql: str, *args) -> dict | None:
    rows = await fetch(sql, *args)
    return rows[0] if rows else None


@functools.lru_cache(maxsize=256)
def _insert_sql(table, columns: tuple[str, ...], returning: str | None) -> tuple[str, tuple[bool, ...]]:
    from piccolo.columns import JSON

    meta = table._meta
    names = [meta.get_column_by_name(c)._meta.db_column_name for c in columns]
    is_json = tuple(isinstance(meta.get_column_by_name(c), JSON) for c in columns)  # JSONB is a JSON too
    sql = f'INSERT INTO "{meta.tablename}" ({", ".join(chr(34) + n + chr(34) for n in names)}) VALUES ({", ".join("?" * len(names))})'
    return sql + (f' RETURNING "{returning}"' if returning else ""), is_json


async def insert_row(table, values: dict, returning: str | None = "id") -> Any:
    """One row into a piccolo table by column name, without piccolo's query building; JSON values are encoded
    here. Columns left out get the database's defaults (piccolo's Python-side defaults do not apply)."""
    sql, is_json = _insert_sql(table, tuple(values), returning)
    rows = await fetch(sql, *_insert_args(values, is_json))
    return rows[0][returning] if returning else None


def _insert_args(values: dict, is_json: tuple[bool, ...]) -> list:
    return [json_value(v) if j and v is not None else v for v, j in zip(values.values(), is_json)]


_json_encode = msgspec.json.Encoder().encode


def json_value(value: Any) -> str:
    """Compact UTF-8 JSON text, as json.dumps(ensure_ascii=False, separators=(",", ":")) writes it, 8 times faster."""
    return _json_encode(value).decode()


def is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


# --- transactions ------------------------------------------------------------------------------------------

# SQLite has one writer at a time. Queueing this process's writers here, instead of letting them collide on the
# file lock, spares them SQLite's busy-wait sleeps (which made p99 latency seconds under load).
_sqlite_writer = asyncio.Lock()


@asynccontextmanager
async def atomic():
    """A write transaction (joins the current one when nested). On SQLite BEGIN IMMEDIATE takes the write lock up
    front, so concurrent spenders serialise instead of failing on lock upgrade; on PostgreSQL row locks do that."""
    db = engine()
    if not isinstance(db, SQLiteEngine):
        async with db.transaction() as txn:
            yield txn
    elif db.current_transaction.get() is not None:
        async with db.transaction() as txn:
            yield txn
    else:
        async with _sqlite_writer, db.transaction(transaction_type=TransactionType.immediate) as txn:
            yield txn


# --- group commit ---------------------------------------------------------------------------------------------

# A PostgreSQL commit waits for its WAL flush (milliseconds on ordinary disks) while a scan's statements take a
# fraction of that, and every award holds its community's issuer account row until it commits; a SQLite commit
# writes every page the transaction touched to the WAL again. So concurrent scans share one transaction: each
# runs in its own savepoint (a failure drops only its own writes), the group commits once, and nobody gets an
# answer before that commit. Balances of accounts updated by nearly every transaction (issuers) are moved once per
# group, just before the commit: on PostgreSQL the row is then locked only for the flush, and on both it is one
# statement a group instead of one a scan. Rows nobody in the group reads back (a scan's record) go in together
# just before the commit too (defer_insert); if that fails, or any job does, the group runs again the plain way.
# On PostgreSQL the first pass goes further, since each round trip costs about as much CPU as a small statement:
# BEGIN waits for the first statement that is not a plain read, and an award leaves its whole ledger transaction
# to the end (NewId, BalanceAfter, defer_balance_move), so a group of awards is its card lookups and one statement
# that commits on its own: no BEGIN, no COMMIT, no round trip a ledger write.
GROUP_MAX = 24  # two savepoints a scan: stays under PostgreSQL's 64 cached subtransactions


class _Group:
    def __init__(self):
        self.waiting: list[tuple[Any, Any, asyncio.Future]] = []
        self.running = False


_groups: dict[Any, _Group] = {}


async def grouped(work, ahead: tuple[Callable[[list], Awaitable[dict]], Hashable] | None = None):
    """`await work()` inside a write transaction, committed before returning (as `async with atomic()` would),
    which may be shared with concurrent callers (see above). Inside a transaction already, simply atomic().
    `ahead` = (read_many, key): a read the work will make, which a group's first pass on PostgreSQL makes for all
    its jobs at once before they run (read_many(their keys), one statement instead of one a job); the work takes
    its row with read_ahead(lookup)."""
    db = engine()
    if db.current_transaction.get() is not None:
        token = _job_savepoint.set(None)  # the enclosing job's savepoint is not this work's
        try:
            async with atomic():
                return await work()
        finally:
            _job_savepoint.reset(token)
    loop = asyncio.get_running_loop()
    group = _groups.get(loop)
    if group is None:
        group = _groups[loop] = _Group()
    future = loop.create_future()
    group.waiting.append((work, contextvars.copy_context(), future, ahead))
    if not group.running:
        group.running = True
        loop.create_task(_run_groups(db, group))
    return await future


async def _run_groups(db, group: _Group) -> None:
    jobs: list = []
    try:
        while group.waiting:
            jobs, group.waiting[:] = group.waiting[:GROUP_MAX], group.waiting[GROUP_MAX:]
            done = await _run_group(db, jobs, first_pass=True)
            if done is None:  # see defer_insert: again, each job reading and writing as it goes
                done = await _run_group(db, jobs, first_pass=False)
            for future, value, exc in done:
                if not future.done():
                    future.set_exception(exc) if exc is not None else future.set_result(value)
            jobs = []
    finally:
        group.running = False
        for _, _, future, _ in [*jobs, *group.waiting]:  # only when this task itself was cancelled (shutdown)
            if not future.done():
                future.set_exception(DatabaseUnavailable("the server is shutting down"))
        group.waiting.clear()


class _RunAgain(Exception):
    """The group's first pass cannot stand as it is: roll it all back and run the jobs once more."""


async def _run_group(db, jobs: list, first_pass: bool) -> list | None:
    """One transaction for the jobs; [(future, value, exception)] once it is committed (or failed). The first
    pass lets jobs defer their rows (defer_insert) and gives up (None, nothing written) if any job fails or the
    deferred rows do not go in; the second pass is the plain one, where a failing job loses only its own writes."""
    done: list[tuple[asyncio.Future, Any, BaseException | None]] = []
    lazy = first_pass and isinstance(db, LinliPostgresEngine)  # see _PostgresTransaction
    try:
        async with (db.transaction(lazy=True) if lazy else atomic()) as transaction:
            transaction.hot_moves = {}  # account id -> the transactions that moved it, see defer_move
            transaction.deferred_rows = [] if first_pass else None
            transaction.deferred_moves = [] if lazy else None
            transaction.moved_now = set() if lazy else None
            try:
                transaction.read_ahead = await _read_ahead(jobs) if lazy else None
            except Exception as exc:  # as if a job's own read had failed: again, each job reading for itself
                raise _RunAgain() from exc
            for work, context, future, _ in jobs:
                # the first pass never rolls back to a job's savepoint (a failure runs the group again): none
                savepoint = None if first_pass else await transaction.savepoint()
                context.run(db.current_transaction.set, transaction)
                context.run(_job_savepoint.set, savepoint)
                try:
                    value = await asyncio.create_task(work(), context=context)
                except Exception as exc:
                    if first_pass:
                        raise _RunAgain() from exc
                    await savepoint.rollback_to()
                    done.append((future, None, exc))
                else:  # left unreleased (a round trip saved): the commit releases it
                    done.append((future, value, None))
            try:
                await _finish_group(transaction)
            except Exception as exc:
                # e.g. a replayed key already committed, or an account closed meanwhile: a job must see that itself
                if transaction.deferred_rows or transaction.deferred_moves:
                    raise _RunAgain() from exc
                raise
    except _RunAgain:
        return None
    except Exception as exc:  # the commit (or the flush) failed: nothing of the group was written
        done = [(future, None, exc) for _, _, future, _ in jobs]
    return done


async def _read_ahead(jobs: list) -> dict:
    """The rows the jobs said they will read (see grouped's `ahead`), each read_many once: {lookup: row or None}.
    Plain reads: in a lazy transaction they run before any BEGIN, as the jobs' own lookups would have."""
    keys: dict[Callable, list] = {}
    for *_, ahead in jobs:
        if ahead is not None:
            keys.setdefault(ahead[0], []).append(ahead[1])
    found: dict = {}
    for read_many, wanted in keys.items():
        found.update(await read_many(wanted))
    return found


def read_ahead(lookup: Hashable) -> tuple[bool, Any]:
    """(True, found) if the group read `lookup` ahead for the current job (a row, None if there is none, or
    whatever else read_many answered for that key), taking it: a second lookup, by this job or another of the
    group (which may have written since), reads afresh. (False, None) otherwise: read it yourself."""
    rows = getattr(engine().current_transaction.get(), "read_ahead", None)
    if not rows or lookup not in rows:
        return False, None
    return True, rows.pop(lookup)


def defer_insert(table, values: dict) -> bool:
    """In a group's first pass: keep this row (as for insert_row, without RETURNING) to go in with the group's
    others just before the commit, in one statement instead of a round trip each. False anywhere else: insert it
    yourself. A job deferring a row with a unique key may skip reading that key first: if the key was taken
    meanwhile, the insert fails and the whole group runs again without deferring, each job reading first."""
    rows = getattr(engine().current_transaction.get(), "deferred_rows", None)
    if rows is None:
        return False
    rows.append((table, values))
    return True


def inserts_deferred() -> bool:
    """Whether defer_insert would keep a row now (in a group's first pass)."""
    return getattr(engine().current_transaction.get(), "deferred_rows", None) is not None


class NewId:
    """The id of a deferred row that is not there yet (PostgreSQL, a group's first pass): put it as the row's own
    `id` and as the value of other deferred rows' columns that refer to that row; the group's end statement takes
    the id from the table's sequence and uses it in each place."""

    __slots__ = ("table",)

    def __init__(self, table):
        self.table = table


class BalanceAfter:
    """An account's balance just after one deferred move (see defer_balance_move), known once the group's end
    statement has run: `value` then. It may stand as a top-level value of a dict in a deferred row's JSON column
    (a scan's stored answer); the statement writes the number there, and it is put into the dict itself too."""

    __slots__ = ("account_id", "later", "value")

    def __init__(self, account_id: int):
        self.account_id, self.later, self.value = account_id, 0, None


def writes_deferred() -> bool:
    """Whether a job may leave all its writes to the group's end statement: new rows with NewId ids
    (defer_insert) and balance moves (defer_balance_move). PostgreSQL, a group's first pass."""
    return getattr(engine().current_transaction.get(), "deferred_moves", None) is not None


class MovesMixed(Exception):
    """A group's first pass would read or move at once a balance it has left to its end statement (whose moves
    are not in the row yet): the group runs again, each job writing as it goes, so every balance shown is right."""


def balance_settled(account_id: int) -> None:
    """Before reading an account's balance inside a transaction: raise MovesMixed if a move of it is deferred."""
    moves = getattr(engine().current_transaction.get(), "deferred_moves", None)
    if moves and any(found == account_id for found, _, _ in moves):
        raise MovesMixed(account_id)


def moving_now(account_id: int) -> None:
    """Before moving an account's balance at once (before writing anything): as balance_settled, and from then
    on the group leaves no move of that account to its end (see moved_now)."""
    balance_settled(account_id)
    moved = getattr(engine().current_transaction.get(), "moved_now", None)
    if moved is not None:
        moved.add(account_id)


def moved_now(account_id: int) -> bool:
    """Whether this group's first pass has moved the account at once (so a later move must not be deferred)."""
    moved = getattr(engine().current_transaction.get(), "moved_now", None)
    return moved is not None and account_id in moved


def defer_balance_move(account_id: int, delta: int) -> BalanceAfter:
    """Where writes_deferred(): move the account's cached balance by `delta` in the group's end statement, which
    fails (and the group runs again, each job writing as it goes) if the account is closed by then. No overdraw
    guard: for moves that cannot take a balance below zero (credits, and issuers, which may go negative)."""
    moves = engine().current_transaction.get().deferred_moves
    balance = BalanceAfter(account_id)
    moves.append((account_id, delta, balance))
    return balance


async def _finish_group(transaction) -> None:
    """Just before the group's commit: the deferred rows go in and the hot accounts move. On PostgreSQL the rows,
    the deferred moves (with the balances they give back) and the first hot account's move are one statement (one
    round trip); further hot accounts follow in id order. A first pass that never began its transaction (its jobs
    only read and deferred) runs that statement on its own: it is the whole group's commit."""
    moves = sorted(transaction.hot_moves.items())  # in id order: concurrent groups lock rows in one order
    if not isinstance(transaction, PostgresTransaction):
        batches: dict[str, list[list]] = {}  # one executemany a statement, in the order first deferred
        for table, values in transaction.deferred_rows or ():
            sql, is_json = _insert_sql(table, tuple(values), None)
            batches.setdefault(sql, []).append(_insert_args(values, is_json))
        for sql, args in batches.items():  # SQLite's write transactions run on the writer's LoopConnection
            transaction.connection.raw.executemany(sql, args)
        for account_id, txns in moves:
            await fetch("UPDATE points_account SET balance = balance + (SELECT COALESCE(SUM(amount), 0) FROM ledger_posting"
                        f" WHERE account = ? AND txn IN ({', '.join('?' * len(txns))})) WHERE id = ?",
                        account_id, *txns, account_id)
        return
    rows = transaction.deferred_rows or ()
    deferred_moves = transaction.deferred_moves or ()
    if not rows and not moves and not deferred_moves:
        return
    connection = transaction.connection
    if isinstance(connection, _LazyBegin) and not transaction.begun:
        # nothing written yet: the end statement alone is the transaction (it commits on its own)
        assert not moves, "a hot move is deferred only after a write, which begins the transaction"
        connection = connection.raw
    if deferred_moves:  # one UPDATE moves every account; these go first so that no row is updated twice
        for account_id, txns in moves:
            await connection.execute(_numbered(_HOT_MOVE), account_id, txns, account_id)
        moves = []
    later: dict[int, int] = {}  # account -> the sum of its moves after this one (then: of all its moves)
    for account_id, delta, balance in reversed(deferred_moves):
        balance.later = later.get(account_id, 0)
        later[account_id] = balance.later + delta
    ordinals: dict[int, int] = {}  # id(NewId) -> its number among its table's new ids, from 1
    new_ids: dict[Any, int] = {}  # table -> how many new ids
    for table, values in rows:
        new = values.get("id")
        if isinstance(new, NewId):
            new_ids[new.table] = ordinals[id(new)] = new_ids.get(new.table, 0) + 1
    batches: dict[tuple, list[tuple[Any, dict]]] = {}  # (table, column names) -> its rows
    for table, values in rows:
        batches.setdefault((table, tuple(values)), []).append((table, values))
    # each set of rows is one JSON parameter (json_to_recordset): unlike unnest(arrays), whose custom plan knows
    # the arrays' lengths, its estimate does not depend on the values, so PostgreSQL keeps one generic plan
    # instead of planning the statement anew each time (a third of its cost)
    shapes, args = [], [json_value([{"o": n} for n in range(1, count + 1)]) for count in new_ids.values()]
    if deferred_moves:
        args.append(json_value([{"account": a, "delta": later[a]} for a in sorted(later)]))
    answers: list[tuple[dict, str, BalanceAfter]] = []  # (a JSON column's dict, its key, the balance to put there)
    for (table, names), found in batches.items():
        kinds, records = [], [{} for _ in found]
        for i, name in enumerate(names):
            column = [values[name] for _, values in found]
            c = f"c{i}"  # the JSON field names, once a column (this loop runs for every value of every row)
            new = next((v for v in column if type(v) is NewId), None)
            if new is not None:  # a row written earlier has its id, a deferred one a NewId
                kinds.append(f"new_id:{new.table._meta.tablename}")
                n = f"n{i}"
                for record, v in zip(records, column):
                    record[c], record[n] = (None, ordinals[id(v)]) if type(v) is NewId else (v, None)
                continue
            marks = [_balance_in(v) if type(v) is dict else None for v in column]
            if any(marks):
                kinds.append("balance")
                k, a, l_ = f"k{i}", f"a{i}", f"l{i}"
                for record, v, m in zip(records, column, marks):
                    if m:
                        record[c], record[k], record[a], record[l_] = _without_balances(v), m[0], m[1].account_id, m[1].later
                        answers.append((v, *m))
                    else:
                        record[c], record[k], record[a], record[l_] = v, None, None, None
            else:
                kinds.append("plain")
                for record, v in zip(records, column):
                    record[c] = v
        shapes.append((table, names, tuple(kinds)))
        args.append(json_value(records))
    if moves:
        account_id, txns = moves[0]
        args += [account_id, txns, account_id]  # _HOT_MOVE's parameters
    sql = _group_end_sql(tuple(shapes), tuple(t._meta.tablename for t in new_ids), bool(deferred_moves), bool(moves))
    result = await connection.fetch(sql, *args)
    for account_id, txns in moves[1:]:
        await connection.execute(_numbered(_HOT_MOVE), account_id, txns, account_id)
    if deferred_moves:
        finals = dict(zip(result[0]["accounts"], result[0]["balances"]))
        for account_id, _, balance in deferred_moves:
            balance.value = finals[account_id] - balance.later
        for value, key, balance in answers:  # the answers the jobs return hold the same dicts
            value[key] = balance.value


def _balance_in(value: Any) -> tuple[str, BalanceAfter] | None:
    """The key and BalanceAfter of a JSON column's dict that holds one (a scan's answer), else None."""
    if type(value) is dict:
        for key, found in value.items():
            if type(found) is BalanceAfter:
                return key, found
    return None


def _without_balances(value: dict) -> dict:
    return {k: None if type(x) is BalanceAfter else x for k, x in value.items()}


_HOT_MOVE = ("UPDATE points_account SET balance = balance + (SELECT COALESCE(SUM(amount), 0) FROM ledger_posting"
             " WHERE account = ? AND txn = ANY(?::int[])) WHERE id = ?")
_ARRAY_OF = {"SERIAL": "INTEGER", "BIGSERIAL": "BIGINT"}


@functools.lru_cache(maxsize=64)
def _group_end_sql(shapes: tuple, new_id_tables: tuple[str, ...], deferred_moves: bool, hot_move: bool) -> str:
    """PostgreSQL, one statement of data-modifying CTEs: the new ids a table (from its sequence), the accounts'
    moves (linli_move_balances: one account at a time by its primary key, in id order, so that concurrent groups
    never wait for each other crosswise; it fails if an account is closed), `INSERT … SELECT FROM json_to_recordset(rows)` a table and column set
    (one parameter, whatever the number of rows), and the first hot move. Parameters in that order."""
    parts = [f"ids{i} AS MATERIALIZED (SELECT o, nextval(pg_get_serial_sequence('{name}', 'id')) AS id"
             " FROM json_to_recordset(?::json) AS x(o int))" for i, name in enumerate(new_id_tables)]
    if deferred_moves:  # see the ledger migration that made linli_move_balances
        parts.append("mv AS MATERIALIZED (SELECT account AS id, balance FROM linli_move_balances(?::json))")
    for table, names, kinds in shapes:
        found = [table._meta.get_column_by_name(c) for c in names]
        fields, values = [], []
        for i, (column, kind) in enumerate(zip(found, kinds)):
            field_type = _ARRAY_OF.get(column.column_type, column.column_type)
            fields.append(f"c{i} {field_type}")
            if kind.startswith("new_id"):
                fields.append(f"n{i} int")
                values.append(f"COALESCE(v.c{i}, (SELECT id FROM ids{new_id_tables.index(kind.split(':', 1)[1])}"
                              f" WHERE o = v.n{i}))")
            elif kind == "balance":
                fields += [f"k{i} text", f"a{i} int", f"l{i} int"]
                values.append(f"CASE WHEN v.k{i} IS NULL THEN v.c{i} ELSE jsonb_set(v.c{i}::jsonb, ARRAY[v.k{i}],"
                              f" to_jsonb((SELECT balance FROM mv WHERE id = v.a{i}) - v.l{i}))::{column.column_type} END")
            else:
                values.append(f"v.c{i}")
        quoted = ", ".join(f'"{c._meta.db_column_name}"' for c in found)
        parts.append(f'INSERT INTO "{table._meta.tablename}" ({quoted}) SELECT {", ".join(values)}'
                     f' FROM json_to_recordset(?::json) AS v({", ".join(fields)})')
    if hot_move:
        parts.append(_HOT_MOVE)
    final = "SELECT array_agg(id) AS accounts, array_agg(balance) AS balances FROM mv" if deferred_moves else "SELECT 1"
    return _numbered("WITH " + ", ".join(f"w{i} AS ({p})" if not p.startswith(("ids", "mv ")) else p
                                          for i, p in enumerate(parts)) + " " + final)


# the savepoint a group took just before the current job (see job_savepoint)
_job_savepoint: contextvars.ContextVar = contextvars.ContextVar("linli_job_savepoint", default=None)


def job_savepoint():
    """Inside a group's job: the savepoint taken just before the job began. A job that has written nothing yet may
    use it as its own (rolling back to it undoes exactly what the job wrote since), sparing a round trip on
    PostgreSQL. None outside a group, and in a group's first pass (which runs again rather than roll back)."""
    return _job_savepoint.get()


def in_group() -> bool:
    return getattr(engine().current_transaction.get(), "hot_moves", None) is not None


def defer_move(account_id: int, txn_id: int) -> bool:
    """Inside a group: leave this account's balance to be moved at the group's commit (by the postings of
    `txn_id` still there then — a savepoint rolled back takes its postings with it). False outside a group."""
    transaction = engine().current_transaction.get()
    moves = getattr(transaction, "hot_moves", None)
    if moves is None:
        return False
    moves.setdefault(account_id, []).append(txn_id)
    return True


async def prepare() -> None:
    """Per-process set-up: WAL for SQLite (readers never block the writer), a pool for PostgreSQL."""
    from backend.settings import get_settings

    db = engine()
    pool = get_settings().database_pool
    if isinstance(db, SQLiteEngine):
        await db.run_ddl("PRAGMA journal_mode=WAL")
    elif pool > 0:
        await db.start_connection_pool(min_size=min(2, pool), max_size=pool, reset=_reset_pooled)


async def _reset_pooled(connection) -> None:
    """On release to the pool, asyncpg rolls back a transaction left open (a cancelled request) whatever this does;
    by default it then also runs a reset query (unlock session advisory locks, close cursors, unlisten, reset
    settings), a round trip a group commit. Linli takes advisory locks only for a transaction, keeps no cursor past
    one, listens to nothing and sets no session setting: nothing is left to reset."""


async def close() -> None:
    db = engine()
    if isinstance(db, PostgresEngine) and db.pool is not None:
        await db.close_connection_pool()


async def check_ready() -> None:
    """Raise DatabaseUnavailable with a message a person can act on."""
    from piccolo.apps.migrations.commands.check import CheckMigrationManager

    db = engine()
    try:
        await db.run_ddl("SELECT 1")
    except Exception as exc:  # the driver's own error types differ per engine
        raise DatabaseUnavailable(f"cannot reach the database ({type(exc).__name__}: {exc})") from exc
    pending = await CheckMigrationManager("all").havent_ran_count()
    if pending:
        raise DatabaseUnavailable(f"the database is behind by {pending} migration(s): run `linli db migrate`")
