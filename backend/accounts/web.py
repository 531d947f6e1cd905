"""The resident's own screens: balances per account and the history where every line says why."""
from __future__ import annotations

from litestar import Request, get
from litestar.response import Template
from litestar.params import FromQuery

from backend.accounts import service
from backend.errors import NotFound
from backend.web.access import load_principal


@get("/me", opt={"capability": "me.view"})
async def my_accounts(request: Request, account: FromQuery[int | None] = None, page: FromQuery[int] = 1) -> Template:
    principal = await load_principal(request)
    accounts = await service.accounts_of_person(principal.person_id)
    selected = next((a for a in accounts if a["id"] == account), accounts[0] if accounts else None)
    if account is not None and selected["id"] != account:
        raise NotFound("account_not_found")
    lines, pages = await service.history(selected["id"], max(1, page)) if selected else ([], 1)
    context = {"accounts": accounts, "selected": selected, "lines": lines, "page": max(1, page), "pages": pages,
               "history_url": "/me"}
    template = "accounts/_history.html" if request.htmx and request.htmx.target == "history" else "accounts/me.html"
    return Template(template, context=context)


ROUTES = [my_accounts]
