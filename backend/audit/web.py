"""The audit log screen for community admins."""
from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Template

from backend.audit import service
from backend.web.access import load_principal


@get("/staff/audit", opt={"capability": "audit.view"})
async def audit_log(request: Request, page: FromQuery[int] = 1, action: FromQuery[str | None] = None) -> Template:
    principal = await load_principal(request)
    rows, pages = await service.entries(principal.scope_paths("audit.view"), max(1, page), action or None)
    return Template("audit/log.html", context={"rows": rows, "page": max(1, page), "pages": pages, "action": action})


ROUTES = [audit_log]
