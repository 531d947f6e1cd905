"""Demo standings for 东园: last quarter's red-flag grids recorded by the admin, and this year's award shortlists
drawn from the demo ledger (one candidate nominated), so the grid and award pages have something to show. The
boards themselves need nothing: they are computed from the demo ledger."""
from __future__ import annotations

from datetime import datetime

from backend.clock import local_date
from backend.people import service as people
from backend.standings import rules, service


async def add_demo_standings(community_id: int, admin_user_id: int, now: datetime) -> None:
    admin = await people.principal(admin_user_id)
    today = local_date(now)
    await service.confirm_selection(admin, community_id, rules.period_of("quarter", today).previous(), now)
    for category in rules.AWARD_CATEGORIES:
        await service.draw_shortlist(admin, community_id, today.year, category, now)
    first = next((c for c in await service.candidates(community_id, today.year) if c["category"] == "points_star"), None)
    if first is not None:
        await service.move_award(admin, first["id"], "nominate", "社区党委推荐", now)
