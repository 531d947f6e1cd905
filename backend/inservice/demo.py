"""Demo in-service members in 东园: resident1 and the party members whose history has monthly home check-in awards
(在职党员回家报到, see backend/demo/plan.py), registered with an employer and branch; the community's projects and
rules (the last 7 days, not strict, the catalogue's check-in item); and their past check-ins, one per award in
the ledger, so the yearly report and the ledger agree. resident1 has not checked in this month (the e2e test
checks them in at a station)."""
from __future__ import annotations

from datetime import date, datetime

from backend.clock import local_date
from backend.demo import data
from backend.inservice import rules
from backend.inservice.tables import CheckIn, Member, Project, Setting
from backend.ledger.tables import Posting
from backend.people.tables import Person

EMPLOYERS = (("区财政局", "机关第二党支部"), ("市第一人民医院", "内科党支部"), ("区实验小学", "教师党支部"),
             ("区税务局", "征管科党支部"), ("国网供电公司", "营销部党支部"), ("区人民法院", "立案庭党支部"))
PROJECTS = (("楼道文明劝导", "劝导楼道堆物、高空抛物，每月一次"), ("独居老人结对探访", "每月上门看望结对的独居老人"),
            ("垃圾分类督导", "在投放点督导分类投放"), ("社区议事会服务", "参加红色议事会，记录和跟进居民诉求"))
MAX_MEMBERS = 12


async def add_demo_inservice(community_id: int, admin_user_id: int, first_person: int, items: dict[str, int],
                             now: datetime) -> list[int]:
    today = local_date(now)
    await Setting.insert(Setting(community=community_id, window_days=rules.WINDOW_DAYS, strict=False,
                                 award_item=items[data.HOME_CHECK_IN]))
    projects = [r["id"] for r in await Project.insert(*(Project(community=community_id, name=n, description=d)
                                                         for n, d in PROJECTS))]
    # who came home in the history: the accounts credited the check-in item, with each award's day and points
    awards = await Posting.select(Posting.account, Posting.amount, Posting.txn, Posting.txn.occurred_at.as_alias("at"),
                                  Posting.account.holder.as_alias("person")).where(
        (Posting.txn.community == community_id) & Posting.txn.memo.like(f"%{data.HOME_CHECK_IN}") & (Posting.amount > 0)
        & Posting.account.holder.is_not_null()).order_by(Posting.txn)
    people = [first_person] + [p for p in dict.fromkeys(a["person"] for a in awards) if p != first_person]
    party = {p["id"] for p in await Person.select(Person.id).where(
        Person.id.is_in(people) & (Person.is_party_member == True))}  # noqa: E712
    people = [p for p in people if p in party][:MAX_MEMBERS]
    members = {}
    for i, person in enumerate(people):
        employer, branch = EMPLOYERS[i % len(EMPLOYERS)]
        members[person] = (await Member.insert(Member(person=person, community=community_id, employer=employer,
                                                      branch=branch, since=date(2026, 6, 1),
                                                      registered_by=admin_user_id)))[0]["id"]
    rows, seen = [], set()
    for i, a in enumerate(awards):
        day = local_date(a["at"])
        month = rules.month_key(day)
        member = members.get(a["person"])
        if member is None or (member, month) in seen or month == rules.month_key(today):
            continue
        seen.add((member, month))
        rows.append(CheckIn(member=member, person=a["person"], community=community_id, month=month,
                            member_month=f"{member}:{month}", via="station", day=day, checked_in_at=a["at"],
                            in_window=rules.in_window(day, rules.WINDOW_DAYS), project=projects[i % len(projects)],
                            txn=a["txn"], points=a["amount"]))
    # two others have come home already this month, so the list shows both sides
    for i, person in enumerate(people[1:3]):
        rows.append(CheckIn(member=members[person], person=person, community=community_id, month=rules.month_key(today),
                            member_month=f"{members[person]}:{rules.month_key(today)}", via="station", day=today,
                            checked_in_at=now, in_window=rules.in_window(today, rules.WINDOW_DAYS),
                            project=projects[i], points=0, note="demo"))
    if rows:
        await CheckIn.insert(*rows)
    return list(members.values())
