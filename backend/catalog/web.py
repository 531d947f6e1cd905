"""The catalogue on screen: staff edit categories, items and caps and publish dated revision sets; residents see
what can be earned, the values in force today and this month's changes; both can read an item's history."""
from __future__ import annotations

from datetime import date, datetime, timezone

from litestar import Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from backend.catalog import rules, service
from backend.catalog.rules import Caps
from backend.clock import local_date
from backend.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from backend.people.tables import Person
from backend.web.access import load_principal
from backend.web.errors import status_of
from backend.web.i18n import N_, gettext as _
from backend.web.messages import reason_text

MANAGE = {"capability": "catalog.manage"}
ME = {"capability": "me.view"}
COLOUR_NAMES = {"red": N_("Red account (party members)"), "blue": N_("Blue account (residents)"),
                "green": N_("Green account (building leads)"), "organisation": N_("Organisations")}
DONE = {"category": N_("The category was added."), "item": N_("The item was added."),
        "settings": N_("The item's settings were saved."), "revision": N_("The revision was published.")}


def _today() -> date:
    return local_date(datetime.now(timezone.utc))


def _int(value: object, field: str, required: bool = True) -> int | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise InvalidInput("invalid", field=field)
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput("invalid", field=field) from None


def _date(value: object, field: str) -> date:
    try:
        return date.fromisoformat(value.strip() if isinstance(value, str) else "")
    except ValueError:
        raise InvalidInput("bad_date", field=field) from None


def _settings(form: FormMultiDict) -> tuple[str, list[str], Caps, bool, bool]:
    caps = Caps(_int(form.get("cap_per_day"), "cap_per_day", False), _int(form.get("cap_per_month"), "cap_per_month", False),
                _int(form.get("cap_per_year"), "cap_per_year", False))
    return (form.get("name") or "", [c for c in form.getall("colours", []) if c], caps, form.get("needs_review") == "on",
            form.get("needs_evidence") == "on")


def _raw(form: FormMultiDict) -> dict:
    return {k: v for k, v in form.items() if k != "_csrf_token" and isinstance(v, str)} | {"colours": form.getall("colours", [])}


def _error(exc: DomainError) -> dict:
    return {"kind": "error", "text": reason_text(exc.code, exc.params)}


HELPERS = {"COLOUR_NAMES": COLOUR_NAMES, "COLOURS": rules.COLOURS}


# --- staff ------------------------------------------------------------------------------------------------

async def _editor(request: Request, community_id: int | None, form: dict | None = None, flash: dict | None = None,
                  status: int = 200, field: str | None = None) -> Template:
    principal = await load_principal(request)
    communities = await service.communities(principal)
    chosen = next((c for c in communities if c["id"] == community_id), communities[0] if communities else None)
    today = _today()
    categories = await service.catalogue(chosen["id"], today, with_retired=True) if chosen else []
    context = {"communities": communities, "chosen": chosen, "today": today, "first_day": rules.month_start(today),
               "categories": categories, "active_items": [i for c in categories for i in c["items"] if i["active"]],
               "sets": await service.revision_sets(chosen["id"]) if chosen else [], "form": form or {}, "flash": flash,
               "field": field, **HELPERS}
    return Template("catalog/editor.html", context=context, status_code=status)


@get("/staff/catalog", opt=MANAGE)
async def editor(request: Request, community: FromQuery[int | None] = None, done: FromQuery[str | None] = None) -> Template:
    flash = {"kind": "success", "text": _(DONE[done])} if done in DONE else None
    return await _editor(request, community, flash=flash)


def _back(community_id: int, done: str) -> Redirect:
    return Redirect(f"/staff/catalog?community={community_id}&done={done}", status_code=303)


@post("/staff/catalog/categories", opt=MANAGE)
async def create_category(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    form = await request.form()
    community_id = None
    try:
        community_id = _int(form.get("community"), "community")
        await service.create_category(principal, community_id, form.get("category_name") or "")
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _editor(request, community_id, _raw(form), _error(exc), status_of(exc), exc.params.get("field"))
    return _back(community_id, "category")


@post("/staff/catalog/items", opt=MANAGE)
async def create_item(request: Request) -> Template | Redirect:
    principal = await load_principal(request)
    form = await request.form()
    community_id = _int(form.get("community"), "community", False)
    try:
        name, colours, caps, needs_review, needs_evidence = _settings(form)
        item_id = await service.create_item(
            principal, _int(form.get("category"), "category"), name, _int(form.get("points"), "points"),
            _date(form.get("effective_from"), "effective_from"), colours, caps, needs_review, needs_evidence, _today())
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _editor(request, community_id, _raw(form), _error(exc), status_of(exc), exc.params.get("field"))
    return _back((await service.item_detail(item_id))["community"], "item")


@post("/staff/catalog/revisions", opt=MANAGE)
async def publish(request: Request) -> Template | Redirect:
    """A revision set: the new value of every item (unchanged ones are left out), one date, one note."""
    principal = await load_principal(request)
    form = await request.form()
    community_id = _int(form.get("community"), "community", False)
    try:
        proposed = {int(k.removeprefix("points_")): _int(v, k) for k, v in form.items()
                    if k.startswith("points_") and k.removeprefix("points_").isdigit()}
        await service.publish_revisions(principal, community_id or 0, _date(form.get("effective_from"), "effective_from"),
                                        form.get("note") or "", proposed, _today())
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return await _editor(request, community_id, _raw(form), _error(exc), status_of(exc), exc.params.get("field"))
    return _back(community_id, "revision")


async def _item_page(request: Request, item_id: int, form: dict | None = None, flash: dict | None = None,
                     status: int = 200, field: str | None = None) -> Template:
    principal = await load_principal(request)
    item = await service.item_detail(item_id)
    if not principal.can_at("catalog.manage", item["community_path"]):
        raise PermissionDenied("other_community")
    context = {"item": item, "history": await service.item_history(item_id, _today()), "today": _today(), "form": form or {},
               "flash": flash, "field": field, "staff": True, **HELPERS}
    return Template("catalog/item.html", context=context, status_code=status)


@get("/staff/catalog/items/{item_id:int}", opt=MANAGE)
async def staff_item(request: Request, item_id: FromPath[int], done: FromQuery[str | None] = None) -> Template:
    flash = {"kind": "success", "text": _(DONE[done])} if done in DONE else None
    return await _item_page(request, item_id, flash=flash)


@post("/staff/catalog/items/{item_id:int}", opt=MANAGE)
async def update_item(request: Request, item_id: FromPath[int]) -> Template | Redirect:
    principal = await load_principal(request)
    form = await request.form()
    try:
        name, colours, caps, needs_review, needs_evidence = _settings(form)
        await service.update_item(principal, item_id, name, colours, caps, needs_review, needs_evidence,
                                  form.get("active") == "on")
    except DomainError as exc:
        if isinstance(exc, (PermissionDenied, NotFound)):
            raise
        return await _item_page(request, item_id, _raw(form), _error(exc), status_of(exc), exc.params.get("field"))
    return Redirect(f"/staff/catalog/items/{item_id}?done=settings", status_code=303)


# --- residents --------------------------------------------------------------------------------------------

async def _community_of(request: Request) -> int:
    principal = await load_principal(request)
    person = await Person.select(Person.community).where(Person.id == principal.person_id).first()
    if person is None:
        raise PermissionDenied()
    return person["community"]


@get("/catalog", opt=ME)
async def resident_catalogue(request: Request) -> Template:
    community_id = await _community_of(request)
    today = _today()
    first, last = service.month_bounds(today)
    changes = await service.changes_since(community_id, first)
    context = {"categories": await service.catalogue(community_id, today), "today": today,
               "this_month": [c for c in changes if c["effective_from"] <= last],
               "coming": [c for c in changes if c["effective_from"] > last], **HELPERS}
    return Template("catalog/catalogue.html", context=context)


@get("/catalog/items/{item_id:int}", opt=ME)
async def resident_item(request: Request, item_id: FromPath[int]) -> Template:
    community_id = await _community_of(request)
    item = await service.item_detail(item_id)
    if item["community"] != community_id or not item["active"]:
        raise NotFound("unknown_item")
    context = {"item": item, "history": await service.item_history(item_id, _today()), "today": _today(), "staff": False,
               **HELPERS}
    return Template("catalog/item.html", context=context)


ROUTES = [editor, create_category, create_item, publish, staff_item, update_item, resident_catalogue, resident_item]
