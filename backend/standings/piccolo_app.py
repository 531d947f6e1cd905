"""Standings and recognition: leaderboards, the public screen, grid rankings, stars, yearly awards, reports."""
import os

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="standings",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=table_finder(modules=["backend.standings.tables"], exclude_imported=True),
    migration_dependencies=["backend.community.piccolo_app", "backend.people.piccolo_app", "backend.accounts.piccolo_app",
                            "backend.ledger.piccolo_app"],
    commands=[],
)
