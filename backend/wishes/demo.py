"""Demo micro-wishes in 东园, relative to the load time like the other demo activity, so the boards show every
state: one wish overdue on three clocks, one just posted, one dispatched to the building stewards' team, and one
resident1 (a party member, 党员接单) completed for resident2 that waits for resident2's rating (none is confirmed:
the demo ledger holds only the plan's awards, which tests/integration/test_demo.py checks). Also which catalogue
item each kind earns, and the public holidays of the work calendar (illustrative: load the State Council's notice
for the year in production)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from backend.people import service as people
from backend.wishes import service
from backend.wishes.service import AS_STAFF

KIND_ITEMS = {"repair": "认领完成居民微心愿", "other": "认领完成居民微心愿", "errand": "为独居老人代购代办",
              "visit": "看望空巢老人", "companionship": "看望空巢老人"}
HOLIDAYS_2026 = (
    [(date(2026, 1, d), "元旦") for d in (1, 2, 3)]
    + [(date(2026, 2, d), "春节") for d in range(15, 24)]
    + [(date(2026, 4, d), "清明节") for d in (4, 5, 6)]
    + [(date(2026, 5, d), "劳动节") for d in range(1, 6)]
    + [(date(2026, 6, d), "端午节") for d in (19, 20, 21)]
    + [(date(2026, 9, d), "中秋节") for d in (25, 26, 27)]
    + [(date(2026, 10, d), "国庆节") for d in range(1, 8)]
)


async def add_demo_wishes(community_id: int, admin_user: int, station_user: int, resident1_user: int,
                          resident2_user: int, neighbours: list[int], items: dict[str, int], now: datetime) -> list[int]:
    """neighbours: person ids of 东园 residents other than resident1 and resident2 (at least seven)."""
    for kind, name in KIND_ITEMS.items():
        await service.set_kind_item(community_id, kind, items[name])
    for day, name in HOLIDAYS_2026:
        await service.set_calendar_day(day, False, name)
    team = await service.add_team(community_id, "红色楼管家服务队", neighbours[4:7])
    admin, station = await people.principal(admin_user), await people.principal(station_user)
    volunteer, resident2 = await people.principal(resident1_user), await people.principal(resident2_user)

    async def for_neighbour(i: int, kind: str, what: str, at: datetime) -> int:
        return await service.post(station, kind=kind, description=what, submission_key=f"demo-wish:{i}", now=at,
                                  for_person=neighbours[i])

    ids = []
    # overdue: posted six hours ago, no one has answered
    ids.append(await for_neighbour(0, "repair", "楼道声控灯坏了，晚上上下楼看不见", now - timedelta(hours=6)))
    # just posted
    ids.append(await for_neighbour(1, "errand", "腿脚不便，想请人帮忙去药店买降压药", now - timedelta(minutes=10)))
    # seen and dispatched to the stewards' team
    visit = await for_neighbour(2, "visit", "老伴住院了，家里就我一个人，希望有人来看看", now - timedelta(hours=2))
    await service.act(station, visit, "acknowledge", now - timedelta(hours=2) + timedelta(minutes=5), acting_as=AS_STAFF)
    await service.dispatch(admin, visit, now - timedelta(hours=2) + timedelta(minutes=15), team_id=team,
                           note="请楼管家今天下午上门")
    ids.append(visit)
    # resident2's wish, taken and completed by resident1 yesterday: waiting for resident2's rating
    mine = await service.post(resident2, kind="companionship", description="周末想有人陪我去公园走走",
                              submission_key="demo-wish:mine", now=now - timedelta(days=1, hours=3))
    await service.act(volunteer, mine, "take", now - timedelta(days=1, hours=3) + timedelta(minutes=12))
    await service.act(volunteer, mine, "complete", now - timedelta(days=1))
    ids.append(mine)
    return ids
