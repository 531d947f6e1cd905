"""Test database set-up. SQLite file by default; LINLI_TEST_DATABASE_URL=postgresql://… runs the same tests on PostgreSQL."""
import os
import tempfile
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="linli-test-"))
TEST_DATABASE_URL = os.environ.get("LINLI_TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.sqlite3'}"
os.environ["LINLI_DATABASE_URL"] = TEST_DATABASE_URL
os.environ.setdefault("LINLI_SECRET_KEY", "0" * 64)
os.environ["PICCOLO_CONF"] = "backend.piccolo_conf"
# the app under test runs in the test client's event loop, fixtures in pytest's: a pool belongs to one loop
os.environ["LINLI_DATABASE_POOL"] = "0"
# no background standings fold in the apps under test: readers fold first, deterministically
os.environ["LINLI_STANDINGS_FOLD_SECONDS"] = "0"

ENGINE_NAME = "postgres" if TEST_DATABASE_URL.startswith("postgres") else "sqlite"


def pytest_report_header(config):
    return f"linli test database: {ENGINE_NAME} ({TEST_DATABASE_URL})"


@pytest.fixture(scope="session")
async def database():
    """A fresh schema built by the real migrations, once per run."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from backend import db

    engine = db.engine()
    if ENGINE_NAME == "postgres":
        await engine.run_ddl("DROP SCHEMA public CASCADE")
        await engine.run_ddl("CREATE SCHEMA public")
    result = await run_forwards(app_name="all", migration_id="all", fake=False)
    assert result.success, result.message
    await db.prepare()
    yield engine


@pytest.fixture
async def clean_db(database):
    """Every test starts from empty tables (except the migrations record)."""
    from backend.piccolo_conf import APP_REGISTRY

    tables = [t for app in APP_REGISTRY.app_configs.values() for t in app.table_classes]
    if ENGINE_NAME == "postgres":
        names = ", ".join(t._meta.tablename for t in tables)
        await database.run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        for t in tables:
            await database.run_ddl(f"DELETE FROM {t._meta.tablename}")
    yield database
