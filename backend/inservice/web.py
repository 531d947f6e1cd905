"""In-service members on screen: staff register members and keep the projects list, watch the month's list
("checked in" / "not yet") and print or export a member's yearly report; a member sees their check-ins and
checks in from the phone, choosing the project they take on."""
from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import uuid4

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from backend.clock import local_date, zone
from backend.errors import DomainError, InvalidInput, PermissionDenied
from backend.inservice import export, rules, service
from backend.web.access import load_principal
from backend.web.errors import status_of
from backend.web.forms import form_int
from backend.web.i18n import N_, gettext as _
from backend.web.messages import reason_text

STAFF = {"capability": "inservice.manage"}
ME = {"capability": "me.view"}
VIA = {"station": N_("Card scan at a station"), "claim": N_("Claimed from the phone")}
DONE = {"registered": N_("The member is on the register."), "ended": N_("The member is off the register."),
        "project": N_("The project was added."), "retired": N_("The project was taken off the list."),
        "settings": N_("The check-in rules were saved."),
        "checked_in": N_("You are checked in for this month. Thank you for coming home to serve!")}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def when(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(zone()).strftime(pattern)


def _error(exc: DomainError) -> dict:
    return {"kind": "error", "text": reason_text(exc.code, exc.params)}


def _done(done: str | None) -> dict | None:
    return {"kind": "success", "text": _(DONE[done])} if done in DONE else None


def _date(value: object, field: str) -> date:
    try:
        return date.fromisoformat(value.strip() if isinstance(value, str) else "")
    except ValueError:
        raise InvalidInput("bad_date", field=field) from None


HELPERS = {"VIA": VIA, "when": when}


async def _community(request: Request, community_id: int | None) -> tuple[list[dict], dict | None]:
    communities = await service.communities(await load_principal(request))
    chosen = next((c for c in communities if c["id"] == community_id), communities[0] if communities else None)
    if community_id is not None and (chosen is None or chosen["id"] != community_id):
        raise PermissionDenied("other_community")
    return communities, chosen


# --- staff: the month's list and the rules ---------------------------------------------------------------------

async def _month_page(request: Request, community_id: int | None, month: str | None, flash: dict | None = None,
                      status: int = 200, field: str | None = None) -> Template:
    principal = await load_principal(request)
    communities, chosen = await _community(request, community_id)
    today = local_date(_now())
    context = {"communities": communities, "chosen": chosen, "flash": flash, "field": field, "today": today, **HELPERS}
    if chosen is not None:
        listing = await service.month_list(principal, chosen["id"], month or rules.month_key(today))
        settings = await service.setting(chosen["id"])
        context |= {"listing": listing, "settings": settings, "award_items": await service.award_items(chosen["id"], today)}
    return Template("inservice/staff.html", context=context, status_code=status)


@get("/staff/inservice", opt=STAFF)
async def month_list(request: Request, community: FromQuery[int | None] = None, month: FromQuery[str | None] = None,
                     done: FromQuery[str | None] = None) -> Template:
    return await _month_page(request, community, month, _done(done))


@post("/staff/inservice/settings", opt=STAFF)
async def save_settings(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    form = await request.form()
    community_id = None
    try:
        community_id = form_int(form.get("community"), "community", required=True)
        await service.save_setting(principal, community_id, form_int(form.get("window_days"), "window_days", required=True),
                                   form.get("strict") == "1", form_int(form.get("award_item"), "award_item"))
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _month_page(request, community_id, None, _error(exc), status_of(exc), exc.params.get("field"))
    return Redirect(f"/staff/inservice?community={community_id}&done=settings", status_code=303)


# --- staff: the register and the projects -------------------------------------------------------------------------

async def _members_page(request: Request, community_id: int | None, flash: dict | None = None, status: int = 200,
                        form: dict | None = None, field: str | None = None) -> Template:
    principal = await load_principal(request)
    communities, chosen = await _community(request, community_id)
    context = {"communities": communities, "chosen": chosen, "flash": flash, "form": form or {}, "field": field,
               "today": local_date(_now()), **HELPERS}
    if chosen is not None:
        context |= {"members": await service.members(principal, chosen["id"]),
                    "candidates": await service.candidates(principal, chosen["id"]),
                    "projects": await service.projects(chosen["id"])}
    return Template("inservice/members.html", context=context, status_code=status)


@get("/staff/inservice/members", opt=STAFF)
async def members(request: Request, community: FromQuery[int | None] = None, done: FromQuery[str | None] = None) -> Template:
    return await _members_page(request, community, _done(done))


def _raw(form) -> dict:
    return {k: v for k, v in form.items() if k != "_csrf_token" and isinstance(v, str)}


@post("/staff/inservice/members", opt=STAFF)
async def register(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    form = await request.form()
    community_id = form_int(form.get("community"), "community")
    try:
        await service.register(principal, form_int(form.get("person"), "person", required=True), form.get("employer") or "",
                               form.get("branch") or "", _date(form.get("since"), "since"), local_date(_now()))
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _members_page(request, community_id, _error(exc), status_of(exc), _raw(form), exc.params.get("field"))
    return Redirect(f"/staff/inservice/members?community={community_id or ''}&done=registered", status_code=303)


@post("/staff/inservice/members/{member_id:int}/end", opt=STAFF)
async def end_membership(request: Request, member_id: FromPath[int]) -> Redirect:
    await service.end_membership(await load_principal(request), member_id)
    found = await service.member(member_id)
    return Redirect(f"/staff/inservice/members?community={found['community']}&done=ended", status_code=303)


@post("/staff/inservice/projects", opt=STAFF)
async def add_project(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    form = await request.form()
    community_id = form_int(form.get("community"), "community")
    try:
        await service.add_project(principal, community_id or 0, form.get("name") or "", form.get("description") or "")
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _members_page(request, community_id, _error(exc), status_of(exc), _raw(form), exc.params.get("field"))
    return Redirect(f"/staff/inservice/members?community={community_id}&done=project", status_code=303)


@post("/staff/inservice/projects/{project_id:int}/retire", opt=STAFF)
async def retire_project(request: Request, project_id: FromPath[int]) -> Redirect:
    principal = await load_principal(request)
    community = await service.retire_project(principal, project_id)
    return Redirect(f"/staff/inservice/members?community={community}&done=retired", status_code=303)


# --- the yearly report --------------------------------------------------------------------------------------------

def _report_words() -> dict[str, str]:
    return {"title": _("In-service member's yearly check-in report"), "name": _("Name"), "employer": _("Employer"),
            "branch": _("Party branch"), "community": _("Home community"), "since": _("Registered since"),
            "year": _("Year"), "month": _("Month"), "day": _("Day checked in"), "via": _("How"),
            "project": _("Project taken on"), "in_window": _("In the last week"), "late": _("Late"),
            "points": _("Points"), "not_checked_in": _("Not checked in"), "yes": _("Yes"), "no": _("No"), "due": _("Months due"),
            "checked_in": _("Months checked in"), "in_window_count": _("Of them in the last week"),
            "projects": _("Projects taken on"), "check_in_points": _("Points from check-ins"),
            "points_earned": _("All points earned this year"), **{f"via_{k}": _(v) for k, v in VIA.items()}}


def _year(year: int | None) -> int:
    return year if year is not None else local_date(_now()).year


@get("/staff/inservice/members/{member_id:int}/report", opt=STAFF)
async def report(request: Request, member_id: FromPath[int], year: FromQuery[int | None] = None) -> Template:
    principal = await load_principal(request)
    found = await service.yearly_report(principal, member_id, _year(year), local_date(_now()))
    return Template("inservice/report.html", context={"report": found, "words": _report_words(),
                                                      "rows": export.report_rows(found, _report_words()), **HELPERS})


@get("/staff/inservice/members/{member_id:int}/report.xlsx", opt=STAFF)
async def report_xlsx(request: Request, member_id: FromPath[int], year: FromQuery[int | None] = None) -> Response:
    principal = await load_principal(request)
    found = await service.yearly_report(principal, member_id, _year(year), local_date(_now()))
    name = f"inservice-{found.year}-{member_id}.xlsx"
    return Response(export.workbook(found, _report_words()), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})


# --- the member's own page ------------------------------------------------------------------------------------------

async def _mine(request: Request, flash: dict | None = None, status: int = 200, form: dict | None = None,
                field: str | None = None) -> Template:
    principal = await load_principal(request)
    today = local_date(_now())
    context = {"mine": await service.my_check_ins(principal, today), "today": today, "flash": flash, "form": form or {},
               "field": field, "submission_key": (form or {}).get("submission_key") or uuid4().hex, **HELPERS}
    return Template("inservice/mine.html", context=context, status_code=status)


@get("/inservice", opt=ME)
async def my_check_ins(request: Request, done: FromQuery[str | None] = None) -> Template:
    return await _mine(request, _done(done))


@post("/inservice/check-in", opt=ME)
async def check_in(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    form = await request.form()
    try:
        await service.claim_check_in(principal, _date(form.get("day"), "day"), form_int(form.get("project"), "project"),
                                     form.get("project_text") or "", form.get("submission_key") or "", _now())
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _mine(request, _error(exc), status_of(exc), _raw(form), exc.params.get("field"))
    return Redirect("/inservice?done=checked_in", status_code=303)


ROUTES = [month_list, save_settings, members, register, end_membership, add_project, retire_project, report, report_xlsx,
          my_check_ins, check_in]
