"""The scan API: one service behind the station screen and JSON clients (and the offline replay)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from uuid import UUID

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import Body

import msgspec

import cards
from backend.errors import Conflict, InvalidInput
from backend.scans.rules import Refused
from backend.scans import service
from backend.scans.schemas import ScanBatchIn, ScanIn, ScanOut
from backend.web.access import load_device
from backend.web.i18n import gettext
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
async def create_scan(request: Request, data: ScanIn = Body(title="Scan")) -> Response[ScanOut]:
    """Record one scan. 200: recorded (or a repeat of one); 422: refused for good, with `reason`;
    409/429/5xx: try again later with the same scan_id."""
    out = await _judge(request, data)
    return Response(out, status_code=out.status)


@post("/api/v1/scans/batch", opt={"device": True}, status_code=200)
async def create_scans(request: Request, data: ScanBatchIn = Body(title="Scans")) -> list[ScanOut]:
    """Many scans in one request (offline replay), each judged and answered on its own, in order."""
    if len(data.scans) > MAX_BATCH:
        raise InvalidInput("batch_too_large", max=MAX_BATCH)
    return [await _judge(request, scan) for scan in data.scans]


@post("/api/v1/scans/{scan_id:uuid}/undo", opt={"device": True}, status_code=200)
async def undo_scan(request: Request, scan_id: UUID) -> dict:
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


ROUTES = [create_scan, create_scans, undo_scan, station_config, scan_photo]
