"""create_app(): plugins, templates, static files, error mapping, and a start-up that fails fast."""
from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.datastructures import Headers
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from backend import db
from backend.settings import Settings, get_settings
from backend.standings import rollup
from backend.web import i18n
from backend.scans.web import scan_fast_path
from backend.web.access import access_guard
from backend.web.errors import EXCEPTION_HANDLERS
from backend.web.messages import reason_text

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "frontend" / "templates"
STATIC = ROOT / "frontend" / "static"


def jinja_environment(settings: Settings) -> Environment:
    from backend.people.rules import mask_name

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "xml"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.globals.update(
        LANGUAGES=i18n.LANGUAGES, HTML_LANG=i18n.HTML_LANG, current_language=i18n.current_language.get,
        mask_name=mask_name, reason_text=reason_text, settings=settings,
    )
    return env


def language_middleware(app):
    """Every request (error pages too) renders in the language the person chose."""
    default = get_settings().default_language

    async def middleware(scope, receive, send):
        if scope["type"] == "http":
            headers = Headers.from_scope(scope)
            i18n.current_language.set(i18n.request_language(headers.get("cookie", ""), headers.get("accept-language"),
                                                            default))
        await app(scope, receive, send)

    return middleware


def create_app(settings: Settings | None = None) -> Litestar:
    from backend.web.routes import route_handlers

    settings = settings or get_settings()
    # the session cookie is AES-GCM encrypted with a 32-byte key derived from the one secret
    session_key = hashlib.sha256(b"session:" + settings.secret_key.encode()).digest()

    folding: list[asyncio.Task] = []

    async def startup() -> None:
        await db.prepare()
        await db.check_ready()
        # the standings rollup buckets months in the configured zone: rebuilt here if that zone changed
        await rollup.ensure(settings.timezone)
        if settings.standings_fold_seconds > 0:
            folding.append(asyncio.get_running_loop().create_task(rollup.keep_folding(settings.standings_fold_seconds)))

    async def shutdown() -> None:
        for task in folding:
            task.cancel()
        folding.clear()
        await db.close()

    app = Litestar(
        route_handlers=[
            *route_handlers(),
            create_static_files_router(path="/static", directories=[STATIC], opt={"public": True}, include_in_schema=False),
        ],
        guards=[access_guard],
        middleware=[
            language_middleware,
            CookieBackendConfig(secret=session_key, max_age=settings.session_hours * 3600, secure=settings.secure_cookies,
                                samesite="lax", httponly=True).middleware,
        ],
        csrf_config=CSRFConfig(secret=settings.secret_key, cookie_secure=settings.secure_cookies,
                               cookie_samesite="lax", exclude=["/api/"]),
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(jinja_environment(settings))),
        # JSON only: the HTML schema pages load their script from a CDN, blank offline
        openapi_config=OpenAPIConfig(title="Linli", version="1", path="/schema", render_plugins=[JsonRenderPlugin()],
                                     openapi_router=Router(path="/schema", route_handlers=[], opt={"public": True})),
        plugins=[HTMXPlugin()],
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[startup],
        on_shutdown=[shutdown],
        debug=settings.debug,
    )
    # POST /api/v1/scans, the hot path, skips the framework's layers (see the docstring)
    app.asgi_handler = scan_fast_path(app.asgi_handler)
    return app
