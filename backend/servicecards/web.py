"""Service cards on screen: the person's cards (staff), the card desk for a place (issue missing cards, print
sheets), NFC writing, identifying a card from a photo, the public card page behind every QR code and NFC tag,
the resident's own card with its rotating phone code and PIN, and the keys and revocations stations cache."""
from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timezone

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup, escape

import cards
from backend.accounts import service as accounts
from backend.community import service as community
from backend.errors import DomainError, NotFound, PermissionDenied
from backend.people import service as people
from backend.servicecards import rules, service
from backend.web.access import load_principal
from backend.web.errors import status_of
from backend.web.forms import parse_form
from backend.web.i18n import gettext as _
from backend.web.messages import reason_text

ISSUE = {"capability": "cards.issue"}
IDENTIFY = {"capability": "cards.identify"}
ME = {"capability": "me.view"}
MAX_PHOTO_MB = 15
MAX_PHOTO = MAX_PHOTO_MB * 1024 * 1024


class BackForm(msgspec.Struct):
    # where to show the result: "person:<person id>" (the person's cards) or "place:<node id>" (the card desk)
    back: str = ""


class IssueForm(msgspec.Struct):
    account: int
    back: str = ""


class BulkForm(msgspec.Struct):
    node: int


class PinForm(msgspec.Struct):
    new_pin: str = ""
    confirm_pin: str = ""
    current_pin: str = ""
    back: str = ""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def qr_markup(url: str, label: str, scale: int = 6) -> Markup:
    """An inline SVG QR code that scales with its box and has an accessible name."""
    svg = cards.make_qr(url).svg_inline(scale=scale, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr")
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" '
                                       'style="display:block;width:100%;max-width:22rem;height:auto" ', 1))


def _labels() -> tuple[str, str]:
    return _("Convenience service card"), _("Card no.")


def _flash_error(exc: DomainError) -> dict:
    return {"kind": "error", "text": reason_text(exc.code, exc.params)}


def _reraise_access(exc: DomainError) -> None:
    """Being in the wrong place is an error page (403), never a flash inside someone else's screen."""
    if isinstance(exc, PermissionDenied):
        raise exc


# --- the person's cards (staff) --------------------------------------------------------------------------

async def _person_cards(request: Request, person_id: int, flash: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    person = await people.person_detail(person_id)
    home = person["home_path"]
    if not (principal.can_at("people.view", home) or principal.can_at("cards.issue", home)):
        raise PermissionDenied("other_community")
    person_cards = await service.cards_of_person(person_id)
    with_card = {c.account_id for c in person_cards if c.active}
    issuable = [a for a in await accounts.accounts_of_person(person_id)
                if rules.may_have_card(a["kind"]) and a["id"] not in with_card]
    context = {"person": person, "cards": person_cards, "issuable": issuable, "flash": flash,
               "can_issue": principal.can_at("cards.issue", home), "back": f"person:{person_id}",
               "target": "#person-cards"}
    template = "servicecards/_person_cards.html" if request.htmx else "servicecards/person_cards.html"
    return Template(template, context=context, status_code=status)


@get("/staff/people/{person_id:int}/cards", opt={"capability": "people.view"})
async def person_cards(request: Request, person_id: FromPath[int]) -> Template:
    return await _person_cards(request, person_id)


# --- the card desk: a place's cards, bulk issue, print sheets ---------------------------------------------

def _flatten(node, depth=0):
    if node.kind in ("unit",):
        return
    yield {"id": node.id, "name": node.name, "kind": node.kind, "depth": depth}
    for child in node.children:
        yield from _flatten(child, depth + 1)


async def _desk(request: Request, node_id: int | None, flash: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    scope = principal.scope_paths("cards.issue")
    places = [n for root in await community.subtree(scope) for n in _flatten(root)]
    summary = await service.place_summary(principal, node_id) if node_id is not None else None
    context = {"places": places, "node": node_id, "summary": summary, "flash": flash,
               "cards": summary["cards"] if summary else [], "issuable": summary["without"] if summary else [],
               "can_issue": True, "back": f"place:{node_id}", "target": "#desk",
               "pages": -(-summary["active"] // 10) if summary else 0}
    template = "servicecards/_desk.html" if request.htmx and request.htmx.target == "desk" else "servicecards/desk.html"
    return Template(template, context=context, status_code=status)


@get("/staff/cards", opt=ISSUE)
async def desk(request: Request, node: FromQuery[str] = "") -> Template:
    return await _desk(request, int(node) if node.isdigit() else None)


async def _after(request: Request, back: str, flash: dict, status: int = 200) -> Template:
    """Show the outcome of an action where it was started."""
    kind, _sep, ref = back.partition(":")
    if kind == "person" and ref.isdigit():
        return await _person_cards(request, int(ref), flash, status)
    return await _desk(request, int(ref) if kind == "place" and ref.isdigit() else None, flash, status)


@post("/staff/cards/bulk", opt=ISSUE)
async def bulk_issue(request: Request) -> Template:
    principal = await load_principal(request)
    form = await parse_form(request, BulkForm)
    try:
        done = await service.issue_bulk(principal, form.node, _now())
    except DomainError as exc:
        _reraise_access(exc)
        return await _desk(request, form.node, _flash_error(exc), status_of(exc))
    text = (_("Issued %(issued)s new cards for %(place)s; %(already)s already had one.",
              issued=len(done.issued), place=done.node_name, already=done.already)
            if done.issued else _("Everyone in %(place)s already has a card.", place=done.node_name))
    return await _desk(request, form.node, {"kind": "success", "text": text})


@post("/staff/cards/issue", opt=ISSUE)
async def issue(request: Request) -> Template:
    principal = await load_principal(request)
    form = await parse_form(request, IssueForm)
    try:
        card = await service.issue(principal, form.account, _now())
    except DomainError as exc:
        _reraise_access(exc)
        return await _after(request, form.back, _flash_error(exc), status_of(exc))
    return await _after(request, form.back, {"kind": "success", "text": _(
        "Card %(number)s issued. Print it and hand it over.", number=card.formatted_number)})


@post("/staff/cards/{card_pk:int}/lost", opt=ISSUE)
async def report_lost(request: Request, card_pk: FromPath[int]) -> Template:
    principal = await load_principal(request)
    form = await parse_form(request, BackForm)
    try:
        old = await service.card(card_pk)
        new = await service.report_lost(principal, card_pk, _now())
    except DomainError as exc:
        _reraise_access(exc)
        return await _after(request, form.back, _flash_error(exc), status_of(exc))
    return await _after(request, form.back, {"kind": "success", "text": _(
        "Card %(old)s no longer works. New card %(new)s issued to the same account; the points stay. Print it.",
        old=old.formatted_number, new=new.formatted_number)})


@post("/staff/cards/{card_pk:int}/pin-reset", opt=ISSUE)
async def reset_pin(request: Request, card_pk: FromPath[int]) -> Template:
    principal = await load_principal(request)
    form = await parse_form(request, PinForm)
    try:
        has_pin = await service.reset_pin(principal, card_pk, form.new_pin, form.confirm_pin, _now())
    except DomainError as exc:
        _reraise_access(exc)
        return await _after(request, form.back, _flash_error(exc), status_of(exc))
    text = _("The new PIN is set.") if has_pin else _("The PIN was cleared. The holder can set a new one.")
    return await _after(request, form.back, {"kind": "success", "text": text})


def _download(body: bytes | str, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@get("/staff/cards/sheet.pdf", opt=ISSUE)
async def place_sheet_pdf(request: Request, node: FromQuery[int]) -> Response:
    principal = await load_principal(request)
    place, views = await service.printable_place(principal, node)
    if not views:
        raise NotFound("no_cards_to_print")
    faces = await service.faces(views, *_labels())
    # a thousand cards take a few seconds: render off the event loop
    pdf = await asyncio.to_thread(cards.render_sheet_pdf, faces)
    return _download(pdf, "application/pdf", f"linli-cards-{place['id']}.pdf")


@get("/staff/cards/sheet.svg", opt=ISSUE)
async def place_sheet_svg(request: Request, node: FromQuery[int], page: FromQuery[int] = 1) -> Response:
    principal = await load_principal(request)
    place, views = await service.printable_place(principal, node)
    chosen = views[(page - 1) * 10: page * 10] if page >= 1 else []
    if not chosen:
        raise NotFound("no_cards_to_print")
    svg = (await asyncio.to_thread(cards.render_sheet_svg, await service.faces(chosen, *_labels())))[0]
    return _download(svg, "image/svg+xml", f"linli-cards-{place['id']}-{page}.svg")


@get("/staff/cards/{card_pk:int}/card.pdf", opt=ISSUE)
async def card_pdf(request: Request, card_pk: FromPath[int]) -> Response:
    view = await service.printable_card(await load_principal(request), card_pk)
    pdf = await asyncio.to_thread(cards.render_sheet_pdf, await service.faces([view], *_labels()))
    return _download(pdf, "application/pdf", f"linli-card-{view.number}.pdf")


@get("/staff/cards/{card_pk:int}/card.svg", opt=ISSUE)
async def card_svg(request: Request, card_pk: FromPath[int]) -> Response:
    view = await service.printable_card(await load_principal(request), card_pk)
    svg = cards.render_sheet_svg(await service.faces([view], *_labels()))[0]
    return _download(svg, "image/svg+xml", f"linli-card-{view.number}.svg")


# --- NFC tags --------------------------------------------------------------------------------------------

@get("/staff/cards/{card_pk:int}/nfc", opt=ISSUE)
async def nfc_page(request: Request, card_pk: FromPath[int]) -> Template:
    view = await service.printable_card(await load_principal(request), card_pk)
    url = await service.card_url(view)
    try:
        image_size, fits = len(cards.ntag213_image(url)), True
    except cards.NdefTooLarge as exc:
        image_size, fits = exc.size, False
    context = {"card": view, "url": url, "message_size": len(cards.ndef_uri_message(url)), "image_size": image_size,
               "capacity": cards.NTAG213_USER_BYTES, "fits": fits}
    return Template("servicecards/nfc.html", context=context)


# --- which card is in this photo? ------------------------------------------------------------------------

async def _photo_page(request: Request, result: dict | None = None, flash: dict | None = None,
                      status: int = 200) -> Template:
    return Template("servicecards/photo.html", context={"result": result, "flash": flash, "max_mb": MAX_PHOTO_MB},
                    status_code=status)


@get("/staff/cards/photo", opt=IDENTIFY)
async def photo_page(request: Request) -> Template:
    return await _photo_page(request)


@post("/staff/cards/photo", opt=IDENTIFY, request_max_body_size=MAX_PHOTO + 1024 * 1024)
async def photo_decode(request: Request) -> Template:
    principal = await load_principal(request)
    upload = (await request.form()).get("photo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _photo_page(request, flash={"kind": "error", "text": reason_text("file_required")}, status=400)
    content = await upload.read(MAX_PHOTO + 1)
    if len(content) > MAX_PHOTO:
        return await _photo_page(request, flash={"kind": "error", "text": reason_text(
            "file_too_large", {"max_mb": MAX_PHOTO_MB})}, status=400)
    try:
        tokens = await asyncio.to_thread(cards.decode_photo, content)
    except cards.NoCodeFound:
        return await _photo_page(request, {"found": False}, status=422)
    found = await service.identify(tokens[0], _now(), numbers=False)
    in_scope = found.card is not None and principal.can_at("cards.identify", found.card.scope_path)
    result = {"found": True, "identified": found, "in_scope": in_scope, "count": len(tokens),
              "reason": reason_text(found.reason) if found.reason else None}
    return await _photo_page(request, result)


# --- the page behind every card QR code and NFC tag (public) ----------------------------------------------

@get("/c/{token:str}", opt={"public": True})
async def landing(request: Request, token: FromPath[str]) -> Response:
    found = await service.identify(token, _now(), numbers=False)
    principal = await load_principal(request)
    if (found.reason is None and principal is not None and principal.person_id is not None
            and found.card.holder_person_id == principal.person_id):
        return Redirect("/me/card")
    status = 200 if found.reason is None else 410 if found.reason == "revoked" else 404
    context = {"found": found, "reason": reason_text(found.reason) if found.reason else None,
               "signed_in": principal is not None, "login_next": f"/c/{token}"}
    return Template("servicecards/landing.html", context=context, status_code=status)


# --- the resident's own card -----------------------------------------------------------------------------

async def _entry(principal, view: service.CardView, now: datetime) -> dict:
    code = await service.phone_code(principal.person_id, view.pk, now)
    return {"card": view, "phone": code, "expires_ms": int(code.expires_at.timestamp() * 1000),
            "phone_svg": qr_markup(code.url, _("Phone card code %(number)s", number=view.formatted_number))}


async def _my_card(request: Request, refresh: int | None, flash: dict | None = None, status: int = 200,
                   pin_card: int | None = None) -> Template:
    principal = await load_principal(request)
    now = _now()
    entries = []
    for view in await service.active_cards_of_person(principal.person_id):
        entry = await _entry(principal, view, now)
        entry["static_svg"] = qr_markup(await service.card_url(view),
                                        _("Printed card code %(number)s", number=view.formatted_number))
        entry["flash"] = flash if pin_card == view.pk else None
        entries.append(entry)
    context = {"entries": entries, "refresh": rules.refresh_seconds(refresh), "flash": flash if pin_card is None else None,
               "pin_length": rules.PIN_LENGTH}
    return Template("servicecards/my_card.html", context=context, status_code=status)


@get("/me/card", opt=ME)
async def my_card(request: Request, refresh: FromQuery[int | None] = None) -> Template:
    return await _my_card(request, refresh)


@get("/me/card/{card_pk:int}/phone-code", opt=ME)
async def phone_code(request: Request, card_pk: FromPath[int], refresh: FromQuery[int | None] = None) -> Template:
    principal = await load_principal(request)
    entry = await _entry(principal, await service.card(card_pk), _now())
    return Template("servicecards/_phone_code.html", context={"entry": entry, "refresh": rules.refresh_seconds(refresh)},
                    headers={"Cache-Control": "no-store"})


@post("/me/card/{card_pk:int}/pin", opt=ME)
async def set_pin(request: Request, card_pk: FromPath[int]) -> Template:
    principal = await load_principal(request)
    form = await parse_form(request, PinForm)
    try:
        await service.set_pin(principal, card_pk, form.new_pin, form.confirm_pin, form.current_pin or None, _now())
    except DomainError as exc:
        _reraise_access(exc)
        return await _pin_result(request, card_pk, _flash_error(exc), status_of(exc))
    return await _pin_result(request, card_pk, {"kind": "success", "text": _("Your PIN is saved.")})


async def _pin_result(request: Request, card_pk: int, flash: dict, status: int = 200) -> Template:
    if request.htmx:
        view = await service.card(card_pk)
        return Template("servicecards/_pin_form.html", context={"entry": {"card": view, "flash": flash},
                                                                "pin_length": rules.PIN_LENGTH}, status_code=status)
    return await _my_card(request, None, flash, status, pin_card=card_pk)


# --- for stations that verify offline (JSON) -------------------------------------------------------------

def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@get("/api/v1/cards/keys", opt={"public": True})
async def api_keys() -> Response:
    """The public keys that verify card codes, by key id (raw 32-byte Ed25519 keys, base64url, no padding).
    Retired keys are left out: a code signed with one is `unknown_key`."""
    keys = await service.public_keys()
    body = {"algorithm": "Ed25519", "encoding": "base64url",
            "keys": [{"key_id": key_id, "public_key": _b64url(raw)} for key_id, raw in sorted(keys.items())]}
    return Response(body, headers={"Cache-Control": "public, max-age=300"})


@get("/api/v1/cards/revocations", opt={"public": True})
async def api_revocations() -> Response:
    """The card ids (16 hex digits, as in the token) of every revoked card. Public: card ids are random and
    name nobody, and a revoked card's id is useless to a forger without a signing key."""
    body = {"generated_at": _now().isoformat(), "card_ids": await service.revocation_list()}
    return Response(body, headers={"Cache-Control": "no-cache"})


ROUTES = [
    person_cards, desk, bulk_issue, issue, report_lost, reset_pin, place_sheet_pdf, place_sheet_svg, card_pdf, card_svg,
    nfc_page, photo_page, photo_decode, landing, my_card, phone_code, set_pin, api_keys, api_revocations,
]
