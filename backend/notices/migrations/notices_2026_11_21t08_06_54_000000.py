from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-21T08:06:54:000000"
VERSION = "1.38.0"
DESCRIPTION = "one line per account and notice"


class NoticeLine(Table, tablename="notice_line"):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def create_index():
        # also what closing the next month joins on (the previous notice's to-date of each account)
        await NoticeLine.raw("CREATE UNIQUE INDEX notice_line_once ON notice_line (notice, account)")

    async def drop_index():
        await NoticeLine.raw("DROP INDEX IF EXISTS notice_line_once")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
