"""Domain error -> HTTP status + reason code + translated message. The one mapping, decided here."""
from __future__ import annotations

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from backend.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from backend.web.access import NotSignedIn, login_url
from backend.web.messages import reason_text

# Conflict is final for a device (the state refuses it): 422, never 409, which devices retry.
STATUS = {InvalidInput: 400, NotSignedIn: 401, PermissionDenied: 403, NotFound: 404, Conflict: 422}


def status_of(exc: DomainError) -> int:
    for cls, status in STATUS.items():
        if isinstance(exc, cls):
            return status
    return 400


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def problem(request: Request, status: int, code: str, params: dict | None = None) -> Response:
    message = reason_text(code, params)
    if wants_json(request):
        return Response({"reason": code, "message": message}, status_code=status)
    headers = {}
    if request.headers.get("hx-request"):
        # show the message in the page's flash area instead of swapping an error page into a fragment
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return Template("_flash.html", context={"flash": {"kind": "error", "text": message}}, status_code=status, headers=headers)
    return Template("error.html", context={"message": message, "status": status}, status_code=status)


def domain_error_handler(request: Request, exc: DomainError) -> Response:
    if isinstance(exc, NotSignedIn) and not wants_json(request):
        target = login_url(request) + (f"&reason={exc.code}" if exc.code != "not_signed_in" else "")
        if request.headers.get("hx-request"):
            return Response(None, status_code=204, headers={"HX-Redirect": target})
        return Redirect(target)
    return problem(request, status_of(exc), exc.code, exc.params)


def http_error_handler(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotFoundException):
        return problem(request, 404, "not_found")
    if isinstance(exc, NotAuthorizedException):
        return problem(request, 403, "forbidden")
    if exc.status_code == 403 and "CSRF" in str(exc.detail):
        return problem(request, 403, "csrf")
    if isinstance(exc, ValidationException) or exc.status_code == 400:  # a body that is not JSON too: final
        return problem(request, 400, "invalid")
    return problem(request, exc.status_code, "error")


def server_error_handler(request: Request, exc: Exception) -> Response:
    request.logger.exception("unhandled error", exc_info=exc)
    return problem(request, HTTP_500_INTERNAL_SERVER_ERROR, "error")


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: server_error_handler,
}
