from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-21T05:40:18:000000"
VERSION = "1.38.0"
DESCRIPTION = "at most one active card per account"


class Card(Table, tablename="service_card"):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="servicecards", description=DESCRIPTION)

    async def create_index():
        # A partial unique index (SQLite and PostgreSQL alike): two tills issuing at the same moment cannot
        # give one account two working cards.
        await Card.raw(
            "CREATE UNIQUE INDEX service_card_one_active_per_account ON service_card (account) WHERE state = 'active'"
        )

    async def drop_index():
        await Card.raw("DROP INDEX IF EXISTS service_card_one_active_per_account")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
