"""Events on screen: staff list and create events and watch the roster fill; residents sign up and see the
hours and points their volunteering earned."""
from __future__ import annotations

from datetime import datetime, timezone

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from backend.clock import zone
from backend.errors import DomainError, InvalidInput, PermissionDenied
from backend.events import service
from backend.web.access import load_principal
from backend.web.errors import status_of
from backend.web.forms import parse_form
from backend.web.i18n import gettext as _
from backend.web.messages import reason_text

MANAGE = {"capability": "events.manage"}
ME = {"capability": "me.view"}


class EventForm(msgspec.Struct):
    community: int | None = None
    title: str = ""
    place: str = ""
    starts_at: str = ""  # <input type="datetime-local">: local time, no zone
    ends_at: str = ""
    capacity: int | None = None
    award: str = "hours"  # hours | item
    points_per_hour: int | None = None
    item: int | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def when(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A time as the community reads it, in its own time zone."""
    return moment.astimezone(zone()).strftime(pattern)


def span(starts_at: datetime, ends_at: datetime) -> str:
    """09:00–12:00 on one day; both dates when it runs over midnight."""
    same_day = when(starts_at, "%Y-%m-%d") == when(ends_at, "%Y-%m-%d")
    return f"{when(starts_at)}–{when(ends_at, '%H:%M' if same_day else '%Y-%m-%d %H:%M')}"


HELPERS = {"when": when, "span": span}


def _local(value: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("bad_time", field=field) from None
    return moment.replace(tzinfo=zone()) if moment.tzinfo is None else moment


def _error(exc: DomainError) -> dict:
    return {"kind": "error", "text": reason_text(exc.code, exc.params)}


# --- staff ------------------------------------------------------------------------------------------------

async def _staff_list(request: Request, form: dict | None = None, flash: dict | None = None, status: int = 200,
                      field: str | None = None) -> Template:
    principal = await load_principal(request)
    now = _now()
    upcoming, past = await service.events_in(principal.scope_paths("events.manage"), now)
    communities, items = await service.form_choices(principal, now)
    context = {"upcoming": upcoming, "past": past, "communities": communities, "items": items, "form": form or {},
               "flash": flash, "field": field, **HELPERS}
    return Template("events/list.html", context=context, status_code=status)


@get("/staff/events", opt=MANAGE)
async def staff_events(request: Request) -> Template:
    return await _staff_list(request)


@post("/staff/events", opt=MANAGE)
async def create_event(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    raw = {k: v for k, v in (await request.form()).items() if k != "_csrf_token"}
    try:
        form = await parse_form(request, EventForm)
        hours = form.award != "item"
        event_id = await service.create_event(
            principal, form.community or 0, form.title, form.place, _local(form.starts_at, "starts_at"),
            _local(form.ends_at, "ends_at"), form.capacity, form.points_per_hour if hours else None,
            None if hours else form.item)
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _staff_list(request, raw, _error(exc), status_of(exc), exc.params.get("field"))
    return Redirect(f"/staff/events/{event_id}?created=1", status_code=303)


async def _event_page(request: Request, event_id: int, flash: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    now = _now()
    roster = await service.roster(principal, event_id, now)
    context = {"event": roster.event, "roster": roster, "flash": flash, "now": now,
               "can_cancel": not roster.event["cancelled"] and not roster.present and not roster.done, **HELPERS}
    return Template("events/detail.html", context=context, status_code=status)


@get("/staff/events/{event_id:int}", opt=MANAGE)
async def staff_event(request: Request, event_id: FromPath[int], created: FromQuery[bool] = False) -> Template:
    flash = {"kind": "success", "text": _("The event was created.")} if created else None
    return await _event_page(request, event_id, flash)


@get("/staff/events/{event_id:int}/roster", opt=MANAGE)
async def roster_widget(request: Request, event_id: FromPath[int]) -> Template:
    """The self-updating roster: it asks for itself again every ten seconds until the event is over."""
    principal = await load_principal(request)
    now = _now()
    roster = await service.roster(principal, event_id, now)
    return Template("events/_roster.html", context={"event": roster.event, "roster": roster, "now": now, **HELPERS})


@post("/staff/events/{event_id:int}/cancel", opt=MANAGE)
async def cancel_event(request: Request, event_id: FromPath[int]) -> Template:
    principal = await load_principal(request)
    try:
        await service.cancel_event(principal, event_id)
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _event_page(request, event_id, _error(exc), status_of(exc))
    return await _event_page(request, event_id, {"kind": "success", "text": _("The event was cancelled.")})


# --- residents --------------------------------------------------------------------------------------------

async def _resident_page(request: Request, flash: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    now = _now()
    context = {"events": await service.upcoming_for(principal, now), "mine": await service.my_events(principal),
               "flash": flash, "now": now, **HELPERS}
    return Template("events/mine.html", context=context, status_code=status)


@get("/events", opt=ME)
async def resident_events(request: Request) -> Template:
    return await _resident_page(request)


async def _after_choice(request: Request, event_id: int, flash: dict, status: int = 200) -> Template:
    """HTMX swaps the one event's card (and the flash); without JavaScript the whole page comes back."""
    if not request.htmx:
        return await _resident_page(request, flash, status)
    principal = await load_principal(request)
    now = _now()
    found = await service.event_for(principal, event_id, now)
    return Template("events/_event_card.html", context={"e": found, "flash": flash, "now": now, **HELPERS},
                    status_code=status)


@post("/events/{event_id:int}/signup", opt=ME)
async def sign_up(request: Request, event_id: FromPath[int]) -> Template:
    principal = await load_principal(request)
    try:
        await service.sign_up(principal, event_id, _now())
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _after_choice(request, event_id, _error(exc), status_of(exc))
    return await _after_choice(request, event_id, {"kind": "success", "text": _("You have signed up. See you there!")})


@post("/events/{event_id:int}/withdraw", opt=ME)
async def withdraw(request: Request, event_id: FromPath[int]) -> Template:
    principal = await load_principal(request)
    try:
        await service.withdraw(principal, event_id, _now())
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _after_choice(request, event_id, _error(exc), status_of(exc))
    return await _after_choice(request, event_id, {"kind": "success", "text": _("Your sign-up was withdrawn.")})


ROUTES = [staff_events, create_event, staff_event, roster_widget, cancel_event, resident_events, sign_up, withdraw]
