from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-21T08:02:46:881462"
VERSION = "1.38.0"
DESCRIPTION = "scan flags: why staff should look at a scan"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="scans", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Scan",
        tablename="scan",
        column_name="flags",
        db_column_name="flags",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": "[]",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
