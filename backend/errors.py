"""Domain errors. Each carries a stable reason code; the web layer maps it to a status and a message."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base: `code` is stable and machine-readable; `params` fill the translated message."""

    code = "error"

    def __init__(self, code: str | None = None, **params: Any) -> None:
        if code is not None:
            self.code = code
        self.params = params
        super().__init__(f"{self.code} {params}" if params else self.code)


class NotFound(DomainError):
    code = "not_found"


class PermissionDenied(DomainError):
    code = "forbidden"


class InvalidInput(DomainError):
    """The request itself is wrong; `field` names the form field when there is one."""

    code = "invalid"


class Conflict(DomainError):
    """The request is well-formed but the current state refuses it (balance, duplicate, already done)."""

    code = "conflict"
