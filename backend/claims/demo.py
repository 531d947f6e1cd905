"""Demo claims waiting for the weekly review: resident2's, one submitted last week, two this week (one large enough
to need two reviewers). Times are relative to the load, like the other demo activity."""
from __future__ import annotations

from datetime import datetime, timedelta

from backend.claims import service
from backend.clock import local_date
from backend.people import service as people

# item, deed (days before the load), submitted (days before the load), what happened, witnesses
CLAIMS = (
    ("看望空巢老人", 9, 8, "下午去3单元看望独居的张奶奶，陪她聊天，帮她换了灯泡", "张奶奶的女儿"),
    ("楼道清理", 2, 1, "清理了单元楼道里堆放的纸箱和旧自行车，楼道通畅了", "邻居刘阿姨"),
    ("大型活动保障志愿服务", 1, 0, "社区重阳节文艺演出，负责搬运桌椅和维持秩序，从早上八点到中午", "网格员小王"),
)


async def add_demo_claims(resident_user_id: int, items: dict[str, int], now: datetime) -> list[int]:
    resident = await people.principal(resident_user_id)
    today = local_date(now)
    return [await service.submit(resident, item_id=items[name], deed_date=today - timedelta(days=deed), description=what,
                                 witnesses=witnesses, photo=None, submission_key=f"demo:{name}",
                                 now=now - timedelta(days=submitted))
            for name, deed, submitted, what, witnesses in CLAIMS]
