"""cards/ is a pure library: the backend imports it, never the other way round, and it needs no web stack."""

from __future__ import annotations

import ast
from pathlib import Path

import cards

FORBIDDEN = {"backend", "litestar", "piccolo", "asyncpg", "aiosqlite", "msgspec", "jinja2"}


def imported_top_level_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_cards_imports_no_web_or_database_code():
    sources = sorted(Path(cards.__file__).parent.glob("*.py"))
    assert sources
    for path in sources:
        assert not imported_top_level_modules(path) & FORBIDDEN, path.name
