"""Claims on screen: a resident files one from the phone with a photo and follows it on "my claims" (and confirms
what a building lead filed for them); the committee works through the weekly review queue in batches."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated
from uuid import uuid4

import msgspec
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import Body, FromPath, FromQuery
from litestar.response import File, Redirect, Template

from backend.catalog.web import COLOUR_NAMES
from backend.claims import photos, rules, service
from backend.clock import local_date, zone
from backend.errors import DomainError, InvalidInput, PermissionDenied
from backend.web.access import load_device, load_principal
from backend.web.errors import status_of
from backend.web.forms import form_int
from backend.web.i18n import N_, gettext as _, ngettext
from backend.web.messages import reason_text

ME = {"capability": "me.view"}
REVIEW = {"capability": "claims.review"}
# room for the multipart envelope around a photo of the largest allowed size; above it Litestar answers 413 itself
MAX_BODY = photos.MAX_BYTES + 1024 * 1024
STATE_NAMES = {"pending": N_("Waiting for review"), "approved_once": N_("Approved once, waiting for a second reviewer"),
               "approved": N_("Approved"), "rejected": N_("Not approved"), "declined": N_("Declined by the resident"),
               "unconfirmed": N_("Waiting for the resident to confirm"),
               "disputed": N_("Disputed: the resident said at a station that it is not theirs")}
DONE = {"filed": N_("Your claim was sent. The review committee looks at claims every week."),
        "filed_for": N_("The claim was filed. It goes to the review committee once the resident confirms it."),
        "confirmed": N_("Thank you: the claim now goes to the review committee."),
        "declined": N_("The claim was declined; it will not be reviewed.")}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def when(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(zone()).strftime(pattern)


def _error(exc: DomainError) -> dict:
    return {"kind": "error", "text": reason_text(exc.code, exc.params)}


HELPERS = {"STATE_NAMES": STATE_NAMES, "COLOUR_NAMES": COLOUR_NAMES, "when": when,
           "TWO_REVIEWER_POINTS": rules.TWO_REVIEWER_POINTS}


# --- residents --------------------------------------------------------------------------------------------

async def _form_page(request: Request, form: dict | None = None, flash: dict | None = None, status: int = 200,
                     field: str | None = None) -> Template:
    principal = await load_principal(request)
    today = local_date(_now())
    context = {"claim_form": await service.form(principal, today), "today": today,
               "earliest": date.fromordinal(today.toordinal() - rules.MAX_DEED_AGE_DAYS), "max_mb": photos.MAX_MB,
               "form": form or {}, "submission_key": (form or {}).get("submission_key") or uuid4().hex,
               "flash": flash, "field": field, **HELPERS}
    return Template("claims/new.html", context=context, status_code=status)


@get("/claims/new", opt=ME)
async def new_claim(request: Request, item: FromQuery[int | None] = None) -> Template:
    return await _form_page(request, {"item": str(item)} if item else None)


@post("/claims", opt=ME, request_max_body_size=MAX_BODY)
async def file_claim(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    form = await request.form()
    raw = {k: v for k, v in form.items() if k != "_csrf_token" and isinstance(v, str)}
    try:
        item_id = form_int(form.get("item"), "item")
        if item_id is None:
            raise InvalidInput("item_required", field="item")
        try:
            deed_date = date.fromisoformat(raw.get("deed_date", "").strip())
        except ValueError:
            raise InvalidInput("bad_date", field="deed_date") from None
        upload = form.get("photo")
        photo = None
        if isinstance(upload, UploadFile) and upload.filename:
            photo = await upload.read(photos.MAX_BYTES + 1)
            if len(photo) > photos.MAX_BYTES:
                raise InvalidInput("file_too_large", field="photo", max_mb=photos.MAX_MB)
        for_person = form_int(form.get("for_person"), "for_person")
        await service.submit(principal, item_id=item_id, deed_date=deed_date, description=raw.get("description", ""),
                             witnesses=raw.get("witnesses", ""), photo=photo, submission_key=raw.get("submission_key", ""),
                             now=_now(), for_person=for_person, account_id=form_int(form.get("account"), "account"))
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _form_page(request, raw, _error(exc), status_of(exc), exc.params.get("field"))
    on_behalf = for_person is not None and for_person != principal.person_id
    return Redirect(f"/claims?done={'filed_for' if on_behalf else 'filed'}", status_code=303)


async def _mine(request: Request, flash: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    claims = await service.my_claims(principal)
    context = {"claims": claims, "me": principal.person_id, "flash": flash, **HELPERS}
    return Template("claims/mine.html", context=context, status_code=status)


@get("/claims", opt=ME)
async def my_claims(request: Request, done: FromQuery[str | None] = None) -> Template:
    return await _mine(request, {"kind": "success", "text": _(DONE[done])} if done in DONE else None)


@post("/claims/{claim_id:int}/confirm", opt=ME)
async def confirm(request: Request, claim_id: FromPath[int]) -> Template | Redirect:
    try:
        await service.confirm(await load_principal(request), claim_id, _now())
    except DomainError as exc:
        return await _mine(request, _error(exc), status_of(exc))
    return Redirect("/claims?done=confirmed", status_code=303)


@post("/claims/{claim_id:int}/decline", opt=ME)
async def decline(request: Request, claim_id: FromPath[int]) -> Template | Redirect:
    try:
        await service.decline(await load_principal(request), claim_id, _now())
    except DomainError as exc:
        return await _mine(request, _error(exc), status_of(exc))
    return Redirect("/claims?done=declined", status_code=303)


@get("/claims/{claim_id:int}/photo", opt={"signed_in": True})
async def claim_photo(request: Request, claim_id: FromPath[int]) -> File:
    """The evidence photo, only for the claimant, whoever filed the claim, and reviewers of its community."""
    path = await service.photo(await load_principal(request), claim_id)
    return File(path, content_disposition_type="inline", media_type="image/jpeg",
                headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


# --- the review committee ---------------------------------------------------------------------------------

def _week(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput("bad_date", field="week") from None


async def _queue_page(request: Request, grid: int | None, category: int | None, week: str | None,
                      flash: dict | None = None, results: list | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    found = await service.queue(principal, grid, category, _week(week))
    context = {"queue": found, "filters": {"grid": grid, "category": category, "week": week or ""}, "flash": flash,
               "disputed": await service.disputed(principal),
               "results": results or [], "multi_community": len({c["community_name"] for c in found.categories}) > 1,
               **HELPERS}
    return Template("claims/review.html", context=context, status_code=status)


@get("/review", opt=REVIEW)
async def review_queue(request: Request, grid: FromQuery[int | None] = None, category: FromQuery[int | None] = None,
                       week: FromQuery[str | None] = None) -> Template:
    return await _queue_page(request, grid, category, week)


@post("/review", opt=REVIEW)
async def decide(request: Request) -> Template:
    """Approve or reject the selected claims, each on its own; the page says what happened to every one."""
    principal = await load_principal(request)
    form = await request.form()
    filters = {k: form_int(form.get(k), k) for k in ("grid", "category")}
    week = form.get("week") or None
    try:
        ids = [int(v) for v in form.getall("claim", []) if isinstance(v, str) and v.isdigit()]
        decisions = await service.review(principal, ids, form.get("decision") or "", form.get("reason") or "", _now())
    except DomainError as exc:
        return await _queue_page(request, filters["grid"], filters["category"], week, _error(exc), status=status_of(exc))
    done = [d for d in decisions if d.outcome != "refused"]
    refused = [{"claim_id": d.claim_id, "text": reason_text(d.reason, d.params)} for d in decisions if d.outcome == "refused"]
    text = ngettext("%(num)s claim decided.", "%(num)s claims decided.", len(done))
    if any(d.outcome == "approved_once" for d in done):
        text += " " + _("Large claims approved once now wait for a second reviewer.")
    flash = {"kind": "success" if not refused else "info", "text": text}
    return await _queue_page(request, filters["grid"], filters["category"], week, flash, refused)


# --- at a station: the resident confirms what a building lead filed for them -------------------------------

class CardIn(msgspec.Struct, forbid_unknown_fields=True):
    card: str  # the card URL, token or number, as scanned: the card being there is the resident's proof


def _station_words() -> dict:
    return {"title": _("A building lead filed claims for you"),
            "confirm": _("Yes, that is right"), "deny": _("Not mine"),
            "confirmed": _("Thank you. The claim goes to the review committee."),
            "denied": _("Noted: this claim will not be paid, and staff will look into it."),
            "failed": _("Your answer was not saved. Please try again."),
            "close": _("Close")}


@get("/api/v1/claims/awaiting", opt={"device": True})
async def awaiting_at_station(request: Request, card: FromQuery[str]) -> dict:
    """Claims a building lead filed for this card's holder that wait for their confirmation (masked details),
    each with its question in the device's language, and the words for the station's panel."""
    device = await load_device(request)
    rows = await service.awaiting_at_station(device.station_id, card, _now())
    for row in rows:
        row["question"] = _("Building lead %(lead)s filed a claim for you: %(item)s on %(date)s (“%(text)s”). Is this right?",
                            lead=row["filed_by"], item=row["item"], date=row["deed_date"], text=row["description"])
    return {"claims": rows, "words": _station_words()}


async def _answer_at_station(request: Request, claim_id: int, data: CardIn, confirmed: bool) -> dict:
    device = await load_device(request)
    state = await service.answer_at_station(device.station_id, device.device_id, claim_id, data.card, confirmed, _now())
    words = _station_words()
    return {"claim_id": claim_id, "state": state, "message": words["confirmed" if confirmed else "denied"]}


@post("/api/v1/claims/{claim_id:int}/confirm", opt={"device": True}, status_code=200)
async def confirm_at_station(request: Request, claim_id: FromPath[int], data: Annotated[CardIn, Body(title="Card")]) -> dict:
    """The holder says yes: the claim goes to the weekly review. 422 `nothing_to_confirm` when it does not wait
    for this card's holder (any more)."""
    return await _answer_at_station(request, claim_id, data, True)


@post("/api/v1/claims/{claim_id:int}/deny", opt={"device": True}, status_code=200)
async def deny_at_station(request: Request, claim_id: FromPath[int], data: Annotated[CardIn, Body(title="Card")]) -> dict:
    """The holder says it is not theirs: the claim becomes `disputed`, which reviewers see."""
    return await _answer_at_station(request, claim_id, data, False)


ROUTES = [new_claim, file_claim, my_claims, confirm, decline, claim_photo, review_queue, decide, awaiting_at_station,
          confirm_at_station, deny_at_station]
