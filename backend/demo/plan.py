"""The demo community as a plan: pure and deterministic (one `random.Random(seed)`), no database ids.

The plan walks the history in time order and keeps every balance, so no redemption, deduction or
reversal in it ever overdraws an account; the loader only has to write it in order.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from backend.demo import data
from backend.demo.data import Item

SEED = 20261115
START = date(2026, 7, 1)
END = date(2026, 11, 15)
RESIDENTS = 300
PARTY_SHARE = 0.25
LEAD_SHARE = 0.10
CST = timezone(timedelta(hours=8), "CST")  # China Standard Time, no daylight saving


@dataclass(frozen=True)
class NodePlan:
    key: str  # the names from the street down, joined by "/"
    kind: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class PersonPlan:
    idx: int
    name: str
    phone: str
    community: str  # node key
    home: str  # unit node key
    is_party_member: bool
    is_building_lead: bool
    created_at: datetime


@dataclass(frozen=True)
class AccountPlan:
    key: str
    kind: str  # person | organisation | merchant | issuer | shop
    name: str
    community: str  # node key
    colour: str | None = None
    person: int | None = None  # PersonPlan.idx
    may_go_negative: bool = False


@dataclass(frozen=True)
class UserPlan:
    username: str
    display_name: str
    role: str | None = None
    node: str | None = None  # node key of the grant
    person: int | None = None
    merchant_account: str | None = None  # account key


@dataclass(frozen=True)
class TxnPlan:
    key: str  # the idempotency key
    kind: str  # award | redemption | deduction | reversal
    memo: str
    community: str
    occurred_at: datetime
    postings: tuple[tuple[str, int], ...]  # (account key, amount)
    actor: str | None  # username
    label: str | None = None
    refers_to: str | None = None  # the transaction a deduction takes back or a reversal undoes


@dataclass
class Plan:
    nodes: list[NodePlan] = field(default_factory=list)
    persons: list[PersonPlan] = field(default_factory=list)
    accounts: list[AccountPlan] = field(default_factory=list)
    users: list[UserPlan] = field(default_factory=list)
    txns: list[TxnPlan] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)  # final balance of every account key


def _at(day: date, minute_of_day: int) -> datetime:
    """A moment on `day` in Beijing time, stored in UTC like every other timestamp."""
    local = datetime(day.year, day.month, day.day, tzinfo=CST) + timedelta(minutes=minute_of_day)
    return local.astimezone(timezone.utc)


def _days() -> list[date]:
    return [START + timedelta(days=n) for n in range((END - START).days + 1)]


_DAYS = _days()
_WEIGHTS = [2.5 if d.weekday() >= 5 else 1 for d in _DAYS]


def _community_of(key: str) -> str:
    return "/".join(key.split("/")[:2])


# --- the tree -------------------------------------------------------------------------------------

def _tree(rng: random.Random, plan: Plan) -> list[str]:
    """Street, communities, compounds, grids, buildings, units; returns the unit keys."""
    street = data.STREET
    plan.nodes.append(NodePlan(street, "street", street, None))
    units: list[str] = []
    for community, compounds in data.COMMUNITIES.items():
        c_key = f"{street}/{community}"
        plan.nodes.append(NodePlan(c_key, "community", community, street))
        for compound, grids in compounds.items():
            p_key = f"{c_key}/{compound}"
            plan.nodes.append(NodePlan(p_key, "compound", compound, c_key))
            building_no = 0
            for grid in data.GRID_NAMES[:grids]:
                g_key = f"{p_key}/{grid}"
                plan.nodes.append(NodePlan(g_key, "grid", grid, p_key))
                for _ in range(rng.choice((2, 3))):
                    building_no += 1
                    b_key = f"{g_key}/{building_no}号楼"
                    plan.nodes.append(NodePlan(b_key, "building", f"{building_no}号楼", g_key))
                    for u in range(1, data.UNITS_PER_BUILDING + 1):
                        u_key = f"{b_key}/{u}单元"
                        plan.nodes.append(NodePlan(u_key, "unit", f"{u}单元", b_key))
                        units.append(u_key)
    return units


# --- residents --------------------------------------------------------------------------------------

def _surname(rng: random.Random) -> str:
    if rng.random() < 0.01:
        return rng.choice(data.COMPOUND_SURNAMES)
    # a gently falling weight: 王 is about ten times as common as the last names on the list
    n = len(data.SURNAMES)
    return rng.choices(data.SURNAMES, weights=[10 / (1 + 9 * i / n) for i in range(n)])[0]


def _given(rng: random.Random) -> str:
    return rng.choice(data.GIVEN_1) if rng.random() < 0.3 else rng.choice(data.GIVEN_2)


def _residents(rng: random.Random, plan: Plan, units: list[str]) -> None:
    """Households of one to three people fill the units; some share the head's surname."""
    per_unit = {u: 3 for u in units}
    for u in rng.choices(units, k=RESIDENTS - 3 * len(units)):
        per_unit[u] += 1
    names: set[str] = set()
    phones: set[str] = set()
    people: list[tuple[str, str, str]] = []
    for unit in units:
        left = per_unit[unit]
        while left:
            size = min(left, rng.choice((1, 2, 2, 2, 3, 3)))
            head = _surname(rng)
            for member in range(size):
                surname = _surname(rng) if member == 1 else head  # a spouse keeps their own surname
                name = surname + _given(rng)
                while name in names:
                    name = surname + _given(rng)
                names.add(name)
                phone = rng.choice(data.PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
                while phone in phones:
                    phone = rng.choice(data.PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
                phones.add(phone)
                people.append((name, phone, unit))
            left -= size
    party = set(rng.sample(range(len(people)), round(PARTY_SHARE * len(people))))
    leads = _leads(rng, people, party)
    for idx, (name, phone, unit) in enumerate(people):
        joined = _at(date(2026, 6, 1) + timedelta(days=rng.randrange(28)), rng.randrange(8 * 60 + 30, 17 * 60))
        plan.persons.append(PersonPlan(idx, name, phone, _community_of(unit), unit, idx in party, idx in leads, joined))


def _leads(rng: random.Random, people: list[tuple[str, str, str]], party: set[int]) -> set[int]:
    """One lead per building (楼栋长), then unit leads (单元长) until about a tenth of residents lead;
    half the time the lead is a party member where the building has one (红色楼长)."""
    target = round(LEAD_SHARE * len(people))
    by_building: dict[str, list[int]] = {}
    by_unit: dict[str, list[int]] = {}
    for idx, (_, _, unit) in enumerate(people):
        by_building.setdefault(unit.rsplit("/", 1)[0], []).append(idx)
        by_unit.setdefault(unit, []).append(idx)

    def pick(candidates: list[int]) -> int:
        members = [i for i in candidates if i in party]
        return rng.choice(members if members and rng.random() < 0.5 else candidates)

    leads = {pick(members) for members in by_building.values()}
    units = list(by_unit)
    rng.shuffle(units)
    for unit in units:
        if len(leads) >= target:
            break
        if not leads & set(by_unit[unit]):
            leads.add(pick(by_unit[unit]))
    return leads


# --- accounts and users -------------------------------------------------------------------------------

def person_account_key(idx: int, colour: str) -> str:
    return f"person:{idx}:{colour}"


def _accounts(plan: Plan) -> None:
    for p in plan.persons:
        colours = (["red"] if p.is_party_member else []) + (["green"] if p.is_building_lead else [])
        for colour in colours or ["blue"]:
            plan.accounts.append(AccountPlan(person_account_key(p.idx, colour), "person", p.name, p.community, colour, p.idx))
    for community in data.COMMUNITIES:
        c_key = f"{data.STREET}/{community}"
        plan.accounts.append(AccountPlan(f"issuer:{community}", "issuer", f"{community}积分发放账户", c_key, may_go_negative=True))
        plan.accounts.append(AccountPlan(f"shop:{community}", "shop", f"{community}积分超市", c_key))
        for org in data.ORGANISATIONS[community]:
            plan.accounts.append(AccountPlan(f"organisation:{org}", "organisation", org, c_key))
        for merchant in data.MERCHANTS[community]:
            plan.accounts.append(AccountPlan(f"merchant:{merchant}", "merchant", merchant, c_key))


EAST = f"{data.STREET}/东园社区"
WEST = f"{data.STREET}/西园社区"
# who records what in each community: the admin awards, the station redeems at the shop
ADMIN_OF = {EAST: "admin", WEST: "district"}
STATION_OF = {EAST: "station", WEST: "district"}
CLERK_OF = {"merchant:老王理发店": "merchant"}


def _staff(plan: Plan) -> None:
    plan.users += [
        UserPlan("admin", "社区管理员", "community_admin", EAST),
        UserPlan("district", "街道管理员", "district_admin", data.STREET),
        UserPlan("reviewer", "考评小组审核员", "reviewer", EAST),
        UserPlan("station", "服务站值班员", "station_operator", EAST),
        UserPlan("merchant", "老王理发店店员", "merchant_clerk", EAST, merchant_account="merchant:老王理发店"),
    ]


# --- history ------------------------------------------------------------------------------------------

@dataclass
class _Event:
    at: datetime
    kind: str  # award | shop | merchant | deduction | reversal
    account: str | None = None
    community: str | None = None
    item: Item | None = None
    memo: str | None = None
    person: int | None = None  # PersonPlan.idx, for redemptions (the account is chosen when they happen)
    target: _Event | None = None  # the award a deduction or reversal refers to
    key: str | None = None  # filled in when an award is written


def _pick_item(rng: random.Random, colour: str, exclude: str = data.HOME_CHECK_IN) -> Item:
    weights = data.CATEGORY_WEIGHTS[colour]
    category = rng.choices(data.CATEGORIES, weights=[weights[c] for c in data.CATEGORIES])[0]
    items = [i for i in data.CATALOGUE if i.category == category and i.name != exclude]
    return rng.choices(items, weights=[data.VALUE_WEIGHTS[i.points] for i in items])[0]


def _daytime(rng: random.Random) -> int:
    return rng.randrange(8 * 60 + 30, 18 * 60)


def _some_day(rng: random.Random, first: date = START) -> date:
    """Weekends are busier in a residential community."""
    days = _DAYS[(first - START).days:]
    return rng.choices(days, weights=_WEIGHTS[(first - START).days:])[0]


def _account_for(p: PersonPlan, item: Item) -> str:
    """A lead who is also a party member holds two accounts: building duties go to the green one."""
    if p.is_building_lead and (not p.is_party_member or item.category in ("环境整治", "平安创建") or item.name == "担任楼栋值守志愿者"):
        return person_account_key(p.idx, "green")
    return person_account_key(p.idx, "red" if p.is_party_member else "blue")


def _history_events(rng: random.Random, plan: Plan) -> list[_Event]:
    events: list[_Event] = []
    activity: dict[int, float] = {}
    for p in plan.persons:
        colour = "red" if p.is_party_member else "green" if p.is_building_lead else "blue"
        base = 1.6 if colour != "blue" else 0.9
        activity[p.idx] = 0.0 if rng.random() < 0.08 else rng.expovariate(1) * base
        for _ in range(round(activity[p.idx] * 7)):
            item = _pick_item(rng, colour)
            at = _at(_some_day(rng), _daytime(rng))
            events.append(_Event(at, "award", _account_for(p, item), p.community, item, item.name))
        # in-service party members check in at home in the last week of the month
        if p.is_party_member and rng.random() < 0.6:
            for month in (7, 8, 9, 10):
                if rng.random() < 0.7:
                    last = (date(2026, month + 1, 1) - timedelta(days=1)).day
                    day = date(2026, month, rng.randrange(last - 6, last + 1))
                    memo = f"{month}月{data.HOME_CHECK_IN}"
                    events.append(_Event(_at(day, _daytime(rng)), "award", _account_for(p, data.item(data.HOME_CHECK_IN)),
                                         p.community, data.item(data.HOME_CHECK_IN), memo))
    # one community-wide activity a month; the active residents come
    for community, shift in ((EAST, 0), (WEST, 7)):
        residents = [p for p in plan.persons if p.community == community and activity[p.idx] > 0]
        for month, day, name in data.MONTHLY_EVENTS:
            when = date(2026, month, day) + timedelta(days=shift)
            if when > END:
                when = date(2026, month, day) - timedelta(days=shift)
            item = data.item(name)
            chosen = _weighted_sample(rng, residents, [activity[p.idx] for p in residents], rng.randrange(15, 31))
            compound = ""
            for p in chosen:
                compound = p.home.split("/")[2]
                events.append(_Event(_at(when, 9 * 60 + rng.randrange(0, 90)), "award", _account_for(p, item), community,
                                     item, f"{when.month}月{name}（{compound}）"))
    # resident organisations earn points for the activities they run with the community (共驻共建)
    for community in data.COMMUNITIES:
        c_key = f"{data.STREET}/{community}"
        for org in data.ORGANISATIONS[community]:
            for _ in range(rng.randrange(4, 9)):
                item = data.item(rng.choice(data.ORGANISATION_ITEMS))
                events.append(_Event(_at(_some_day(rng), _daytime(rng)), "award", f"organisation:{org}", c_key, item,
                                     f"{org}{item.name}"))
    # redemptions: the quarterly exchange days at the points shop (一季一兑换), odd visits, and merchants
    window = [d for d in _DAYS if date(2026, 9, 21) <= d <= date(2026, 9, 30)]
    for p in plan.persons:
        if activity[p.idx] == 0:
            continue
        if rng.random() < 0.7:
            events.append(_Event(_at(rng.choice(window), _daytime(rng)), "shop", community=p.community, person=p.idx))
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            events.append(_Event(_at(_some_day(rng, date(2026, 8, 1)), _daytime(rng)), "shop", community=p.community,
                                 person=p.idx))
        for _ in range(rng.choice((0, 1, 2, 2, 3, 4))):
            events.append(_Event(_at(_some_day(rng, date(2026, 7, 20)), _daytime(rng)), "merchant", community=p.community,
                                 person=p.idx))
    # a few mistakes: deductions a week later, reversals the same morning
    person_awards = [e for e in events if e.kind == "award" and e.account.startswith("person:")
                     and date(2026, 8, 1) <= e.at.date() <= date(2026, 10, 31)]
    person_awards.sort(key=lambda e: (e.at, e.account, e.memo))
    for memo in data.DEDUCTION_MEMOS + data.DEDUCTION_MEMOS[:1]:
        target = rng.choice(person_awards)
        events.append(_Event(target.at + timedelta(days=7, minutes=30), "deduction", target.account, target.community,
                             target.item, memo, target=target))
    for memo in data.REVERSAL_MEMOS:
        target = rng.choice(person_awards)
        events.append(_Event(target.at + timedelta(minutes=20), "reversal", target.account, target.community,
                             target.item, memo, target=target))
    return events


def _weighted_sample(rng: random.Random, items: list, weights: list[float], k: int) -> list:
    """k distinct items, likelier the heavier."""
    keyed = sorted(range(len(items)), key=lambda i: rng.random() ** (1 / weights[i]), reverse=True)
    return [items[i] for i in keyed[:k]]


def _history(rng: random.Random, plan: Plan) -> None:
    events = _history_events(rng, plan)
    order = {"award": 0, "reversal": 1, "shop": 2, "merchant": 2, "deduction": 3}
    events.sort(key=lambda e: (e.at, order[e.kind], e.account or "", e.memo or ""))
    balance = {a.key: 0 for a in plan.accounts}
    persons = {p.idx: p for p in plan.persons}
    merchants = {c: [f"merchant:{m}" for m in data.MERCHANTS[c.split("/")[1]]] for c in (EAST, WEST)}
    offers = {f"merchant:{m}": o for c in data.MERCHANTS.values() for m, o in c.items()}
    reversed_keys: set[str] = set()

    def add(kind: str, memo: str, community: str, at: datetime, frm: str, to: str, points: int,
            actor: str | None, label: str | None = None, refers_to: str | None = None) -> str:
        key = f"demo:{len(plan.txns) + 1:05d}"
        plan.txns.append(TxnPlan(key, kind, memo, community, at, ((frm, -points), (to, points)), actor, label, refers_to))
        balance[frm] -= points
        balance[to] += points
        return key

    for e in events:
        if e.kind == "award":
            issuer = f"issuer:{e.community.split('/')[1]}"
            e.key = add("award", e.memo, e.community, e.at, issuer, e.account, e.item.points, ADMIN_OF[e.community], e.item.label)
        elif e.kind == "reversal":
            if e.target.key and balance[e.account] >= e.item.points and e.target.key not in reversed_keys:
                issuer = f"issuer:{e.community.split('/')[1]}"
                reversed_keys.add(e.target.key)
                # the loader hands this to ledger.reverse, which negates the original postings
                add("reversal", e.memo, e.community, e.at, e.account, issuer, e.item.points, ADMIN_OF[e.community],
                    e.item.label, refers_to=e.target.key)
        elif e.kind == "deduction":
            if e.target.key not in reversed_keys and balance[e.account] >= e.item.points:
                issuer = f"issuer:{e.community.split('/')[1]}"
                reversed_keys.add(e.target.key)
                add("deduction", e.memo, e.community, e.at, e.account, issuer, e.item.points, ADMIN_OF[e.community],
                    e.item.label, refers_to=e.target.key)
        else:
            p = persons[e.person]
            accounts = [a for a in (person_account_key(p.idx, c) for c in ("red", "blue", "green")) if a in balance]
            account = max(accounts, key=lambda a: (balance[a], a))
            if e.kind == "shop":
                basket = _basket(rng, balance[account])
                if basket:
                    points = sum(n * each for _, _, n, each in basket)
                    memo = "兑换 " + "、".join(f"{g} {n} {unit}" for g, unit, n, _ in basket)
                    add("redemption", memo, e.community, e.at, account, f"shop:{e.community.split('/')[1]}", points,
                        STATION_OF[e.community])
            else:
                merchant = rng.choice(merchants[e.community])
                affordable = [o for o in offers[merchant] if o[1] <= balance[account]]
                if affordable:
                    memo, points = rng.choice(affordable)
                    add("redemption", memo, e.community, e.at, account, merchant, points,
                        CLERK_OF.get(merchant))
    plan.balances = balance


def _basket(rng: random.Random, balance: int) -> list[tuple[str, str, int, int]]:
    """One to three kinds of goods the resident can afford, keeping a little back sometimes; nobody
    queues at the shop for less than 20 points."""
    if balance < 20:
        return []
    budget = balance if rng.random() < 0.6 else balance // 2
    basket: list[tuple[str, str, int, int]] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        choices = [g for g in data.SHOP_GOODS if g[2] <= budget and g[0] not in {b[0] for b in basket}]
        if not choices:
            break
        good, unit, each = rng.choices(choices, weights=[g[2] for g in choices])[0]  # the dearer goods are the draw
        n = 2 if each <= 15 and 2 * each <= budget and rng.random() < 0.4 else 1
        basket.append((good, unit, n, each))
        budget -= n * each
    return basket


def _resident_users(plan: Plan) -> None:
    """resident1: a party member in 东园 with a long history and a good balance; resident2: an ordinary
    (blue) resident of 东园 with a middling history."""
    counts: dict[str, int] = {}
    for t in plan.txns:
        for account, _ in t.postings:
            counts[account] = counts.get(account, 0) + 1
    east = [a for a in plan.accounts if a.kind == "person" and a.community == EAST]
    red = sorted((a for a in east if a.colour == "red"), key=lambda a: (counts.get(a.key, 0), a.key), reverse=True)
    first = max(red[:10], key=lambda a: (plan.balances[a.key], a.key))  # of the ten busiest, the best off
    blue = sorted((a for a in east if a.colour == "blue" and plan.balances[a.key] > 0 and counts.get(a.key, 0) >= 4),
                  key=lambda a: (counts.get(a.key, 0), a.key))
    second = blue[len(blue) // 2]
    plan.users += [UserPlan("resident1", first.name, person=first.person), UserPlan("resident2", second.name, person=second.person)]


def build_plan(seed: int = SEED) -> Plan:
    rng = random.Random(seed)
    plan = Plan()
    units = _tree(rng, plan)
    _residents(rng, plan, units)
    _accounts(plan)
    _staff(plan)
    _history(rng, plan)
    _resident_users(plan)
    return plan
