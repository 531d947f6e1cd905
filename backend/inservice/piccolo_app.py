"""In-service party members' monthly home check-in (在职党员 "双报到" / "回家报到")."""
import os

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="inservice",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=table_finder(modules=["backend.inservice.tables"], exclude_imported=True),
    migration_dependencies=["backend.community.piccolo_app", "backend.people.piccolo_app", "backend.accounts.piccolo_app",
                            "backend.ledger.piccolo_app", "backend.catalog.piccolo_app", "backend.claims.piccolo_app"],
    commands=[],
)
