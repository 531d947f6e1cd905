"""Demo events for `linli demo load`: one going on when the demo is loaded, one tomorrow morning, one next week,
with a few sign-ups. Times are relative to the load, so a fresh demo always has something to check in to."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from backend.clock import zone
from backend.events import service
from backend.events.tables import Signup
from backend.people import service as people


async def add_demo_events(community_id: int, admin_user_id: int, volunteers: list[int], now: datetime) -> list[int]:
    """`volunteers`: person ids; the first four sign up for today's event, the next two for tomorrow's."""
    admin = await people.principal(admin_user_id)
    local = now.astimezone(zone())
    this_hour = local.replace(minute=0, second=0, microsecond=0)
    tomorrow = local.date() + timedelta(days=1)
    next_week = local.date() + timedelta(days=7)

    def at(day, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone())

    today = await service.create_event(admin, community_id, "垃圾分类督导", "东园小区垃圾分类投放点",
                                       this_hour - timedelta(hours=1), this_hour + timedelta(hours=2), capacity=10,
                                       points_per_hour=4)
    visit = await service.create_event(admin, community_id, "敬老院探访", "东园社区敬老院", at(tomorrow, 9),
                                       at(tomorrow, 11, 30), capacity=8, points_per_hour=5)
    sweep = await service.create_event(admin, community_id, "清洁家园大扫除", "东园新村", at(next_week, 8, 30),
                                       at(next_week, 11, 30), points_per_hour=3)
    signups = [(today, p) for p in volunteers[:4]] + [(visit, p) for p in volunteers[4:6]]
    await Signup.insert(*(Signup(event=e, person=p, created_at=now) for e, p in signups))
    return [today, visit, sweep]
