"""The scan API: one service behind the station screen and JSON clients (and the offline replay)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Template

import cards

from backend.clock import zone
from backend.errors import Conflict, DomainError, InvalidInput
from backend.scans.rules import Refused
from backend.scans import flagged, service
from backend.scans.schemas import ScanBatchIn, ScanIn, ScanOut
from backend.web.access import DEVICE_COOKIE, load_device, load_principal
from backend.web.errors import status_of
from backend.web.i18n import N_, gettext
from backend.web.messages import reason_text, scan_success_text

MAX_BATCH = 500


def _request(scan: ScanIn) -> service.ScanRequest:
    if scan.scanned_at.tzinfo is None:
        raise InvalidInput("naive_time", field="scanned_at")
    return service.ScanRequest(scan_id=scan.scan_id, mode=scan.mode, card=scan.card.strip()[:600],
                               scanned_at=scan.scanned_at, details=dict(scan.details), pin=scan.pin, offline=scan.offline,
                               device_verdict=msgspec.structs.asdict(scan.device_verdict) if scan.device_verdict else None,
                               clock_offset_ms=scan.clock_offset_ms)


def _out(answer: dict) -> ScanOut:
    status = 200 if answer["accepted"] else 422
    message = scan_success_text(answer) if answer["accepted"] else reason_text(answer["reason"], answer.get("params"))
    return ScanOut(status=status, message=message, **{k: answer[k] for k in (
        "scan_id", "accepted", "reason", "mode", "points", "balance", "holder", "card_number", "summary", "offline",
        "duplicate", "scanned_at")})


async def _judge(request: Request, scan: ScanIn) -> ScanOut:
    device = await load_device(request)
    ref = service.DeviceRef(device.device_id, device.station_id, device.name)
    return _out(await service.scan(ref, _request(scan), datetime.now(timezone.utc)))


@post("/api/v1/scans", opt={"device": True}, status_code=200)
async def create_scan(request: Request, data: Annotated[ScanIn, Body(title="Scan")]) -> Response[ScanOut]:
    """Record one scan. 200: recorded (or a repeat of one); 422: refused for good, with `reason`;
    409/429/5xx: try again later with the same scan_id."""
    out = await _judge(request, data)
    return Response(out, status_code=out.status)


@post("/api/v1/scans/batch", opt={"device": True}, status_code=200)
async def create_scans(request: Request, data: Annotated[ScanBatchIn, Body(title="Scans")]) -> list[ScanOut]:
    """Many scans in one request (offline replay), each judged and answered on its own, in order."""
    if len(data.scans) > MAX_BATCH:
        raise InvalidInput("batch_too_large", max=MAX_BATCH)
    return [await _judge(request, scan) for scan in data.scans]


@post("/api/v1/scans/{scan_id:uuid}/undo", opt={"device": True}, status_code=200)
async def undo_scan(request: Request, scan_id: FromPath[UUID]) -> dict:
    """Take back an accepted scan within two minutes (a ledger reversal, logged)."""
    device = await load_device(request)
    try:
        answer = await service.undo(service.DeviceRef(device.device_id, device.station_id, device.name), scan_id,
                                    datetime.now(timezone.utc))
    except Refused as exc:
        raise Conflict(exc.reason, **exc.params) from None
    return {"scan_id": str(scan_id), "undone": True, "message": gettext("Undone: the points were given back."),
            "points": -answer["points"]}


@get("/api/v1/station", opt={"device": True})
async def station_config(request: Request) -> dict:
    """What the device's screen offers and, offline, judges with: its station, modes and their choices."""
    device = await load_device(request)
    return await service.station_config(device.station_id, datetime.now(timezone.utc))


MAX_PHOTO_MB = 15


@post("/api/v1/scans/photo", opt={"device": True}, status_code=200,
      request_max_body_size=(MAX_PHOTO_MB + 1) * 1024 * 1024)
async def scan_photo(request: Request) -> dict:
    """The last resort when the camera cannot read a card: a photo (multipart field `photo`), decoded here.
    Answers {"card": token} to scan as usual, or 422 `no_code_found`. Nothing is recorded."""
    await load_device(request)
    upload = (await request.form()).get("photo")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("file_required", field="photo")
    content = await upload.read(MAX_PHOTO_MB * 1024 * 1024 + 1)
    if len(content) > MAX_PHOTO_MB * 1024 * 1024:
        raise InvalidInput("file_too_large", field="photo", max_mb=MAX_PHOTO_MB)
    try:
        tokens = await asyncio.to_thread(cards.decode_photo, content)
    except cards.NoCodeFound:
        raise Conflict("no_code_found") from None
    return {"card": tokens[0]}


# --- the hot path without the framework's layers -------------------------------------------------------------

SCAN_PATH = "/api/v1/scans"
MAX_FAST_BODY = 64 * 1024  # a scan is a few hundred bytes; anything larger takes the framework's way
_decode_scan = msgspec.json.Decoder(ScanIn).decode
_encode = msgspec.json.Encoder().encode
_WANTED = {b"authorization": "authorization", b"cookie": "cookie", b"accept-language": "accept-language",
           b"content-type": "content-type"}


def scan_fast_path(handler):
    """Wrap the application's ASGI handler so that `POST /api/v1/scans` skips the framework's middleware, routing,
    guard and response layers (together they cost as much CPU as judging the scan itself), doing exactly what
    those would for it: the device by its credential (header or cookie), the request's language, the body
    decoded strictly into ScanIn, the scan judged by the same service, the answer encoded as ScanOut.

    Anything out of the ordinary — no device credential, a session cookie (its middleware may rewrite it), a
    repeated header, a body that does not decode, a device refused, any error while judging — is handed to the
    framework's route with the body replayed, which answers as it always has (a failed scan wrote nothing, and
    judging it again is the retry the API allows with the same scan_id). The route stays the documented one."""
    from litestar._parsers import parse_cookie_string  # the framework's own cookie parser: the same credential

    from backend.settings import get_settings
    from backend.stations import service as stations
    from backend.web import i18n

    default_language = get_settings().default_language

    async def fast(scope, receive, send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != SCAN_PATH
                or scope.get("root_path")):
            return await handler(scope, receive, send)
        # the body first: whichever way the request goes, it has to be read
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before it had sent its scan: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            if not message.get("more_body", False) or size > MAX_FAST_BODY:
                break
        body = b"".join(chunks)
        if message.get("more_body", False):
            return await handler(scope, _replay(body, True, receive), send)
        scan = await _fast_scan(scope, body)
        if scan is None:
            return await handler(scope, _replay(body, False, receive), send)
        out, status = scan
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    async def _fast_scan(scope, body: bytes) -> tuple[bytes, int] | None:
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = _WANTED.get(name.lower())
            if key is not None:
                if key in headers:
                    return None
                headers[key] = value.decode("latin-1")
        if not headers.get("content-type", "application/json").lower().startswith("application/json"):
            return None
        cookies = parse_cookie_string(headers["cookie"]) if "cookie" in headers else {}
        if any(name == "session" or name.startswith("session-") for name in cookies):
            return None
        authorization = headers.get("authorization", "")
        credential = (authorization.removeprefix("Device ").strip() if authorization.startswith("Device ")
                      else cookies.get(DEVICE_COOKIE))
        if not credential:
            return None
        try:
            scan = _decode_scan(body)
        except msgspec.MsgspecError:
            return None
        i18n.current_language.set(i18n.request_language(headers.get("cookie", ""), headers.get("accept-language"),
                                                        default_language))
        now = datetime.now(timezone.utc)
        try:
            device = await stations.device_from_credential(credential, now)
            request = _request(scan)
            answer = await service.scan(service.DeviceRef(device.device_id, device.station_id, device.name), request,
                                        now)
        except Exception:
            return None
        out = _out(answer)
        return _encode(out), out.status

    fast.framework = handler
    return fast


def _replay(body: bytes, more_body: bool, receive):
    """`receive` for the framework's route after the fast path has read (some of) the body: that, then the rest."""
    pending = [{"type": "http.request", "body": body, "more_body": more_body}]

    async def again():
        return pending.pop() if pending else await receive()

    return again


# --- staff: flagged scans (the offline conflict policy, backend/scans/flagged.py) ---------------------------

REVIEW = {"capability": "scans.review"}
FLAG_NAMES = {
    "clock_skew": N_("Device clock wrong"), "implausible_time": N_("Time not believable"),
    "revoked_card": N_("Card already revoked"), "overdraft": N_("Spent beyond the balance"),
    "stock_short": N_("Stock count short"), "offer_limit": N_("Offer limit passed"),
    "overruled": N_("Station said yes, server said no"),
}
MODE_NAMES = {"checkin": N_("Check-in"), "checkout": N_("Check-out"), "award": N_("Award points"),
              "redeem_shop": N_("Points shop"), "redeem_offer": N_("Merchant offer")}
STATUS_NAMES = {"open": N_("Not yet resolved"), "resolved": N_("Resolved"), "all": N_("All")}
ACTION_NAMES = {"accept": N_("Accepted as is"), "reverse": N_("Reversed")}


def _local(moment: datetime) -> str:
    return moment.astimezone(zone()).strftime("%Y-%m-%d %H:%M")


def _filters(status: str | None, station: str | None, flag: str | None) -> flagged.Filters:
    return flagged.Filters(status=status if status in flagged.STATUSES else "open",
                           station=int(station) if station and station.isdigit() else None,
                           flag=flag if flag in FLAG_NAMES else None)


async def _flagged_page(request: Request, filters: flagged.Filters, flash: dict | None = None, status: int = 200,
                        form: dict | None = None) -> Template:
    principal = await load_principal(request)
    context = {"scans": await flagged.flagged(principal, filters), "open_count": await flagged.open_count(principal),
               "stations": await flagged.stations(principal), "filters": filters, "flash": flash, "form": form or {},
               "FLAG_NAMES": FLAG_NAMES, "MODE_NAMES": MODE_NAMES, "STATUS_NAMES": STATUS_NAMES,
               "ACTION_NAMES": ACTION_NAMES, "when": _local, "reason_text": reason_text}
    return Template("scans/flagged.html", context=context, status_code=status)


@get("/staff/flagged-scans", opt=REVIEW)
async def flagged_scans(request: Request, status: FromQuery[str | None] = None, station: FromQuery[str | None] = None,
                        flag: FromQuery[str | None] = None) -> Template:
    """Scans the offline conflict policy flagged, newest first, with filters (open/resolved, station, reason)."""
    return await _flagged_page(request, _filters(status, station, flag))


@get("/staff/flagged-scans/count", opt=REVIEW)
async def flagged_count(request: Request) -> Template:
    """The number of open flagged scans, for the menu (loaded by HTMX; a plain link without JS)."""
    count = await flagged.open_count(await load_principal(request))
    return Template("scans/_flagged_count.html", context={"count": count})


@post("/staff/flagged-scans/{scan_pk:int}/resolve", opt=REVIEW)
async def resolve_flagged(request: Request, scan_pk: FromPath[int]) -> Template:
    """Accept a flagged scan as is or reverse it; a note is required. The list comes back with what happened."""
    principal = await load_principal(request)
    form = await request.form()
    filters = _filters(form.get("status"), form.get("station"), form.get("flag"))
    try:
        done = await flagged.resolve(principal, scan_pk, form.get("action") or "", form.get("note"),
                                     datetime.now(timezone.utc))
    except DomainError as exc:
        return await _flagged_page(request, filters, {"kind": "error", "text": reason_text(exc.code, exc.params)},
                                   status=status_of(exc), form={"scan": scan_pk, "note": form.get("note") or ""})
    text = gettext("The scan was reversed: the points went back.") if done["action"] == "reverse" else gettext(
        "The scan was accepted as it is.")
    return await _flagged_page(request, filters, {"kind": "success", "text": text})


ROUTES = [create_scan, create_scans, undo_scan, station_config, scan_photo, flagged_scans, flagged_count,
          resolve_flagged]
