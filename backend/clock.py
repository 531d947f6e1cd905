"""Local dates: the schemes count days, months and quarters in the community's own time zone."""
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from backend.settings import get_settings


@cache
def zone(name: str | None = None) -> ZoneInfo:
    return ZoneInfo(name or get_settings().timezone)


def local_date(moment: datetime) -> date:
    return moment.astimezone(zone()).date()
