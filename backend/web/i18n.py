"""The translation catalogue: every .po file under frontend/locale/<lang>/LC_MESSAGES/, merged and
compiled in memory at start-up (no compiled .mo files to forget to rebuild). Source strings are English."""
from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import cache
from http.cookies import SimpleCookie
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parents[2] / "frontend" / "locale"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}

current_language: ContextVar[str] = ContextVar("current_language", default="zh_CN")


def N_(message: str) -> str:
    """Marks a string for the catalogue where it is defined; it is translated where it is shown."""
    return message


@cache
def translations(language: str) -> _gettext.NullTranslations:
    merged: _gettext.NullTranslations = _gettext.NullTranslations()
    for po in sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        loaded = Translations(fp=buffer)
        if isinstance(merged, Translations):
            merged.merge(loaded)
        else:
            merged = loaded
    return merged


def gettext(message: str, **params: object) -> str:
    text = translations(current_language.get()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = translations(current_language.get()).ngettext(singular, plural, n)
    return text % ({"num": n} | params)


_ = gettext


def pick_language(cookie: str | None, user_language: str | None, accept_language: str | None, default: str) -> str:
    """An explicit choice wins, then the user's saved one, then the browser's, then the site default."""
    for choice in (cookie, user_language):
        if choice in LANGUAGES:
            return choice
    if accept_language:
        first = accept_language.split(",")[0].strip().lower()
        if first.startswith("en"):
            return "en"
        if first.startswith("zh"):
            return "zh_CN"
    return default if default in LANGUAGES else "zh_CN"


def request_language(cookie_header: str, accept_language: str | None, default: str) -> str:
    """A request's language before anyone is known: the `lang` cookie, then the browser's, then the default."""
    cookies = SimpleCookie(cookie_header)
    return pick_language(cookies["lang"].value if "lang" in cookies else None, None, accept_language, default)


def extract_messages() -> dict[str | tuple[str, str], list[str]]:
    """Every translatable string (a (singular, plural) pair for plurals) in code and templates -> where it occurs."""
    from babel.messages.extract import extract_from_dir

    root = LOCALE_DIR.parents[1]
    found: dict[str | tuple[str, str], list[str]] = {}
    for folder, method_map in ((root / "backend", [("**.py", "python")]),
                               (root / "frontend" / "templates", [("**.html", "jinja2")])):
        for filename, lineno, message, _comments, _context in extract_from_dir(
                folder, method_map, options_map={"**.html": {"extensions": "jinja2.ext.i18n"}}):
            if message:
                found.setdefault(message, []).append(f"{folder.name}/{filename}:{lineno}")
    return found


def missing(language: str = "zh_CN") -> dict[str | tuple[str, str], list[str]]:
    catalogue = translations(language)
    return {m: where for m, where in sorted(extract_messages().items(), key=lambda item: str(item[0]))
            if not is_translated(catalogue, m)}


def missing_po(language: str = "zh_CN") -> str:
    """A .po skeleton of the strings the catalogue lacks, to fill in and save under LC_MESSAGES/."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    skeleton = Catalog(locale=language, project="linli")
    for message, where in missing(language).items():
        skeleton.add(message, "", locations=[(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) for w in where])
    buffer = BytesIO()
    write_po(buffer, skeleton, width=120)
    return buffer.getvalue().decode()


def is_translated(catalogue: _gettext.NullTranslations, message: str | tuple[str, str]) -> bool:
    if isinstance(message, tuple):
        return catalogue.ngettext(*message, 2) != message[1]
    return catalogue.gettext(message) != message
