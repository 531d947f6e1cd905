"""A large, believable ledger for the standings and notice benchmarks.

    from benchmarks.standings_data import generate
    figures = await generate(accounts=100_000, postings=1_000_000, months=12)

The database named by LINLI_DATABASE_URL must already be migrated (`linli db migrate`). One street, one community
(returned as community_id) with grids, buildings, units, people with person accounts (red/blue/green), a few
organisations and merchants, an issuer and a shop. Transactions have two postings each, spread over the last
`months` months in Asia/Shanghai up to now: awards and volunteer hours from the issuer, deductions, redemptions at
merchants and the shop (never below zero), and reversals of earlier awards. Account balances match their postings,
so `linli ledger verify` passes.

Rows are written with the driver's bulk paths (SQLite executemany, PostgreSQL COPY) and explicit ids, not one ORM
insert per row: 1,000,000 postings take seconds instead of an hour. Deterministic for a given seed.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

SHANGHAI_OFFSET = timedelta(hours=8)  # Asia/Shanghai has no daylight saving
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧阳"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国玉梅欣妍成慧红梅志强海燕晨"
MEMOS = {"award": "参加社区志愿服务", "hours": "志愿服务时长", "deduction": "违规扣分", "redemption": "积分兑换",
         "reversal": "冲正:录入错误"}


def _month_start(year: int, month: int) -> datetime:
    """The first instant of a local (Shanghai) month, in UTC."""
    return datetime(year, month, 1, tzinfo=timezone.utc) - SHANGHAI_OFFSET


def _months_back(now: datetime, months: int) -> datetime:
    local = now + SHANGHAI_OFFSET
    year, month = local.year, local.month - (months - 1)
    while month <= 0:
        month += 12
        year -= 1
    return _month_start(year, month)


async def _next_id(db, table: str) -> int:
    rows = await db.run_ddl(f'SELECT COALESCE(MAX(id), 0) AS m FROM "{table}"')
    return int(rows[0]["m"]) + 1


class _Writer:
    """Bulk inserts with explicit ids for either engine, in one database transaction."""

    def __init__(self, db) -> None:
        from piccolo.engine.sqlite import SQLiteEngine

        self.db = db
        self.sqlite = isinstance(db, SQLiteEngine)
        self.connection = None

    async def __aenter__(self):
        if self.sqlite:
            self.connection = await self.db.get_connection()
            await self.connection.execute("BEGIN IMMEDIATE")
        else:
            self.connection = await self.db.get_new_connection()
            self.transaction = self.connection.transaction()
            await self.transaction.start()
        return self

    async def __aexit__(self, exc_type, exc, tb):
        try:
            if self.sqlite:
                await (self.connection.rollback() if exc_type else self.connection.commit())
            else:
                await (self.transaction.rollback() if exc_type else self.transaction.commit())
        finally:
            await self.connection.close()

    def _value(self, value):
        if self.sqlite and isinstance(value, datetime):
            return str(value.astimezone(timezone.utc))
        return value

    async def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.sqlite:
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
            has_time = [i for i, v in enumerate(rows[0]) if isinstance(v, datetime)]
            if has_time:
                rows = [tuple(self._value(v) for v in row) for row in rows]
            await self.connection.executemany(sql, rows)
        else:
            await self.connection.copy_records_to_table(table, records=rows, columns=columns)

    async def execute(self, sql: str) -> None:
        await self.connection.execute(sql)

    async def fix_sequences(self, tables: list[str]) -> None:
        """PostgreSQL's id sequences do not see explicit ids; move them past what was written."""
        if self.sqlite:
            return
        for table in tables:
            await self.connection.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))"
            )


def _name(rng: random.Random) -> str:
    surname = rng.choice(SURNAMES[:-2]) if rng.random() > 0.01 else "欧阳"
    return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


async def generate(accounts: int, postings: int, months: int, seed: int = 1) -> dict:
    """Write the community and its ledger; returns ids and counts (see the module docstring)."""
    from backend.db import engine

    assert accounts >= 20 and postings >= 2 and months >= 1
    rng = random.Random(seed)
    db = engine()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = _months_back(now, months)
    span = (now - start).total_seconds()

    ids = {t: await _next_id(db, t) for t in ("community_node", "person", "points_account", "ledger_transaction", "ledger_posting")}
    grid_count = max(2, min(40, accounts // 2500))
    buildings_per_grid, units_per_building = 6, 3

    # --- the tree -------------------------------------------------------------------------------------------------
    nodes: list[tuple] = []
    nid = ids["community_node"]

    def node(kind: str, name: str, parent: int | None, parent_path: str) -> tuple[int, str]:
        nonlocal nid
        path = f"{parent_path}{nid}/"
        nodes.append((nid, kind, name, parent, path))
        nid += 1
        return nid - 1, path

    street_id, street_path = node("street", f"基准街道{seed}", None, "/")
    community_id, community_path = node("community", f"基准社区{seed}", street_id, street_path)
    compound_id, compound_path = node("compound", "基准小区", community_id, community_path)
    grids: list[int] = []
    units: list[int] = []
    unit_grid: dict[int, int] = {}
    for g in range(1, grid_count + 1):
        grid_id, grid_path = node("grid", f"第{g}网格", compound_id, compound_path)
        grids.append(grid_id)
        for b in range(1, buildings_per_grid + 1):
            building_id, building_path = node("building", f"{g}-{b}号楼", grid_id, grid_path)
            for u in range(1, units_per_building + 1):
                unit_id, _ = node("unit", f"{u}单元", building_id, building_path)
                units.append(unit_id)
                unit_grid[unit_id] = grid_id

    # --- people and accounts ----------------------------------------------------------------------------------------
    merchants = max(3, accounts // 1000)
    organisations = max(2, accounts // 200)
    people = accounts - merchants - organisations - 2  # issuer and shop
    person_rows: list[tuple] = []
    account_rows: list[tuple] = []
    pid, aid = ids["person"], ids["points_account"]
    created = start - timedelta(days=30)
    issuer_id, shop_id = aid, aid + 1
    account_rows.append((issuer_id, "issuer", None, None, f"基准社区{seed}积分发放账户", community_id, 0, True, True, created))
    account_rows.append((shop_id, "shop", None, None, "积分超市", community_id, 0, False, True, created))
    aid += 2
    person_accounts: list[int] = []
    for i in range(people):
        unit = units[i % len(units)]
        party = rng.random() < 0.25
        person_rows.append((pid, _name(rng), f"1{rng.randrange(30, 99)}{i:08d}"[:11], unit, community_id, party,
                            rng.random() < 0.02, created))
        colour = "red" if party else ("green" if rng.random() < 0.1 else "blue")
        account_rows.append((aid, "person", colour, pid, person_rows[-1][1], community_id, 0, False, True, created))
        person_accounts.append(aid)
        pid += 1
        aid += 1
    organisation_accounts = []
    for i in range(organisations):
        account_rows.append((aid, "organisation", None, None, f"共建单位{i + 1:04d}", community_id, 0, False, True, created))
        organisation_accounts.append(aid)
        aid += 1
    merchant_accounts = []
    for i in range(merchants):
        account_rows.append((aid, "merchant", None, None, f"联盟商家{i + 1:04d}", community_id, 0, False, True, created))
        merchant_accounts.append(aid)
        aid += 1
    earners = person_accounts + organisation_accounts
    person_set = set(person_accounts)
    # a few people do most of the deeds, as in real life: weights follow a long tail
    weights = [rng.paretovariate(1.2) for _ in earners]

    # --- transactions ------------------------------------------------------------------------------------------------
    txn_count = postings // 2
    moments = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(txn_count))
    picks = rng.choices(earners, weights=weights, k=txn_count)
    balance: dict[int, int] = {}
    txn_rows: list[tuple] = []
    posting_rows: list[tuple] = []
    tid, psid = ids["ledger_transaction"], ids["ledger_posting"]
    reversible: list[tuple[int, int, int]] = []  # (txn id, account, amount) of awards not yet reversed
    kinds = {"award": 0, "hours": 0, "deduction": 0, "redemption": 0, "reversal": 0}
    for n, (moment, account) in enumerate(zip(moments, picks)):
        roll = rng.random()
        reverses = None
        if roll < 0.01 and reversible:
            kind = "reversal"
            reverses, account, amount = reversible.pop(rng.randrange(len(reversible)))
            if balance.get(account, 0) < amount:  # already spent: reverse an award whose points are still there
                reversible.append((reverses, account, amount))
                kind, reverses, amount = "award", None, rng.choice((5, 10, 20))
                debit, credit = issuer_id, account
            else:
                debit, credit = account, issuer_id
        elif roll < 0.09 and account in person_set and balance.get(account, 0) >= 20:
            kind, amount = "redemption", rng.choice((10, 20))
            debit, credit = account, (shop_id if rng.random() < 0.4 else rng.choice(merchant_accounts))
        elif roll < 0.10 and balance.get(account, 0) >= 5:
            kind, amount, debit, credit = "deduction", 5, account, issuer_id
        else:
            kind = "hours" if roll < 0.15 else "award"
            amount = rng.choice((2, 5, 5, 10, 10, 20, 30)) if kind == "award" else rng.choice((10, 20, 40))
            debit, credit = issuer_id, account
        if kind == "award" and reverses is None:
            reversible.append((tid, account, amount))
        kinds[kind] += 1
        txn_rows.append((tid, kind, MEMOS[kind], None, "demo", None, None, f"bench-{seed}-{tid}", community_id, moment,
                         moment, reverses))
        posting_rows.append((psid, tid, debit, -amount))
        posting_rows.append((psid + 1, tid, credit, amount))
        balance[debit] = balance.get(debit, 0) - amount
        balance[credit] = balance.get(credit, 0) + amount
        psid += 2
        tid += 1
    account_rows = [row[:6] + (balance.get(row[0], 0),) + row[7:] for row in account_rows]

    async with _Writer(db) as w:
        await w.insert("community_node", ["id", "kind", "name", "parent", "path"], nodes)
        await w.insert("person", ["id", "name", "phone", "home", "community", "is_party_member", "is_building_lead",
                                  "created_at"], person_rows)
        await w.insert("points_account", ["id", "kind", "colour", "holder", "name", "community", "balance",
                                          "may_go_negative", "active", "created_at"], account_rows)
        chunk = 50_000
        for i in range(0, len(txn_rows), chunk):
            await w.insert("ledger_transaction", ["id", "kind", "memo", "actor", "source_type", "source_ref",
                                                  "source_label", "idempotency_key", "community", "occurred_at",
                                                  "recorded_at", "reverses"], txn_rows[i:i + chunk])
        for i in range(0, len(posting_rows), chunk * 2):
            await w.insert("ledger_posting", ["id", "txn", "account", "amount"], posting_rows[i:i + chunk * 2])
        await w.fix_sequences(["community_node", "person", "points_account", "ledger_transaction", "ledger_posting"])
    if not w.sqlite:
        await db.run_ddl("ANALYZE")

    return {
        "community_id": community_id,
        "street_id": street_id,
        "grids": grids,
        "issuer_id": issuer_id,
        "shop_id": shop_id,
        "accounts": len(account_rows),
        "person_accounts": len(person_accounts),
        "organisation_accounts": len(organisation_accounts),
        "merchant_accounts": len(merchant_accounts),
        "transactions": len(txn_rows),
        "postings": len(posting_rows),
        "kinds": kinds,
        "start": start,
        "end": now,
    }

