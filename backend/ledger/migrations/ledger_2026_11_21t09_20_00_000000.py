from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-21T09:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for standings and notices: a community's transactions by time, postings by transaction"


class LedgerTransaction(Table, tablename="ledger_transaction"):
    pass


INDEXES = {
    # boards and notices read one community's earning transactions of a period
    "ledger_transaction_community_occurred": "ledger_transaction (community, occurred_at, kind, reverses)",
    # and sum their postings per account without touching the posting rows (a covering index)
    "ledger_posting_txn_account_amount": "ledger_posting (txn, account, amount)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def create_indexes():
        for name, target in INDEXES.items():
            await LedgerTransaction.raw(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    async def drop_indexes():
        for name in INDEXES:
            await LedgerTransaction.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
