"""Micro-wishes on screen. Residents post a wish and follow it on "my wishes" (timeline, confirm and rate); volunteers
take wishes from their community's board and complete their tasks; staff post for residents without a smartphone,
dispatch from the dispatch board, and watch the overdue list of the "2341" clocks. Every form posts and redirects
(works without JavaScript); HTMX swaps the dispatch board's table when filtering and the volunteer search results."""
from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import uuid4

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from backend.catalog import service as catalog
from backend.clock import local_date, zone
from backend.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from backend.people.tables import Person
from backend.web.access import load_principal
from backend.web.errors import status_of
from backend.web.forms import form_int
from backend.web.i18n import N_, gettext as _
from backend.web.messages import reason_text
from backend.wishes import rules, service
from backend.wishes.service import AS_RESIDENT, AS_STAFF

POST = {"capability": "wishes.post"}
TAKE = {"capability": "wishes.take"}
DISPATCH = {"capability": "wishes.dispatch"}
CALENDAR = {"capability": "wishes.calendar"}

KIND_NAMES = {"repair": N_("Repair"), "visit": N_("Visit"), "errand": N_("Errand"),
              "companionship": N_("Companionship"), "other": N_("Other help")}
KIND_HINTS = {"repair": N_("A dripping tap, a light bulb, a door that does not close"),
              "visit": N_("Someone to look in on an older neighbour"),
              "errand": N_("Shopping, medicine, paperwork at the service centre"),
              "companionship": N_("Someone to talk to, or to go for a walk with"),
              "other": N_("Anything else a neighbour could help with")}
STATE_NAMES = {"posted": N_("Waiting for a volunteer"), "taken": N_("A volunteer has taken it"),
               "dispatched": N_("Sent to a volunteer"), "in_progress": N_("Being done"),
               "completed": N_("Done, waiting for the resident to confirm"), "confirmed": N_("Confirmed"),
               "cancelled": N_("Cancelled"), "reopened": N_("Not done yet: back to the volunteer")}
STEP_NAMES = {"post": N_("Posted"), "take": N_("Taken from the board"), "dispatch": N_("Dispatched"),
              "start": N_("Work started"), "complete": N_("Completed"), "confirm": N_("Confirmed and rated"),
              "reopen": N_("Reopened"), "cancel": N_("Cancelled"), "acknowledge": N_("Seen by staff"),
              "reply": N_("Reply"), "no_points": N_("No points posted")}
CLOCK_NAMES = {"respond": N_("Respond within 20 minutes"), "reply": N_("Reply within 30 minutes"),
               "coordinate": N_("Coordinate within 4 hours"), "solve": N_("Solve within 1 working day")}
CLOCK_SHORT = {"respond": N_("respond"), "reply": N_("reply"), "coordinate": N_("coordinate"), "solve": N_("solve")}
CLOCK_STATUS = {"running": N_("running"), "overdue": N_("overdue"), "met": N_("met"), "late": N_("late"),
                "stopped_by_cancel": N_("cancelled")}
ACTION_NAMES = {"take": N_("I will do it"), "start": N_("Start"), "complete": N_("Mark as done"),
                "acknowledge": N_("Mark as seen"), "cancel": N_("Cancel the wish")}
DONE = {"posted": N_("Your wish was posted. A volunteer or the community will answer soon."),
        "posted_for": N_("The wish was posted for the resident."),
        "take": N_("Thank you! The wish is now in your tasks."), "start": N_("Started."),
        "complete": N_("Marked as done. The resident will confirm it."),
        "acknowledge": N_("Marked as seen."), "reply": N_("The reply was sent."),
        "dispatch": N_("The wish was dispatched."), "confirm": N_("Thank you for confirming and rating."),
        "confirm_no_points": N_("Confirmed. No points were posted: see the timeline."),
        "reopen": N_("The wish is back with the volunteer."), "cancel": N_("The wish was cancelled.")}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def when(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(zone()).strftime(pattern)


def _flash(done: str | None) -> dict | None:
    return {"kind": "success", "text": _(DONE[done])} if done in DONE else None


def _error(exc: DomainError) -> dict:
    return {"kind": "error", "text": reason_text(exc.code, exc.params)}


def _reraise(exc: DomainError) -> None:
    """Not found and not allowed go to the error page; everything else is said on the page it came from."""
    if isinstance(exc, (NotFound, PermissionDenied)):
        raise exc


HELPERS = {"KIND_NAMES": KIND_NAMES, "KIND_HINTS": KIND_HINTS, "STATE_NAMES": STATE_NAMES, "STEP_NAMES": STEP_NAMES,
           "CLOCK_NAMES": CLOCK_NAMES, "CLOCK_SHORT": CLOCK_SHORT, "CLOCK_STATUS": CLOCK_STATUS,
           "ACTION_NAMES": ACTION_NAMES, "KINDS": rules.KINDS, "STATES": rules.STATES, "when": when}


async def _fields(request: Request) -> dict:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if k != "_csrf_token" and isinstance(v, str)}


# --- residents: post, my wishes, one wish ---------------------------------------------------------------------

async def _new_page(request: Request, form: dict | None = None, flash: dict | None = None, status: int = 200,
                    field: str | None = None) -> Template:
    context = {"form": form or {}, "submission_key": (form or {}).get("submission_key") or uuid4().hex, "flash": flash,
               "field": field, "max_description": rules.MAX_DESCRIPTION, **HELPERS}
    return Template("wishes/new.html", context=context, status_code=status)


@get("/wishes/new", opt=POST)
async def new_wish(request: Request) -> Template:
    await load_principal(request)
    return await _new_page(request)


@post("/wishes", opt=POST)
async def post_wish(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    form = await _fields(request)
    try:
        await service.post(principal, kind=form.get("kind", ""), description=form.get("description", ""),
                           submission_key=form.get("submission_key", ""), now=_now())
    except DomainError as exc:
        _reraise(exc)
        return await _new_page(request, form, _error(exc), status_of(exc), exc.params.get("field"))
    return Redirect("/wishes?done=posted", status_code=303)


@get("/wishes", opt=POST)
async def my_wishes(request: Request, done: FromQuery[str | None] = None) -> Template:
    principal = await load_principal(request)
    context = {"wishes": await service.my_wishes(principal, _now()), "me": principal.person_id, "flash": _flash(done),
               **HELPERS}
    return Template("wishes/mine.html", context=context)


async def _wish_page(request: Request, wish_id: int, flash: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    view = await service.detail(principal, wish_id, _now(), AS_RESIDENT)
    context = {"view": view, "w": view.wish, "flash": flash, "staff_desk": False, "base": f"/wishes/{wish_id}", **HELPERS}
    return Template("wishes/detail.html", context=context, status_code=status)


@get("/wishes/{wish_id:int}", opt=POST)
async def wish_detail(request: Request, wish_id: FromPath[int], done: FromQuery[str | None] = None) -> Template:
    return await _wish_page(request, wish_id, _flash(done))


def _rating(form: dict) -> int:
    value = form.get("rating", "")
    if not value.isdigit():
        raise InvalidInput("bad_rating", field="rating")
    return int(value)


async def _confirm(request: Request, wish_id: int, acting_as: frozenset[str], back: str) -> Template | Redirect:
    principal = await load_principal(request)
    form = await _fields(request)
    try:
        result = await service.confirm(principal, wish_id, _rating(form), form.get("comment", ""), _now(), acting_as)
    except DomainError as exc:
        _reraise(exc)
        page = _wish_page if acting_as is AS_RESIDENT else _staff_wish_page
        return await page(request, wish_id, _error(exc), status_of(exc))
    return Redirect(f"{back}?done={'confirm_no_points' if result.withheld else 'confirm'}", status_code=303)


@post("/wishes/{wish_id:int}/confirm", opt=POST)
async def confirm(request: Request, wish_id: FromPath[int]) -> Template | Redirect:
    return await _confirm(request, wish_id, AS_RESIDENT, f"/wishes/{wish_id}")


async def _act(request: Request, wish_id: int, action: str, acting_as: frozenset[str], back: str,
               error_page) -> Template | Redirect:
    principal = await load_principal(request)
    form = await _fields(request)
    try:
        await service.act(principal, wish_id, action, _now(), form.get("note", ""), acting_as)
    except DomainError as exc:
        _reraise(exc)
        return await error_page(request, wish_id, _error(exc), status_of(exc))
    return Redirect(f"{back}?done={action}#wish-{wish_id}", status_code=303)


def _resident_action(action: str):
    async def handler(request: Request, wish_id: FromPath[int]) -> Template | Redirect:
        return await _act(request, wish_id, action, AS_RESIDENT, f"/wishes/{wish_id}", _wish_page)
    handler.__name__ = f"resident_{action}"
    return post(f"/wishes/{{wish_id:int}}/{action}", opt=POST, name=f"wishes.{action}")(handler)


# --- volunteers: the board, taking and doing ----------------------------------------------------------------

async def _board_page(request: Request, _wish_id: int | None = None, flash: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    now = _now()
    board = await service.board(principal, now)
    me = await Person.select(Person.community).where(Person.id == principal.person_id).first()
    context = {"board": board, "flash": flash, "earns": await service.kind_items(me["community"], local_date(now)),
               **HELPERS}
    return Template("wishes/board.html", context=context, status_code=status)


@get("/wishes/board", opt=TAKE)
async def volunteer_board(request: Request, done: FromQuery[str | None] = None) -> Template:
    return await _board_page(request, flash=_flash(done))


def _volunteer_action(action: str):
    async def handler(request: Request, wish_id: FromPath[int]) -> Template | Redirect:
        return await _act(request, wish_id, action, AS_RESIDENT, "/wishes/board", _board_page)
    handler.__name__ = f"volunteer_{action}"
    return post(f"/wishes/{{wish_id:int}}/{action}", opt=TAKE, name=f"wishes.{action}")(handler)


# --- staff: dispatch board, overdue list, one wish, posting for a resident ------------------------------------

def _filters(state: str | None, grid: int | None, kind: str | None) -> dict:
    return {"state": state or "", "grid": grid, "kind": kind or ""}


@get("/staff/wishes", opt=DISPATCH)
async def dispatch_board(request: Request, status: FromQuery[str | None] = None, grid: FromQuery[int | None] = None,
                         kind: FromQuery[str | None] = None, done: FromQuery[str | None] = None) -> Template:
    """`status` is the wish's state (`state` is a name Litestar keeps for itself)."""
    principal = await load_principal(request)
    found = await service.dispatch_board(principal, _now(), status or None, grid, kind or None)
    context = {"found": found, "filters": _filters(status, grid, kind), "flash": _flash(done), "overdue_page": False,
               **HELPERS}
    # filtering with HTMX swaps only the table
    template = "wishes/_table.html" if request.htmx and request.htmx.target == "wish-table" else "wishes/dispatch.html"
    return Template(template, context=context)


@get("/staff/wishes/overdue", opt=DISPATCH)
async def overdue_list(request: Request) -> Template:
    principal = await load_principal(request)
    found = await service.dispatch_board(principal, _now(), overdue_only=True)
    return Template("wishes/overdue.html", context={"found": found, "overdue_page": True, **HELPERS})


async def _staff_wish_page(request: Request, wish_id: int, flash: dict | None = None, status: int = 200,
                           q: str = "") -> Template:
    principal = await load_principal(request)
    view = await service.detail(principal, wish_id, _now(), AS_STAFF)
    people, teams = await service.helpers(principal, wish_id, q)
    context = {"view": view, "w": view.wish, "flash": flash, "staff_desk": True, "base": f"/staff/wishes/{wish_id}",
               "q": q, "people": people, "teams": teams, **HELPERS}
    return Template("wishes/staff_detail.html", context=context, status_code=status)


@get("/staff/wishes/{wish_id:int}", opt=DISPATCH)
async def staff_wish(request: Request, wish_id: FromPath[int], q: FromQuery[str] = "",
                     done: FromQuery[str | None] = None) -> Template:
    return await _staff_wish_page(request, wish_id, _flash(done), q=q.strip())


@get("/staff/wishes/{wish_id:int}/helpers", opt=DISPATCH)
async def helper_search(request: Request, wish_id: FromPath[int], q: FromQuery[str] = "") -> Template:
    """The volunteer search's results, swapped into the dispatch form as the staff member types."""
    principal = await load_principal(request)
    people, teams = await service.helpers(principal, wish_id, q)
    return Template("wishes/_helpers.html", context={"people": people, "teams": teams, "q": q.strip()})


@post("/staff/wishes/{wish_id:int}/dispatch", opt=DISPATCH)
async def dispatch(request: Request, wish_id: FromPath[int]) -> Template | Redirect:
    principal = await load_principal(request)
    form = await _fields(request)
    try:
        helper = form.get("helper", "")
        kind, _sep, ref = helper.partition(":")
        if kind not in ("p", "t") or not ref.isdigit():
            raise InvalidInput("wish_helper_required", field="helper")
        await service.dispatch(principal, wish_id, _now(), person_id=int(ref) if kind == "p" else None,
                               team_id=int(ref) if kind == "t" else None, note=form.get("note", ""))
    except DomainError as exc:
        _reraise(exc)
        return await _staff_wish_page(request, wish_id, _error(exc), status_of(exc), q=form.get("q", ""))
    return Redirect(f"/staff/wishes/{wish_id}?done=dispatch", status_code=303)


@post("/staff/wishes/{wish_id:int}/confirm", opt=DISPATCH)
async def staff_confirm(request: Request, wish_id: FromPath[int]) -> Template | Redirect:
    return await _confirm(request, wish_id, AS_STAFF, f"/staff/wishes/{wish_id}")


def _staff_action(action: str):
    async def handler(request: Request, wish_id: FromPath[int]) -> Template | Redirect:
        return await _act(request, wish_id, action, AS_STAFF, f"/staff/wishes/{wish_id}", _staff_wish_page)
    handler.__name__ = f"staff_{action}"
    return post(f"/staff/wishes/{{wish_id:int}}/{action}", opt=DISPATCH, name=f"staff.wishes.{action}")(handler)


async def _staff_new_page(request: Request, q: str, form: dict | None = None, flash: dict | None = None,
                          status: int = 200, field: str | None = None) -> Template:
    principal = await load_principal(request)
    context = {"q": q, "found": await service.residents(principal, q), "form": form or {},
               "submission_key": (form or {}).get("submission_key") or uuid4().hex, "flash": flash, "field": field,
               "max_description": rules.MAX_DESCRIPTION, **HELPERS}
    return Template("wishes/staff_new.html", context=context, status_code=status)


@get("/staff/wishes/new", opt=DISPATCH)
async def staff_new(request: Request, q: FromQuery[str] = "") -> Template:
    return await _staff_new_page(request, q.strip())


@post("/staff/wishes", opt=DISPATCH)
async def staff_post(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    form = await _fields(request)
    try:
        person = form_int(form.get("for_person"), "for_person")
        if person is None:
            raise InvalidInput("person_required", field="for_person")
        wish_id = await service.post(principal, kind=form.get("kind", ""), description=form.get("description", ""),
                                     submission_key=form.get("submission_key", ""), now=_now(), for_person=person)
    except DomainError as exc:
        _reraise(exc)
        return await _staff_new_page(request, form.get("q", ""), form, _error(exc), status_of(exc), exc.params.get("field"))
    return Redirect(f"/staff/wishes/{wish_id}?done=posted_for", status_code=303)


# --- staff: settings (which item each kind earns, teams, the work calendar) -----------------------------------

SETTINGS = "/staff/wishes/settings"
SETTINGS_DONE = {"kinds": ("kinds", N_("Saved: the points each kind of wish earns.")),
                 "team_added": ("teams", N_("The team was created.")),
                 "team_renamed": ("teams", N_("The team was renamed.")),
                 "team_off": ("teams", N_("The team will no longer be sent wishes.")),
                 "team_on": ("teams", N_("The team can be sent wishes again.")),
                 "member_added": ("teams", N_("The member was added.")),
                 "member_removed": ("teams", N_("The member was removed.")),
                 "day_saved": ("calendar", N_("The day was saved.")),
                 "day_removed": ("calendar", N_("The day was removed."))}
DAY_KINDS = {"holiday": N_("Holiday (no work)"), "workday": N_("Make-up working day (调休)")}


def _today():
    return local_date(_now())


async def _settings_page(request: Request, community: int | None = None, flash: dict | None = None,
                         section: str | None = None, status: int = 200, form: dict | None = None,
                         field: str | None = None, team: int | None = None, q: str = "") -> Template:
    """`section` is where the message goes (the section an HTMX form swaps); `team` and `q`: the member search."""
    principal = await load_principal(request)
    today = _today()
    communities = await service.settings_communities(principal)
    current = next((c for c in communities if c["id"] == community), communities[0] if communities else None)
    context = {"communities": communities, "current": current, "note": flash, "section": section, "form": form or {},
               "field": field, "search_team": team, "q": q, "today": today, "DAY_KINDS": DAY_KINDS,
               "max_team_name": service.MAX_TEAM_NAME, "max_day_name": service.MAX_DAY_NAME,
               "days": await service.calendar_days(today), **HELPERS}
    if current is not None:
        items = [i | {"category": c["name"]} for c in await catalog.catalogue(current["id"], today) for i in c["items"]]
        teams = await service.teams(principal, current["id"])
        found = await service.team_candidates(principal, team, q) if team in {t["id"] for t in teams} and q else []
        context.update({"items": items, "mapping": await service.kind_mapping(current["id"]), "teams": teams,
                        "found": found})
    return Template("wishes/settings.html", context=context, status_code=status)


def _settings_url(community: int | None, done: str, anchor: str) -> str:
    return f"{SETTINGS}?community={community or ''}&done={done}#{anchor}"


@get(SETTINGS, opt=DISPATCH)
async def settings(request: Request, community: FromQuery[int | None] = None, team: FromQuery[int | None] = None,
                   q: FromQuery[str] = "", done: FromQuery[str | None] = None) -> Template:
    flash, section = None, None
    if done in SETTINGS_DONE:
        section, text = SETTINGS_DONE[done]
        flash = {"kind": "success", "text": _(text)}
    return await _settings_page(request, community, flash, section, team=team, q=q.strip())


async def _settings_post(request: Request, section: str, done: str, change, anchor: str | None = None) -> Template | Redirect:
    """Runs `change(principal, form, today)`; on a refusal the page comes back with the message in `section` and what
    was typed still in its fields."""
    principal = await load_principal(request)
    form = await _fields(request)
    community = form.get("community", "")
    community = int(community) if community.isdigit() else None
    try:
        done = await change(principal, form, _today()) or done
    except DomainError as exc:
        _reraise(exc)
        team = form.get("team", "")
        return await _settings_page(request, community, _error(exc), section, status_of(exc), form,
                                    exc.params.get("field"), int(team) if team.isdigit() else None, form.get("q", ""))
    return Redirect(_settings_url(community, done, anchor or section), status_code=303)


@post(f"{SETTINGS}/kinds", opt=DISPATCH)
async def save_kind_items(request: Request) -> Template | Redirect:
    async def change(principal, form, today):
        community = form_int(form.get("community"), "community")
        if community is None:
            raise InvalidInput("invalid", field="community")
        chosen = {k: form_int(form[f"kind_{k}"], f"kind_{k}") for k in rules.KINDS if f"kind_{k}" in form}
        await service.set_kind_items(principal, community, chosen, today)
    return await _settings_post(request, "kinds", "kinds", change)


@post(f"{SETTINGS}/teams", opt=DISPATCH)
async def create_team(request: Request) -> Template | Redirect:
    async def change(principal, form, today):
        community = form_int(form.get("community"), "community")
        if community is None:
            raise InvalidInput("invalid", field="community")
        await service.add_team(community, form.get("team_name", ""), [], principal)
    return await _settings_post(request, "teams", "team_added", change)


@post(f"{SETTINGS}/teams/{{team_id:int}}/rename", opt=DISPATCH)
async def rename_team(request: Request, team_id: FromPath[int]) -> Template | Redirect:
    async def change(principal, form, today):
        await service.rename_team(principal, team_id, form.get("team_name", ""))
    return await _settings_post(request, "teams", "team_renamed", change, f"team-{team_id}")


@post(f"{SETTINGS}/teams/{{team_id:int}}/active", opt=DISPATCH)
async def team_active(request: Request, team_id: FromPath[int]) -> Template | Redirect:
    async def change(principal, form, today):
        active = form.get("active") == "1"
        await service.set_team_active(principal, team_id, active)
        return "team_on" if active else "team_off"
    return await _settings_post(request, "teams", "team_off", change, f"team-{team_id}")


@get(f"{SETTINGS}/teams/{{team_id:int}}/people", opt=DISPATCH)
async def team_people(request: Request, team_id: FromPath[int], q: FromQuery[str] = "") -> Template:
    """The member search's results, swapped into the team's "add a member" form as the staff member types."""
    principal = await load_principal(request)
    found = await service.team_candidates(principal, team_id, q)
    return Template("wishes/_team_people.html", context={"found": found, "q": q.strip(), "t": {"id": team_id}})


@post(f"{SETTINGS}/teams/{{team_id:int}}/members", opt=DISPATCH)
async def add_member(request: Request, team_id: FromPath[int]) -> Template | Redirect:
    async def change(principal, form, today):
        person = form_int(form.get("person"), "person")
        if person is None:
            raise InvalidInput("wish_member_required", field="person")
        await service.add_team_member(principal, team_id, person)
    return await _settings_post(request, "teams", "member_added", change, f"team-{team_id}")


@post(f"{SETTINGS}/teams/{{team_id:int}}/members/remove", opt=DISPATCH)
async def remove_member(request: Request, team_id: FromPath[int]) -> Template | Redirect:
    async def change(principal, form, today):
        person = form_int(form.get("person"), "person")
        if person is None:
            raise InvalidInput("wish_member_required", field="person")
        await service.remove_team_member(principal, team_id, person)
    return await _settings_post(request, "teams", "member_removed", change, f"team-{team_id}")


def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise InvalidInput("bad_date", field="day") from None


@post(f"{SETTINGS}/calendar", opt=CALENDAR)
async def save_day(request: Request) -> Template | Redirect:
    async def change(principal, form, today):
        day = _day(form.get("day"))
        if form.get("day_kind") not in DAY_KINDS:
            raise InvalidInput("wish_day_kind_required", field="day_kind")
        await service.set_calendar_day(day, form["day_kind"] == "workday", form.get("note", ""), principal, today)
    return await _settings_post(request, "calendar", "day_saved", change)


@post(f"{SETTINGS}/calendar/remove", opt=CALENDAR)
async def remove_day(request: Request) -> Template | Redirect:
    async def change(principal, form, today):
        await service.remove_calendar_day(principal, _day(form.get("day")), today)
    return await _settings_post(request, "calendar", "day_removed", change)


ROUTES = [
    new_wish, post_wish, my_wishes, wish_detail, confirm,
    *(_resident_action(a) for a in ("reopen", "cancel")),
    volunteer_board, *(_volunteer_action(a) for a in ("take", "start", "complete", "reply")),
    dispatch_board, overdue_list, staff_new, staff_post, staff_wish, helper_search, dispatch, staff_confirm,
    *(_staff_action(a) for a in ("acknowledge", "reply", "complete", "reopen", "cancel")),
    settings, save_kind_items, create_team, rename_team, team_active, team_people, add_member, remove_member, save_day,
    remove_day,
]
