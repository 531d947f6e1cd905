"""The monthly public notice (一月一公示): staff close a month, residents object, staff resolve, the notice is final."""
import os

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="notices",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=table_finder(modules=["backend.notices.tables"], exclude_imported=True),
    migration_dependencies=["backend.community.piccolo_app", "backend.people.piccolo_app", "backend.accounts.piccolo_app",
                            "backend.ledger.piccolo_app"],
    commands=[],
)
