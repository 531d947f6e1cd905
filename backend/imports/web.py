"""Staff bring existing residents in from an .xlsx or .csv sheet: upload -> preview -> commit (with progress)."""
from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backend.errors import InvalidInput, NotFound
from backend.imports import rules, service
from backend.web.access import load_principal
from backend.web.messages import reason_text

OPT = {"capability": "people.import"}
# room for the multipart envelope around a file of the largest allowed size; above it Litestar answers 413 itself
MAX_BODY = rules.MAX_BYTES + 1024 * 1024


async def _index(request: Request, flash: dict | None = None, status: int = 200, chosen: int | None = None) -> Template:
    principal = await load_principal(request)
    context = {"communities": await service.communities(principal), "batches": await service.recent(principal),
               "flash": flash, "chosen": chosen, "max_mb": rules.MAX_MB, "max_rows": rules.MAX_ROWS}
    return Template("imports/index.html", context=context, status_code=status)


@get("/staff/imports", opt=OPT)
async def imports_page(request: Request) -> Template:
    return await _index(request)


@post("/staff/imports", opt=OPT, request_max_body_size=MAX_BODY)
async def upload(request: Request) -> Response:
    principal = await load_principal(request)
    form = await request.form()
    file, community = form.get("file"), form.get("community")
    chosen = int(community) if isinstance(community, str) and community.isdigit() else None
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise InvalidInput("file_required", field="file")
        content = await file.read(rules.MAX_BYTES + 1)
        batch_id = await service.preview(principal, chosen, file.filename, content)
    except (InvalidInput, NotFound) as exc:
        return await _index(request, {"kind": "error", "text": reason_text(exc.code, exc.params)}, 400, chosen)
    return Redirect(f"/staff/imports/{batch_id}", status_code=303)


@get("/staff/imports/template.csv", opt=OPT)
async def template_csv(request: Request) -> Response:
    place = await service.template_place(await load_principal(request))
    return Response(rules.template_csv(place), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="linli-import-template.csv"'})


@get("/staff/imports/{batch_id:int}", opt=OPT)
async def batch_page(request: Request, batch_id: FromPath[int]) -> Template:
    batch = await service.view(await load_principal(request), batch_id)
    return Template("imports/batch.html", context={"batch": batch, "meta": batch.meta, "status": batch.status})


@post("/staff/imports/{batch_id:int}/commit", opt=OPT)
async def commit(request: Request, batch_id: FromPath[int]) -> Response:
    principal = await load_principal(request)
    await service.start_commit(principal, batch_id, datetime.now(timezone.utc))
    if request.htmx:
        meta, status = await service.status(principal, batch_id)
        return Template("imports/_status.html", context={"meta": meta, "status": status})
    return Redirect(f"/staff/imports/{batch_id}", status_code=303)


@get("/staff/imports/{batch_id:int}/progress", opt=OPT)
async def progress(request: Request, batch_id: FromPath[int]) -> Template:
    """The self-updating status widget: polls itself while the commit runs, then shows the result."""
    meta, status = await service.status(await load_principal(request), batch_id)
    return Template("imports/_status.html", context={"meta": meta, "status": status})


ROUTES = [imports_page, upload, template_csv, batch_page, commit, progress]
