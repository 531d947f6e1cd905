from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-11-21T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "fewer index entries a ledger transaction: drop indexes that a wider one already leads with"


class LedgerTransaction(Table, tablename="ledger_transaction"):
    pass


# every award writes a transaction and two postings, so each index on them costs three entries a scan; these two
# are the leading columns of the indexes of the 09:20 migration, which serve the same lookups (and the foreign
# keys' cascades)
REDUNDANT = {
    "ledger_transaction_community": "ledger_transaction (community)",
    "ledger_posting_txn": "ledger_posting (txn)",
}
# PostgreSQL: the "reversed at most once" unique index keeps out the NULL of every transaction that reverses
# nothing (nearly all). SQLite cannot drop a table's UNIQUE constraint in place, so it keeps its own.
REVERSES_ALL = "ALTER TABLE ledger_transaction ADD CONSTRAINT ledger_transaction_reverses_key UNIQUE (reverses)"
REVERSES_PARTIAL = ("CREATE UNIQUE INDEX ledger_transaction_reverses_key ON ledger_transaction (reverses)"
                    " WHERE reverses IS NOT NULL")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def narrow():
        for name in REDUNDANT:
            await LedgerTransaction.raw(f"DROP INDEX IF EXISTS {name}")
        if isinstance(LedgerTransaction._meta.db, PostgresEngine):
            await LedgerTransaction.raw("ALTER TABLE ledger_transaction DROP CONSTRAINT ledger_transaction_reverses_key")
            await LedgerTransaction.raw(REVERSES_PARTIAL)

    async def widen():
        for name, target in REDUNDANT.items():
            await LedgerTransaction.raw(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
        if isinstance(LedgerTransaction._meta.db, PostgresEngine):
            await LedgerTransaction.raw("DROP INDEX ledger_transaction_reverses_key")
            await LedgerTransaction.raw(REVERSES_ALL)

    manager.add_raw(narrow)
    manager.add_raw_backwards(widen)
    return manager
