"""The demo's points catalogue (7 categories × 5 items, 5/10/20 points: backend/demo/data.py) written into the
catalogue tables of each demo community, in force from 2026-07-01, with a few caps, colours and evidence rules;
and, in 东园, a revision set taking effect on the first of the load month, so "changes this month" shows one."""
from __future__ import annotations

from datetime import date

from backend.catalog import rules, service
from backend.catalog.rules import Caps
from backend.catalog.tables import ItemRevision, RevisionSet
from backend.demo import data

IN_FORCE_FROM = date(2026, 7, 1)
CAPS = {"楼道清理": Caps(per_day=1), "参加无偿献血": Caps(per_year=2), data.HOME_CHECK_IN: Caps(per_month=1),
        "看望空巢老人": Caps(per_month=4)}
COLOURS = {data.HOME_CHECK_IN: ["red"], "担任楼栋值守志愿者": ["green"]}
EVIDENCE = ("参加无偿献血", "牵头整治楼院脏乱点", "结对帮扶困难家庭")
# this month's adjustment in 东园: (item, new points)
MONTHLY_CHANGES = (("垃圾分类督导", 15), ("参加治安巡逻", 15))


async def add_demo_catalogue(community_id: int, admin_user_id: int, today: date, monthly_changes: bool) -> dict[str, int]:
    """Item name -> id for one community."""
    ids: dict[str, int] = {}
    for position, category in enumerate(data.CATEGORIES):
        category_id = await service.add_category(community_id, category, position)
        for item in (i for i in data.CATALOGUE if i.category == category):
            ids[item.name] = await service.add_item(
                category_id, item.name, item.points, IN_FORCE_FROM, COLOURS.get(item.name), "2026年积分项目及分值标准",
                admin_user_id, CAPS.get(item.name), needs_review=item.points >= 20, needs_evidence=item.name in EVIDENCE)
    first = rules.month_start(today)
    if monthly_changes and first > IN_FORCE_FROM:
        note = f"本月调整{len(MONTHLY_CHANGES)}项：冬季治安巡逻、垃圾分类督导分值上调"
        set_id = (await RevisionSet.insert(RevisionSet(community=community_id, effective_from=first, note=note,
                                                       created_by=admin_user_id)))[0]["id"]
        await ItemRevision.insert(*(ItemRevision(item=ids[name], points=points, effective_from=first, note=note,
                                                 created_by=admin_user_id, revision_set=set_id)
                                    for name, points in MONTHLY_CHANGES))
    return ids
