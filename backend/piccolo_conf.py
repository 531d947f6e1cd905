"""piccolo's configuration: the engine from LINLI_DATABASE_URL and one app per domain."""
from piccolo.conf.apps import AppRegistry

from backend.db import make_engine
from backend.settings import get_settings

DB = make_engine(get_settings().database_url)

APPS = [
    "backend.community.piccolo_app",
    "backend.people.piccolo_app",
    "backend.accounts.piccolo_app",
    "backend.ledger.piccolo_app",
    "backend.audit.piccolo_app",
    "backend.imports.piccolo_app",
]

APP_REGISTRY = AppRegistry(apps=APPS)
