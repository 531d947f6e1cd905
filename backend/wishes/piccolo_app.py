"""Micro-wishes (微心愿, 居民点单、小区派单、党员接单) and the "2341" service standard's clocks."""
import os

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="wishes",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=table_finder(modules=["backend.wishes.tables"], exclude_imported=True),
    migration_dependencies=["backend.community.piccolo_app", "backend.people.piccolo_app", "backend.accounts.piccolo_app",
                            "backend.ledger.piccolo_app", "backend.catalog.piccolo_app"],
    commands=[],
)
