"""The database engine and the one way services open a write transaction."""
from __future__ import annotations

from pathlib import Path

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType


class DatabaseUnavailable(RuntimeError):
    pass


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # timeout: writers wait for each other instead of failing with "database is locked".
        return SQLiteEngine(path=str(path), timeout=30)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresEngine(config={"dsn": url})
    raise ValueError(f"LINLI_DATABASE_URL must start with sqlite:/// or postgresql:// (got {url!r})")


def engine() -> Engine:
    found = engine_finder()
    assert found is not None, "backend.piccolo_conf defines DB"
    return found


def atomic():
    """A write transaction. On SQLite BEGIN IMMEDIATE takes the write lock up front, so concurrent
    spenders serialise instead of failing on lock upgrade; on PostgreSQL row locks do that work."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        return db.transaction(transaction_type=TransactionType.immediate)
    return db.transaction()


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
