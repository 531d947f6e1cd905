from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-11-21T21:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "PostgreSQL: linli_assert(ok, message), so that one statement can fail on a condition it checks itself"


class LedgerTransaction(Table, tablename="ledger_transaction"):
    pass


# A group of scans' end statement (backend.db._finish_group) runs on its own, outside any transaction block: a
# condition found wrong after it ran could no longer be undone, so the statement raises itself.
CREATE = """CREATE OR REPLACE FUNCTION linli_assert(ok boolean, message text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'linli_assert: %', message USING ERRCODE = 'check_violation';
    END IF;
    RETURN true;
END $$"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def create():
        if isinstance(LedgerTransaction._meta.db, PostgresEngine):
            await LedgerTransaction.raw(CREATE)

    async def drop():
        if isinstance(LedgerTransaction._meta.db, PostgresEngine):
            await LedgerTransaction.raw("DROP FUNCTION IF EXISTS linli_assert(boolean, text)")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
