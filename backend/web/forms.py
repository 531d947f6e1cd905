"""Form posts -> msgspec Structs, with a field-level InvalidInput instead of a bare 400."""
from __future__ import annotations

from typing import TypeVar

import msgspec
from litestar import Request

from backend.errors import InvalidInput

T = TypeVar("T")


async def parse_form(request: Request, schema: type[T]) -> T:
    form = await request.form()
    data = {k: v for k, v in form.items() if k != "_csrf_token" and not (isinstance(v, str) and v.strip() == "")}
    try:
        return msgspec.convert(data, schema, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec says "... - at `$.points`": name the field so the form can mark it
        field = str(exc).rsplit("$.", 1)[-1].rstrip("`") if "$." in str(exc) else None
        raise InvalidInput("invalid", field=field) from exc


def form_int(value: object, field: str, *, required: bool = False) -> int | None:
    """A whole number (an id, a count) typed or chosen in a form field; empty is None unless required."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise InvalidInput("invalid", field=field)
        return None
    if not text.isdigit():
        raise InvalidInput("invalid", field=field)
    return int(text)
