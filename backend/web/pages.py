"""Site-wide pages: sign-in, language, home redirect, health, PWA manifest and service worker."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import File, Redirect, Template

from backend import db
from backend.errors import PermissionDenied
from backend.people import service as people
from backend.web import i18n
from backend.web.access import device_credential, load_device, load_principal, start_session
from backend.web.forms import parse_form
from backend.web.messages import reason_text

SERVICE_WORKER = Path(__file__).resolve().parents[2] / "service-worker" / "sw.js"


class LoginForm(msgspec.Struct):
    username: str = ""
    password: str = ""
    next: str = "/"


def safe_next(target: str) -> str:
    """Only same-site paths: an open redirect after sign-in is a phishing tool."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@get("/", opt={"public": True})
async def home(request: Request) -> Redirect:
    """The installed app's start URL: a paired station device opens its scan screen (a switched-off one too,
    which then says so), a resident their points, staff the tree."""
    if device_credential(request):
        try:
            await load_device(request)
            return Redirect("/station")
        except PermissionDenied as exc:
            if exc.code == "device_revoked":
                return Redirect("/station")
    principal = await load_principal(request)
    if principal is None:
        return Redirect("/login")
    if principal.can("staff.view"):
        return Redirect("/staff")
    return Redirect("/me")


@get("/login", opt={"public": True})
async def login_page(request: Request, next: FromQuery[str] = "/", reason: FromQuery[str | None] = None) -> Template:
    flash = {"kind": "info", "text": reason_text(reason)} if reason in ("session_expired", "not_signed_in") else None
    return Template("login.html", context={"next": safe_next(next), "flash": flash, "username": ""})


@post("/login", opt={"public": True})
async def login(request: Request) -> Response:
    form = await parse_form(request, LoginForm)
    try:
        principal = await people.authenticate(form.username, form.password, datetime.now(timezone.utc))
    except PermissionDenied as exc:
        return Template("login.html", status_code=401, context={
            "next": safe_next(form.next), "username": form.username,
            "flash": {"kind": "error", "text": reason_text(exc.code)}})
    start_session(request, principal)
    return Redirect(safe_next(form.next))


@post("/logout", opt={"signed_in": True})
async def logout(request: Request) -> Redirect:
    request.clear_session()
    return Redirect("/login")


@post("/lang", opt={"public": True})
async def choose_language(request: Request) -> Response:
    form = await request.form()
    language = form.get("language") if form.get("language") in i18n.LANGUAGES else "zh_CN"
    principal = await load_principal(request)
    if principal is not None:
        await people.set_language(principal.user_id, language)
    response = Redirect(safe_next(form.get("next", "/")))
    response.set_cookie("lang", language, max_age=365 * 24 * 3600, samesite="lax", httponly=False)
    return response


@get("/healthz", opt={"public": True}, include_in_schema=False)
async def healthz() -> Response:
    try:
        await db.engine().run_ddl("SELECT 1")
    except Exception as exc:  # any driver error means "not reachable" to a load balancer
        return Response({"database": "unreachable", "detail": type(exc).__name__}, status_code=503)
    return Response({"database": "ok"})


@get("/manifest.webmanifest", opt={"public": True}, include_in_schema=False)
async def manifest() -> Response:
    _ = i18n.gettext
    body = {
        "name": _("Linli community points"), "short_name": _("Linli"),
        "description": _("Earn, check and redeem community points with your service card."),
        "lang": i18n.HTML_LANG[i18n.current_language.get()], "start_url": "/", "scope": "/", "id": "/",
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#a4161a",
        "icons": [
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
        ],
    }
    return Response(body, media_type="application/manifest+json")


@get("/sw.js", opt={"public": True}, include_in_schema=False)
async def service_worker() -> File:
    # served from the root so its scope covers the whole app
    return File(SERVICE_WORKER, content_disposition_type="inline", media_type="text/javascript",
                headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"})


ROUTES = [home, login_page, login, logout, choose_language, healthz, manifest, service_worker]
