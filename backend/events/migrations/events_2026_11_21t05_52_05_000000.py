from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-21T05:52:05:000000"
VERSION = "1.38.0"
DESCRIPTION = "one sign-up per person and event; at most one open stay per account and event"


class Signup(Table, tablename="event_signup"):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="events", description=DESCRIPTION)

    async def create_indexes():
        await Signup.raw("CREATE UNIQUE INDEX event_signup_once ON event_signup (event, person)")
        # partial (SQLite and PostgreSQL alike): two stations scanning one card in at the same moment open one stay
        await Signup.raw("CREATE UNIQUE INDEX event_attendance_one_open ON event_attendance (event, account) "
                         "WHERE checked_out_at IS NULL")

    async def drop_indexes():
        await Signup.raw("DROP INDEX IF EXISTS event_attendance_one_open")
        await Signup.raw("DROP INDEX IF EXISTS event_signup_once")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
