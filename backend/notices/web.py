"""The monthly public notice on screen: staff close a month, publish it, resolve objections and finalise it; a
resident reads their community's notice (their own line highlighted) and objects to a line with a reason. Every
notice prints with its fingerprint and exports to .xlsx and .csv."""
from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from backend.catalog.web import COLOUR_NAMES
from backend.clock import zone
from backend.errors import DomainError, InvalidInput, PermissionDenied
from backend.notices import exports, rules, service
from backend.web.access import load_principal
from backend.web.errors import status_of
from backend.web.forms import form_int
from backend.web.i18n import N_, gettext as _
from backend.web.messages import reason_text

MANAGE = {"capability": "notices.manage"}
ME = {"capability": "me.view"}
SIGNED_IN = {"signed_in": True}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATE_NAMES = {"draft": N_("Closed, not yet published"), "published": N_("Published for objections"),
               "final": N_("Final")}
OBJECTION_STATES = {"open": N_("Waiting for staff"), "upheld": N_("Upheld"), "rejected": N_("Not upheld")}
DONE = {"closed": N_("The month was closed. Check the notice, then publish it."),
        "published": N_("The notice was published. Residents can object until the date shown."),
        "finalised": N_("The notice is final."),
        "resolved": N_("The objection was resolved."),
        "objected": N_("Your objection was sent. Staff will look at it and answer here.")}
COLOURS = {**COLOUR_NAMES, "person": N_("Residents")}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def when(moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(zone()).strftime(pattern) if moment else ""


def _error(exc: DomainError) -> dict:
    return {"kind": "error", "text": reason_text(exc.code, exc.params)}


def _done(done: str | None) -> dict | None:
    return {"kind": "success", "text": _(DONE[done])} if done in DONE else None


HELPERS = {"STATE_NAMES": STATE_NAMES, "OBJECTION_STATES": OBJECTION_STATES, "COLOURS": COLOURS, "when": when,
           "short": rules.short, "place_of": service.place_of, "DEFAULT_DAYS": rules.DEFAULT_OBJECTION_DAYS,
           "MAX_DAYS": rules.MAX_OBJECTION_DAYS}


# --- staff ----------------------------------------------------------------------------------------------------

async def _list_page(request: Request, flash: dict | None = None, form: dict | None = None, status: int = 200) -> Template:
    principal = await load_principal(request)
    communities = await service.communities_for(principal)
    context = {"notices": await service.staff_notices(principal), "communities": communities, "flash": flash,
               "form": form or {"month": service.default_month(_now()),
                                "community": str(communities[0]["id"]) if communities else ""}, **HELPERS}
    return Template("notices/staff_list.html", context=context, status_code=status)


@get("/staff/notices", opt=MANAGE)
async def staff_list(request: Request, done: FromQuery[str | None] = None) -> Template:
    return await _list_page(request, _done(done))


@post("/staff/notices", opt=MANAGE)
async def close_month(request: Request) -> Template | Redirect:
    form = await request.form()
    raw = {k: form.get(k) or "" for k in ("community", "month")}
    try:
        community = form_int(raw["community"], "community")
        if community is None:
            raise InvalidInput("community_required", field="community")
        notice_id = await service.close_month(await load_principal(request), community, raw["month"], _now())
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _list_page(request, _error(exc), raw, status_of(exc))
    return Redirect(f"/staff/notices/{notice_id}?done=closed", status_code=303)


async def _notice_page(request: Request, notice_id: int, q: str = "", page: int = 1, flash: dict | None = None,
                       status: int = 200) -> Template:
    found = await service.notice_page(await load_principal(request), notice_id, q, page)
    template = "notices/_lines.html" if request.headers.get("hx-request") and request.method == "GET" else "notices/staff_notice.html"
    context = {"found": found, "notice": found.notice, "flash": flash, "base": f"/staff/notices/{notice_id}",
               "now": _now(), "mine": [], "may_object": False, "form": {}, **HELPERS}
    return Template(template, context=context, status_code=status)


@get("/staff/notices/{notice_id:int}", opt=MANAGE)
async def staff_notice(request: Request, notice_id: FromPath[int], q: FromQuery[str] = "", page: FromQuery[int] = 1,
                       done: FromQuery[str | None] = None) -> Template:
    return await _notice_page(request, notice_id, q, page, _done(done))


@post("/staff/notices/{notice_id:int}/publish", opt=MANAGE)
async def publish(request: Request, notice_id: FromPath[int]) -> Template | Redirect:
    form = await request.form()
    try:
        await service.publish(await load_principal(request), notice_id, _now(), form_int(form.get("days"), "days"))
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _notice_page(request, notice_id, flash=_error(exc), status=status_of(exc))
    return Redirect(f"/staff/notices/{notice_id}?done=published", status_code=303)


@post("/staff/notices/{notice_id:int}/finalise", opt=MANAGE)
async def finalise(request: Request, notice_id: FromPath[int]) -> Template | Redirect:
    try:
        await service.finalise(await load_principal(request), notice_id, _now())
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _notice_page(request, notice_id, flash=_error(exc), status=status_of(exc))
    return Redirect(f"/staff/notices/{notice_id}?done=finalised", status_code=303)


@post("/staff/notices/{notice_id:int}/objections/{objection_id:int}", opt=MANAGE)
async def resolve(request: Request, notice_id: FromPath[int], objection_id: FromPath[int]) -> Template | Redirect:
    form = await request.form()
    try:
        await service.resolve(await load_principal(request), objection_id, form.get("decision") or "",
                              form.get("resolution") or "", service.check_points(form.get("points") or ""), _now(),
                              reverses=form_int(form.get("reverses"), "reverses"))
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _notice_page(request, notice_id, flash=_error(exc), status=status_of(exc))
    return Redirect(f"/staff/notices/{notice_id}?done=resolved#objections", status_code=303)


# --- residents ----------------------------------------------------------------------------------------------------

async def _resident_page(request: Request, q: str = "", page: int = 1, flash: dict | None = None, status: int = 200,
                         form: dict | None = None) -> Template:
    principal = await load_principal(request)
    found, accounts = await service.resident_notice(principal, q, page)
    mine = await service.my_lines(found.notice["id"], accounts) if found else []
    template = "notices/_lines.html" if request.headers.get("hx-request") and request.method == "GET" else "notices/resident.html"
    context = {"found": found, "notice": found.notice if found else None, "mine": [m["id"] for m in mine],
               "my_lines": mine, "flash": flash, "base": "/notice", "form": form or {},
               "may_object": bool(found) and rules.may_object(found.notice["state"], found.notice["objection_ends_at"], _now()),
               **HELPERS}
    return Template(template, context=context, status_code=status)


@get("/notice", opt=ME)
async def resident_notice(request: Request, q: FromQuery[str] = "", page: FromQuery[int] = 1,
                          done: FromQuery[str | None] = None) -> Template:
    return await _resident_page(request, q, page, _done(done))


@post("/notice/lines/{line_id:int}/objections", opt=ME)
async def object_to_line(request: Request, line_id: FromPath[int]) -> Template | Redirect:
    form = await request.form()
    reason = form.get("reason") or ""
    try:
        await service.raise_objection(await load_principal(request), line_id, reason, _now())
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _resident_page(request, flash=_error(exc), status=status_of(exc),
                                    form={"line": line_id, "reason": reason})
    return Redirect("/notice?done=objected#my-objections", status_code=303)


# --- print and exports (staff of the community, or its residents once published; checked in the service) ---------

def _words() -> dict[str, str]:
    return {"title": _("Monthly public notice"), "state": _("State"), "fingerprint": _("Fingerprint"),
            "previous_fingerprint": _("Previous notice's fingerprint"), "transactions": _("Ledger transactions covered"),
            "rank": _("Rank"), "name": _("Name"), "colour": _("Account"), "place": _("Grid and building"),
            "earned": _("Earned this month"), "to_date": _("Earned to date"),
            **{f"state_{k}": _(v) for k, v in STATE_NAMES.items()},
            **{f"colour_{k}": _(v) for k, v in COLOURS.items()}}


@get("/notices/{notice_id:int}/print", opt=SIGNED_IN)
async def print_notice(request: Request, notice_id: FromPath[int]) -> Template:
    notice, lines = await service.export_rows(await load_principal(request), notice_id)
    return Template("notices/print.html", context={"notice": notice, "lines": lines, **HELPERS})


@get("/notices/{notice_id:int}/notice.xlsx", opt=SIGNED_IN)
async def export_xlsx(request: Request, notice_id: FromPath[int]) -> Response:
    notice, lines = await service.export_rows(await load_principal(request), notice_id)
    return Response(exports.workbook(notice, lines, _words()), media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="notice-{notice["community"]}-{notice["month"]}.xlsx"',
        "Cache-Control": "private, no-store"})


@get("/notices/{notice_id:int}/notice.csv", opt=SIGNED_IN)
async def export_csv(request: Request, notice_id: FromPath[int]) -> Response:
    notice, lines = await service.export_rows(await load_principal(request), notice_id)
    return Response(exports.csv_text(notice, lines, _words()), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="notice-{notice["community"]}-{notice["month"]}.csv"',
        "Cache-Control": "private, no-store"})


ROUTES = [staff_list, close_month, staff_notice, publish, finalise, resolve, resident_notice, object_to_line,
          print_notice, export_xlsx, export_csv]
