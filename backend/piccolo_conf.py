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
    "backend.servicecards.piccolo_app",
    "backend.catalog.piccolo_app",
    "backend.stations.piccolo_app",
    "backend.scans.piccolo_app",
    "backend.redemption.piccolo_app",
    "backend.events.piccolo_app",
    "backend.claims.piccolo_app",
    "backend.inservice.piccolo_app",
    "backend.wishes.piccolo_app",
    "backend.notices.piccolo_app",
    "backend.standings.piccolo_app",
]

APP_REGISTRY = AppRegistry(apps=APPS)
