"""Stations on screen. Staff set up stations and pair devices with a one-time QR code; the paired device opens
/station, the scan screen (camera, scanner, NFC, typed number, photo), which talks to the scan API."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect, Template

from backend.clock import local_date, zone
from backend.errors import DomainError, NotFound, PermissionDenied
from backend.people.rules import require_scope
from backend.servicecards.web import qr_markup
from backend.settings import get_settings
from backend.stations import offline, rules, service
from backend.web.access import DEVICE_COOKIE, load_device, load_principal
from backend.web.errors import status_of
from backend.web.i18n import N_
from backend.web.i18n import gettext as _
from backend.web.messages import REASONS, reason_text

MANAGE = {"capability": "stations.manage"}
DEVICE = {"device": True}
DEVICE_COOKIE_SECONDS = 365 * 24 * 3600

KINDS = {"centre": N_("Community service centre"), "shop": N_("Points shop"), "event": N_("Event table"),
         "merchant": N_("Merchant till")}
MODES = {"checkin": N_("Check volunteers in and out"), "award": N_("Award catalogue items"),
         "redeem_shop": N_("Redeem points-shop goods"), "redeem_offer": N_("Redeem merchant offers"),
         "issue_cards": N_("Issue and replace cards"), "report_in": N_("In-service members' monthly check-in")}
# the scan screen's buttons: a station's "checkin" mode gives two, check-in and check-out
SCAN_MODES = {"award": N_("Award"), "checkin": N_("Check in"), "checkout": N_("Check out"),
              "redeem_shop": N_("Shop goods"), "redeem_offer": N_("Merchant offer"), "report_in": N_("Home check-in")}


class StationForm(msgspec.Struct):
    community: int
    name: str = ""
    kind: str = ""
    modes: list[str] = []
    award_items: list[int] = []
    receiving_account: int | None = None
    pin_threshold: int | None = None  # empty: never ask for the PIN
    offline_limit: int = 0


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _local(moment: datetime | None) -> str:
    return moment.astimezone(zone()).strftime("%Y-%m-%d %H:%M") if moment else ""


def _labels() -> dict:
    return {"kinds": {k: _(v) for k, v in KINDS.items()}, "modes": {k: _(v) for k, v in MODES.items()}}


class _FormError(Exception):
    """A form that does not parse, with what was typed, to show the form again."""

    def __init__(self, raw: dict, code: str, field: str | None) -> None:
        super().__init__(code)
        self.raw, self.code, self.field = raw, code, field


async def _form(request: Request) -> tuple[dict, StationForm]:
    """The raw values (to show the form again) and the parsed form; a group of checkboxes repeats its name."""
    form = await request.form()
    raw = {k: v.strip() for k, v in form.items() if k not in ("_csrf_token", "modes", "award_items") and isinstance(v, str)}
    raw["modes"] = form.getall("modes", [])
    raw["award_items"] = form.getall("award_items", [])
    data = {k: v for k, v in raw.items() if v != ""}
    try:
        return raw, msgspec.convert(data, StationForm, strict=False)
    except msgspec.ValidationError as exc:
        field = str(exc).rsplit("$.", 1)[-1].split("[")[0].rstrip("`") if "$." in str(exc) else None
        # a number field that is not a number: the domain's own words for it
        raise _FormError(raw, "bad_setting" if field in ("pin_threshold", "offline_limit") else "invalid", field) from exc


# --- staff: the list, a new station, one station with its devices ---------------------------------------

@get("/staff/stations", opt=MANAGE)
async def station_list(request: Request) -> Template:
    principal = await load_principal(request)
    stations = await service.stations_in(principal.scope_paths("stations.manage"))
    return Template("stations/list.html", context={"stations": stations, **_labels()})


async def _new_page(request: Request, community_id: int | None, values: dict | None = None,
                    error: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    communities = await service.communities_in(principal.scope_paths("stations.manage"))
    if community_id is None and len(communities) == 1:
        community_id = communities[0]["id"]
    chosen = next((c for c in communities if c["id"] == community_id), None)
    if community_id is not None and chosen is None:
        raise PermissionDenied("other_community")
    choices = await service.station_choices(chosen["id"], local_date(_now())) if chosen else None
    values = values or {"kind": "centre", "modes": [], "award_items": [], "pin_threshold": "50", "offline_limit": "0"}
    context = {"communities": communities, "community": chosen, "choices": choices, "values": values, "error": error,
               "flash": {"kind": "error", "text": error["text"]} if error else None, **_labels()}
    return Template("stations/new.html", context=context, status_code=status)


@get("/staff/stations/new", opt=MANAGE)
async def new_station(request: Request, community: FromQuery[str] = "") -> Template:
    return await _new_page(request, int(community) if community.isdigit() else None)


@post("/staff/stations", opt=MANAGE)
async def create_station(request: Request) -> Response:
    principal = await load_principal(request)
    try:
        raw, form = await _form(request)
        station_id = await service.create_station(
            principal, form.community, form.name, form.kind, form.modes, award_items=form.award_items,
            receiving_account_id=form.receiving_account, pin_threshold=form.pin_threshold,
            offline_limit=form.offline_limit)
    except _FormError as exc:
        community = exc.raw.get("community", "")
        return await _new_page(request, int(community) if community.isdigit() else None, exc.raw,
                               {"field": exc.field, "text": reason_text(exc.code)}, 400)
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _new_page(request, form.community, raw, {"field": exc.params.get("field"),
                                                             "text": reason_text(exc.code, exc.params)}, status_of(exc))
    return Redirect(f"/staff/stations/{station_id}", status_code=303)


async def _station_page(request: Request, station_id: int, pairing: dict | None = None, flash: dict | None = None,
                        status: int = 200, part: str | None = None) -> Template:
    principal = await load_principal(request)
    station = await service.station(station_id)
    require_scope(principal, "stations.manage", station["community_path"])
    choices = await service.station_choices(station["community"], local_date(_now()))
    devices = [d | {"paired": _local(d["paired_at"]), "seen": _local(d["last_seen_at"]),
                    "revoked": _local(d["revoked_at"])} for d in await service.devices_of(station_id)]
    context = {
        "station": station, "devices": devices, "pairing": pairing, "flash": flash, **_labels(),
        "items": [i for i in choices["items"] if i.id in station["award_items"]],
        "account": next((a for a in choices["accounts"] if a["id"] == station["receiving_account"]), None),
    }
    template = f"stations/_{part}.html" if part and request.htmx else "stations/detail.html"
    return Template(template, context=context, status_code=status, headers={"Cache-Control": "no-store"})


@get("/staff/stations/{station_id:int}", opt=MANAGE)
async def station_page(request: Request, station_id: FromPath[int]) -> Template:
    # while a pairing code is on screen, the devices list refreshes itself so the new device shows up
    return await _station_page(request, station_id, part="devices" if request.htmx and request.htmx.target == "devices" else None)


@post("/staff/stations/{station_id:int}/pairing", opt=MANAGE)
async def new_pairing(request: Request, station_id: FromPath[int]) -> Template:
    """A one-time code for a new device, shown as a QR code the device scans (or its address, typed)."""
    principal = await load_principal(request)
    form = await request.form()
    name = (form.get("device_name") or "").strip()
    now = _now()
    try:
        code = await service.new_pairing_code(principal, station_id, name, now)
    except DomainError as exc:
        if isinstance(exc, (PermissionDenied, NotFound)):
            raise
        return await _station_page(request, station_id, {"error": reason_text(exc.code, exc.params), "name": name},
                                   status=status_of(exc), part="pairing")
    url = rules.pairing_url(get_settings().base_url, code)
    until = now + rules.PAIRING_LIFETIME
    pairing = {"url": url, "name": name, "until": until.astimezone(zone()).strftime("%H:%M"),
               "until_ms": int(until.timestamp() * 1000),
               "qr": qr_markup(url, _("Pairing code for %(name)s", name=name))}
    return await _station_page(request, station_id, pairing, part="pairing")


@post("/staff/stations/{station_id:int}/devices/{device_id:int}/revoke", opt=MANAGE)
async def revoke_device(request: Request, station_id: FromPath[int], device_id: FromPath[int]) -> Template:
    principal = await load_principal(request)
    if device_id not in {d["id"] for d in await service.devices_of(station_id)}:
        raise NotFound("device_unknown")
    await service.revoke_device(principal, device_id, _now())
    return await _station_page(request, station_id, flash={"kind": "success", "text": _(
        "The device was switched off. It can no longer scan.")}, part="devices")


# --- the device: pairing, the scan screen -------------------------------------------------------------

async def _pairing(code: str) -> tuple[dict | None, str | None]:
    try:
        return await service.pairing_info(code, _now()), None
    except (NotFound, PermissionDenied) as exc:
        return None, exc.code


@get("/pair/{code:str}", opt={"public": True})
async def pair_page(request: Request, code: FromPath[str]) -> Template:
    info, problem = await _pairing(code)
    status = 200 if info else 404 if problem == "pairing_unknown" else 410
    return Template("stations/pair.html", status_code=status, headers={"Cache-Control": "no-store"},
                    context={"info": info, "problem": reason_text(problem) if problem else None, "code": code})


@post("/pair/{code:str}", opt={"public": True})
async def pair(request: Request, code: FromPath[str]) -> Response:
    try:
        credential = await service.pair(code, _now())
    except (NotFound, PermissionDenied) as exc:
        return Template("stations/pair.html", status_code=404 if exc.code == "pairing_unknown" else 410,
                        context={"info": None, "problem": reason_text(exc.code), "code": code})
    response = Redirect("/station", status_code=303)
    response.set_cookie(DEVICE_COOKIE, credential, max_age=DEVICE_COOKIE_SECONDS, path="/", httponly=True,
                        samesite="lax", secure=get_settings().secure_cookies)
    return response


# the reasons the station's offline judge may give (frontend/static/js/offline-judge.mjs): the server's words for
# the server's codes, and the device's own for what only a device offline can say
JUDGE_REASONS = ("malformed", "unknown_version", "unknown_key", "bad_signature", "expired", "revoked", "unknown_mode",
                 "mode_not_allowed", "event_not_found", "outside_event_hours", "already_checked_in",
                 "already_checked_out", "not_checked_in", "item_not_allowed", "colour_not_eligible", "bad_quantity",
                 "goods_not_allowed", "out_of_stock", "offer_not_allowed", "insufficient_balance", "pin_required",
                 "offline_limit_exceeded", "error")
DEVICE_REASONS = {
    "offline_unknown_card": N_("Without the network this card cannot be checked: the station has not seen it before. "
                               "Scan the card's code instead of typing its number, or try again when the network is back."),
    "offline_limit_exceeded": N_("Without the network a card may spend at most %(limit)s points here today; "
                                 "%(left)s are left. Try again when the network is back."),
    "offline_shop_closed": N_("The points shop is closed today: redemptions are refused outside its redemption windows."),
}


def _reason_templates() -> dict:
    """Reason texts with their %(name)s placeholders left in: the page fills them."""
    out = {code: _(REASONS[code]) for code in JUDGE_REASONS}
    return out | {code: _(text) for code, text in DEVICE_REASONS.items()}


def _scan_strings() -> dict:
    """Every word the scan screen's script shows, in the device's language."""
    return {
        "modes": {k: _(v) for k, v in SCAN_MODES.items()},
        "choose": {"award": _("Item to award"), "checkin": _("Event"), "checkout": _("Event"),
                   "redeem_shop": _("Goods"), "redeem_offer": _("Offer"), "report_in": _("Project taken on")},
        "nothing_to_choose": _("Nothing to choose from yet. Ask staff to set up this station."),
        "quantity": _("Quantity"),
        "priced": _("%(name)s (%(points)s points)"),
        "stock": _("%(stock)s in stock"),
        "remaining": _("%(remaining)s left"),
        "shop_closed": _("The points shop is closed today: redemptions are refused outside its redemption windows."),
        "sending": _("Saving…"),
        "accepted": _("Done"),
        "refused": _("Refused"),
        "retry_title": _("Not saved"),
        "retry": _("No connection to the server, or it is busy. This scan was NOT saved. Please try again."),
        "try_again": _("Try again"),
        "points": _("Points"),
        "balance": _("Balance: %(balance)s"),
        "undo": _("Undo"),
        "undone": _("Undone: the points were given back."),
        "next": _("Next card"),
        "pin_title": _("The card holder enters the PIN"),
        "pin_label": _("PIN (6 digits)"),
        "pin_ok": _("Confirm"),
        "pin_cancel": _("Cancel"),
        "pin_delete": _("Delete"),
        "camera_start": _("Start camera"),
        "camera_stop": _("Stop camera"),
        "camera_failed": _("The camera cannot be used. Allow camera access, or use a scanner or type the card number."),
        "nfc_start": _("Read NFC card"),
        "nfc_ready": _("Hold the card against the back of the device…"),
        "nfc_failed": _("NFC reading failed: %(error)s"),
        "photo_sending": _("Reading the photo…"),
        "config_failed": _("The station settings could not be loaded. Check the connection and reload the page."),
        "choose_first": _("Choose what to do first."),
        "offline_saved": _("Saved offline, will sync"),
        "offline_accepted": _("Accepted on this device. It is sent to the server when the network is back."),
        "balance_estimate": _("Balance (estimated): %(balance)s"),
        "pending": _("Waiting to sync: %(count)s"),
        "refused_by_server": _("Scans refused by the server: %(count)s. See the list."),
        "reasons": _reason_templates(),
    }


@get("/station", opt=DEVICE)
async def scan_screen(request: Request) -> Template:
    device = await load_device(request)
    return Template("stations/scan.html", context={"device": device, "strings": _scan_strings()})


@get("/station/queue", opt=DEVICE)
async def queue_page(request: Request) -> Template:
    """The scans this device saved while offline and their state (the list lives on the device, in IndexedDB)."""
    device = await load_device(request)
    strings = {
        "states": {"pending": _("Waiting"), "sending": _("Sending"), "done": _("Sent"), "refused": _("Refused by the server")},
        "modes": {k: _(v) for k, v in SCAN_MODES.items()},
        "shown_ok": _("Accepted"), "shown_refused": _("Refused"),
        "empty": _("No scans were saved offline on this device."),
        "unavailable": _("This browser cannot keep scans offline."),
        "sent": _("Replay finished."),
        "reasons": _reason_templates(),
    }
    return Template("stations/queue.html", context={"device": device, "strings": strings})


@get("/station/device", opt=DEVICE)
async def device_info(request: Request) -> Template:
    """Which station this device belongs to and under what name, for staff at the counter."""
    device = await load_device(request)
    row = next(d for d in await service.devices_of(device.station_id) if d["id"] == device.device_id)
    return Template("stations/device.html", context={"device": device, "paired": _local(row["paired_at"])})


@get("/api/v1/station/offline", opt=DEVICE)
async def station_offline_data(request: Request) -> Response:
    """Everything the device needs to judge scans by itself while the network is down (backend/stations/offline.py).
    The device refreshes it while online; `server_time` also measures its clock's offset."""
    device = await load_device(request)
    body = await offline.offline_data(device.station_id, _now())
    return Response(body, headers={"Cache-Control": "no-store"})


# the offline scan queue's modules (service-worker/src), for the service worker and the station page to import
QUEUE_MODULES = Path(__file__).resolve().parents[2] / "service-worker" / "src"


@get("/sw-src/{name:str}", opt={"public": True}, include_in_schema=False)
async def queue_module(name: FromPath[str]) -> File:
    path = QUEUE_MODULES / name
    # only the modules themselves: a name is a file in that folder, never a path
    if "/" in name or "\\" in name or not name.endswith(".mjs") or not path.is_file():
        raise NotFound("not_found")
    return File(path, content_disposition_type="inline", media_type="text/javascript",
                headers={"Cache-Control": "no-cache"})


ROUTES = [station_list, new_station, create_station, station_page, new_pairing, revoke_device, pair_page, pair,
          scan_screen, device_info, station_offline_data, queue_module, queue_page]
