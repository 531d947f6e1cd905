"""Staff screens: the community tree, people search, a person's accounts and ledger."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from uuid import uuid4

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from backend.accounts import service as accounts
from backend.community import service as community
from backend.errors import DomainError
from backend.people import service as people
from backend.people.rules import require_scope
from backend.web.access import load_principal
from backend.web.forms import parse_form
from backend.web.i18n import gettext as _
from backend.web.messages import reason_text


class AdjustmentForm(msgspec.Struct):
    direction: str
    points: int
    idempotency_key: str
    memo: str = ""  # the domain says "please give a reason" when it is empty
    occurred_on: date | None = None


class ReversalForm(msgspec.Struct):
    memo: str = ""
    idempotency_key: str = ""


@get("/staff", opt={"capability": "staff.view"})
async def tree(request: Request) -> Template:
    principal = await load_principal(request)
    roots = await community.subtree(sorted({g.node_path for g in principal.grants}))
    return Template("people/tree.html", context={"roots": roots})


@get("/staff/people", opt={"capability": "people.view"})
async def people_list(request: Request, q: FromQuery[str] = "", node: FromQuery[str] = "",
                      colour: FromQuery[str] = "", page: FromQuery[int] = 1) -> Template:
    # the filter form sends empty fields for "all"
    principal = await load_principal(request)
    scope = principal.scope_paths("people.view")
    node_id = int(node) if node.isdigit() else None
    rows, total, pages = await people.search(scope, q, node_id, colour or None, max(1, page))
    places = [n for root in await community.subtree(scope) for n in _flatten(root)]
    context = {"rows": rows, "total": total, "pages": pages, "page": max(1, page), "q": q, "node": node_id,
               "colour": colour, "places": places}
    template = "people/_results.html" if request.htmx and request.htmx.target == "results" else "people/list.html"
    return Template(template, context=context)


def _flatten(node, depth=0):
    yield {"id": node.id, "name": node.name, "kind": node.kind, "depth": depth}
    for child in node.children:
        yield from _flatten(child, depth + 1)


async def _person_page(request: Request, person_id: int, account: int | None, page: int, flash: dict | None = None,
                       status: int = 200, form_values: dict | None = None) -> Template:
    principal = await load_principal(request)
    person = await people.person_detail(person_id)
    require_scope(principal, "people.view", person["home_path"])
    person_accounts = await accounts.accounts_of_person(person_id)
    selected = next((a for a in person_accounts if a["id"] == account), person_accounts[0] if person_accounts else None)
    lines, pages = await accounts.history(selected["id"], page) if selected else ([], 1)
    context = {
        "person": person, "accounts": person_accounts, "selected": selected, "lines": lines, "page": page, "pages": pages,
        "history_url": f"/staff/people/{person_id}", "flash": flash,
        "can_adjust": principal.can_at("ledger.adjust", person["home_path"]),
        "can_reverse": principal.can_at("ledger.reverse", person["home_path"]),
        "form": form_values or {}, "new_key": str(uuid4()), "today": date.today().isoformat(),
    }
    if request.htmx and request.htmx.target == "history":
        return Template("accounts/_history.html", context=context)
    if request.htmx and request.htmx.target == "person-ledger":
        return Template("people/_ledger.html", context=context, status_code=status)
    return Template("people/detail.html", context=context, status_code=status)


@get("/staff/people/{person_id:int}", opt={"capability": "people.view"})
async def person_page(request: Request, person_id: FromPath[int], account: FromQuery[int | None] = None, page: FromQuery[int] = 1) -> Template:
    return await _person_page(request, person_id, account, max(1, page))


@post("/staff/people/{person_id:int}/accounts/{account_id:int}/adjustments", opt={"capability": "ledger.adjust"})
async def adjust(request: Request, person_id: FromPath[int], account_id: FromPath[int]) -> Template:
    principal = await load_principal(request)
    raw = dict((await request.form()).items())
    now = datetime.now(timezone.utc)
    try:
        form = await parse_form(request, AdjustmentForm)
        occurred = datetime.combine(form.occurred_on, time(12), tzinfo=timezone.utc) if form.occurred_on else now
        recorded = await accounts.adjust(principal, account_id, form.direction, form.points, form.memo,
                                         form.idempotency_key, min(occurred, now), now)
    except DomainError as exc:
        if exc.code in ("forbidden", "other_community"):
            raise
        return await _person_page(request, person_id, account_id, 1, {"kind": "error", "text": reason_text(exc.code, exc.params)},
                                  status=422, form_values=raw)
    text = reason_text("already_recorded") if not recorded.created else None
    return await _person_page(request, person_id, account_id, 1, {"kind": "info" if text else "success", "text": text or _done(form)})


def _done(form: AdjustmentForm) -> str:
    if form.direction == "award":
        return _("Awarded %(points)s points.", points=form.points)
    return _("Deducted %(points)s points.", points=form.points)


@post("/staff/transactions/{txn_id:int}/reversal", opt={"capability": "ledger.reverse"})
async def reverse(request: Request, txn_id: FromPath[int], person: FromQuery[int | None] = None, account: FromQuery[int | None] = None) -> Template:
    principal = await load_principal(request)
    form = await parse_form(request, ReversalForm)
    flash = {"kind": "success", "text": _("The transaction was reversed.")}
    try:
        await accounts.reverse_transaction(principal, txn_id, form.memo, form.idempotency_key or f"reverse-{txn_id}",
                                           datetime.now(timezone.utc))
    except DomainError as exc:
        if exc.code in ("forbidden", "other_community"):
            raise
        flash = {"kind": "error", "text": reason_text(exc.code, exc.params)}
    return await _person_page(request, person, account, 1, flash, status=200 if flash["kind"] == "success" else 422)


ROUTES = [tree, people_list, person_page, adjust, reverse]
