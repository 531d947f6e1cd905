"""One settings object; every field comes from an environment variable named where it is declared."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _persistent_secret(name: str) -> str:
    """A development secret kept in var/ so sessions survive restarts; production sets the variable."""
    path = VAR / f"{name}.secret"
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    # LINLI_DATABASE_URL: sqlite:///relative/or/absolute/path (four slashes for absolute) or postgresql://user@host/db
    database_url: str = field(default_factory=lambda: _env("LINLI_DATABASE_URL", f"sqlite:///{VAR / 'linli.sqlite3'}"))
    # LINLI_DATABASE_POOL: PostgreSQL connections kept open per process (0: a connection per query, as the tests use)
    database_pool: int = field(default_factory=lambda: int(_env("LINLI_DATABASE_POOL", "20")))
    # LINLI_SECRET_KEY: signs session cookies and CSRF tokens (64 hex chars); generated into var/ when unset
    secret_key: str = field(default_factory=lambda: os.environ.get("LINLI_SECRET_KEY") or _persistent_secret("session"))
    # LINLI_HOST / LINLI_PORT: where `linli serve` listens
    host: str = field(default_factory=lambda: _env("LINLI_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("LINLI_PORT", "8000")))
    # LINLI_BASE_URL: the public address printed on cards and NFC tags
    base_url: str = field(default_factory=lambda: _env("LINLI_BASE_URL", "http://127.0.0.1:8000"))
    # LINLI_DEFAULT_LANGUAGE: zh_CN or en, for visitors who have not chosen
    default_language: str = field(default_factory=lambda: _env("LINLI_DEFAULT_LANGUAGE", "zh_CN"))
    # LINLI_SECURE_COOKIES: 1 behind HTTPS (sets the Secure flag on cookies)
    secure_cookies: bool = field(default_factory=lambda: _env("LINLI_SECURE_COOKIES", "0") == "1")
    # LINLI_SESSION_HOURS: a session expires this long after sign-in
    session_hours: int = field(default_factory=lambda: int(_env("LINLI_SESSION_HOURS", "12")))
    # LINLI_TIMEZONE: the communities' local time, for "the day of the deed", windows and monthly periods
    timezone: str = field(default_factory=lambda: _env("LINLI_TIMEZONE", "Asia/Shanghai"))
    # LINLI_STANDINGS_FOLD_SECONDS: how often each server process adds newly written postings into the standings
    # rollup in the background (readers also do it first), so no page view inherits a long backlog; 0: never
    standings_fold_seconds: float = field(default_factory=lambda: float(_env("LINLI_STANDINGS_FOLD_SECONDS", "30")))
    # LINLI_UPLOAD_DIR: where uploaded files (claim evidence photos) are kept; never served as static files
    upload_dir: Path = field(default_factory=lambda: Path(_env("LINLI_UPLOAD_DIR", str(VAR / "uploads"))))
    # LINLI_DEBUG: 1 shows tracebacks in the browser (never in production)
    debug: bool = field(default_factory=lambda: _env("LINLI_DEBUG", "0") == "1")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))


def get_settings() -> Settings:
    return Settings()
