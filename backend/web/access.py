"""Deny by default: every route declares in its `opt` who may reach it —
`public=True`, `signed_in=True`, `capability="..."` (see backend.people.rules.CAPABILITIES),
or `device=True` (a paired station device, by its credential cookie or `Authorization: Device <credential>`)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from backend.errors import DomainError, NotFound, PermissionDenied
from backend.people import service as people
from backend.people.rules import Principal
from backend.settings import get_settings


class NotSignedIn(DomainError):
    code = "not_signed_in"


class SessionExpired(NotSignedIn):
    code = "session_expired"


def start_session(connection: ASGIConnection, principal: Principal) -> None:
    connection.set_session({"uid": principal.user_id, "at": datetime.now(timezone.utc).isoformat()})


async def load_principal(connection: ASGIConnection) -> Principal | None:
    """The signed-in user, once per request. An old or dangling session counts as signed out."""
    if "principal" in connection.state:
        return connection.state.principal
    session = connection.scope.get("session") or {}
    principal = None
    if "uid" in session:
        started = datetime.fromisoformat(session.get("at", "1970-01-01T00:00:00+00:00"))
        if datetime.now(timezone.utc) - started > timedelta(hours=get_settings().session_hours):
            connection.scope["session"] = {}
            connection.state.session_expired = True
        else:
            try:
                principal = await people.principal(session["uid"])
            except NotFound:
                connection.scope["session"] = {}
    connection.state.principal = principal
    return principal


DEVICE_COOKIE = "linli_device"


def device_credential(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.startswith("Device "):
        return header.removeprefix("Device ").strip()
    return connection.cookies.get(DEVICE_COOKIE)


async def load_device(connection: ASGIConnection):
    """The paired device making this request, or PermissionDenied (unknown or revoked: refused at once)."""
    from backend.stations import service as stations

    if "device" not in connection.state:
        credential = device_credential(connection)
        if not credential:
            raise PermissionDenied("device_unknown")
        connection.state.device = await stations.device_from_credential(credential, datetime.now(timezone.utc))
    return connection.state.device


async def access_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    opt = handler.opt
    if opt.get("device"):
        await load_device(connection)
        return
    principal = await load_principal(connection)
    if opt.get("public"):
        return
    if principal is None:
        raise SessionExpired() if connection.state.get("session_expired") else NotSignedIn()
    if opt.get("signed_in"):
        return
    capability = opt.get("capability")
    if capability is None or not principal.can(capability):
        raise PermissionDenied()


def login_url(connection: ASGIConnection) -> str:
    target = connection.url.path + (f"?{connection.url.query}" if connection.url.query else "")
    return f"/login?next={quote(target)}"

