from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-21T11:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "points per account and local month, quarter and year (earned; merchants: redeemed), from the ledger's new postings noted by a trigger"


class PeriodPoints(Table, tablename="standings_points"):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="standings", description=DESCRIPTION)

    async def create():
        from backend.db import is_postgres
        from backend.settings import get_settings
        from backend.standings import rollup

        key = "id SERIAL PRIMARY KEY" if is_postgres() else "id INTEGER PRIMARY KEY AUTOINCREMENT"
        await PeriodPoints.raw(f"CREATE TABLE standings_points ({key}, community INTEGER NOT NULL, "
                               "account INTEGER NOT NULL, period VARCHAR(7) NOT NULL, points INTEGER NOT NULL DEFAULT 0, "
                               "entries INTEGER NOT NULL DEFAULT 0)")
        await PeriodPoints.raw("CREATE UNIQUE INDEX standings_points_key ON standings_points (community, account, period)")
        # a board walks this index from the top instead of grouping
        await PeriodPoints.raw("CREATE INDEX standings_points_board ON standings_points (community, period, points DESC, account)")
        await PeriodPoints.raw(f"CREATE TABLE standings_pending ({key}, posting INTEGER NOT NULL)")
        await PeriodPoints.raw(f"CREATE TABLE standings_rollup_state ({key}, zone VARCHAR(64) NOT NULL)")
        # the trigger and the rollup of any ledger already written (start-up rebuilds them if the zone changes)
        await rollup.install(get_settings().timezone)

    async def drop():
        from backend.db import is_postgres

        if is_postgres():
            await PeriodPoints.raw("DROP TRIGGER IF EXISTS standings_pending_on_posting ON ledger_posting")
            await PeriodPoints.raw("DROP FUNCTION IF EXISTS standings_pending_on_posting()")
        else:
            await PeriodPoints.raw("DROP TRIGGER IF EXISTS standings_pending_on_posting")
        await PeriodPoints.raw("DROP TABLE IF EXISTS standings_rollup_state")
        await PeriodPoints.raw("DROP TABLE IF EXISTS standings_pending")
        await PeriodPoints.raw("DROP TABLE IF EXISTS standings_points")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
