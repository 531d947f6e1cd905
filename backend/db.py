"""The database engine and the one way services open a write transaction."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType


class DatabaseUnavailable(RuntimeError):
    pass


class LinliSQLiteEngine(SQLiteEngine):
    """SQLite in WAL mode with synchronous=NORMAL on every connection: a commit is durable across an application
    crash and the file is never corrupted by a power cut, but the last commits before a power cut may be lost
    (they are not fsync'ed one by one). That is what makes a single station box fast; a district runs PostgreSQL."""

    async def get_connection(self):
        connection = await super().get_connection()
        await connection.execute("PRAGMA synchronous = NORMAL")
        return connection


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # timeout: writers of other processes wait for each other instead of failing with "database is locked"
        return LinliSQLiteEngine(path=str(path), timeout=30)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresEngine(config={"dsn": url})
    raise ValueError(f"LINLI_DATABASE_URL must start with sqlite:/// or postgresql:// (got {url!r})")


def engine() -> Engine:
    found = engine_finder()
    assert found is not None, "backend.piccolo_conf defines DB"
    return found


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


async def prepare() -> None:
    """Per-process set-up: WAL for SQLite (readers never block the writer), a pool for PostgreSQL."""
    from backend.settings import get_settings

    db = engine()
    pool = get_settings().database_pool
    if isinstance(db, SQLiteEngine):
        await db.run_ddl("PRAGMA journal_mode=WAL")
    elif pool > 0:
        await db.start_connection_pool(min_size=min(2, pool), max_size=pool)


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
