"""Reading and revising the catalogue, and the per-person caps every way of earning an item shares."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.catalog import rules
from backend.catalog.rules import Caps
from backend.catalog.tables import Category, Item, ItemAward, ItemRevision, RevisionSet
from backend.community.tables import Node
from backend.db import TTLCache, atomic, defer_insert, engine, insert_row
from backend.errors import Conflict, InvalidInput, NotFound
from backend.ledger.tables import LedgerTransaction
from backend.people.rules import Principal, require_scope
from backend.people.tables import Person


@dataclass(frozen=True)
class ItemInForce:
    id: int
    name: str
    category: str
    points: int
    colours: list[str]
    caps: Caps = field(default_factory=Caps)

    @property
    def label(self) -> str:
        return f"{self.category} · {self.name}（{self.points}分）"


def _caps(row: dict) -> Caps:
    return Caps(row["cap_per_day"], row["cap_per_month"], row["cap_per_year"])


async def _revisions(item_ids: list[int]) -> dict[int, list[dict]]:
    """Each item's revisions in the order they were made (what `rules.value_on` expects)."""
    found: dict[int, list[dict]] = {i: [] for i in item_ids}
    if item_ids:
        for r in await ItemRevision.select(ItemRevision.id, ItemRevision.item, ItemRevision.effective_from, ItemRevision.points).where(
                ItemRevision.item.is_in(item_ids)).order_by(ItemRevision.id):
            found[r["item"]].append(r)
    return found


def _value_on(revisions: list[dict], day: date) -> int | None:
    try:
        return rules.value_on([(r["effective_from"], r["points"]) for r in revisions], day)
    except Conflict:
        return None


async def item_on(item_id: int, day: date, *, retired_ok: bool = False) -> ItemInForce:
    """The item with its value in force on `day`. `retired_ok`: a claim filed before the item was retired is
    still judged at the value of its deed's day."""
    item = await Item.select(Item.all_columns(), Item.category.name.as_alias("category")).where(
        Item.id == item_id).output(load_json=True).first()
    if item is None or not (item["active"] or retired_ok):
        raise NotFound("unknown_item")
    revisions = (await _revisions([item_id]))[item_id]
    points = rules.value_on([(r["effective_from"], r["points"]) for r in revisions], day)
    return ItemInForce(item["id"], item["name"], item["category"], points, item["colours"] or [], _caps(item))


# The value of an item on a day, for a second: every award scan needs it and it changes a few times a year. A
# revision made here forgets it at once; another server process uses the new value within ITEM_CACHE_SECONDS.
ITEM_CACHE_SECONDS = 1.0
_in_force = TTLCache(ITEM_CACHE_SECONDS)


async def item_in_force(item_id: int, day: date) -> ItemInForce:
    """item_on(item_id, day) for the scan path (active items only), cached."""
    found = _in_force.get((item_id, day))
    if found is None:
        found = _in_force.put((item_id, day), await item_on(item_id, day))
    return found


def forget_items() -> None:
    _in_force.forget()


async def values_on(wanted: list[tuple[int, date]]) -> dict[tuple[int, date], int | None]:
    """(item, day) -> the item's value in force that day (None before its first), in one query for many."""
    revisions = await _revisions(sorted({item_id for item_id, _ in wanted}))
    return {(item_id, day): _value_on(revisions[item_id], day) for item_id, day in wanted}


async def items_in_force(item_ids: list[int], day: date) -> list[ItemInForce]:
    found = []
    for item_id in item_ids:
        try:
            found.append(await item_on(item_id, day))
        except (NotFound, Conflict):  # retired, or no value in force yet: simply not offered
            continue
    return found


async def add_category(community_id: int, name: str, position: int = 0) -> int:
    return (await Category.insert(Category(community=community_id, name=name, position=position)))[0]["id"]


async def add_item(category_id: int, name: str, points: int, effective_from: date, colours: list[str] | None = None,
                   note: str = "", actor_id: int | None = None, caps: Caps | None = None, needs_review: bool = False,
                   needs_evidence: bool = False) -> int:
    if points <= 0:
        raise InvalidInput("bad_amount", field="points")
    caps = caps or Caps()
    async with atomic():
        item_id = (await Item.insert(Item(
            category=category_id, name=name, colours=colours or [], cap_per_day=caps.per_day, cap_per_month=caps.per_month,
            cap_per_year=caps.per_year, needs_review=needs_review, needs_evidence=needs_evidence)))[0]["id"]
        await ItemRevision.insert(ItemRevision(item=item_id, points=points, effective_from=effective_from, note=note,
                                               created_by=actor_id))
    forget_items()
    return item_id


async def revise(item_id: int, points: int, effective_from: date, note: str, actor_id: int | None = None) -> int:
    if points <= 0:
        raise InvalidInput("bad_amount", field="points")
    revision_id = (await ItemRevision.insert(ItemRevision(item=item_id, points=points, effective_from=effective_from,
                                                          note=note, created_by=actor_id)))[0]["id"]
    forget_items()
    return revision_id


# --- caps: every award of an item is recorded where they can be counted ----------------------------------

async def _lock_earner(account_id: int, person_id: int | None) -> None:
    """Count-then-award must not interleave for one earner: PostgreSQL locks the person's row (or the
    organisation's account); SQLite's write transaction already lets one writer in at a time."""
    if engine().engine_type != "postgres":
        return
    if person_id is not None:
        await Person.select(Person.id).where(Person.id == person_id).lock_rows()
    else:
        await Account.select(Account.id).where(Account.id == account_id).lock_rows()


async def award_days(item_id: int, account_id: int, person_id: int | None, year: int) -> list[date]:
    """The deed days of the earner's awards of the item in that year, leaving out those reversed since.
    A person counts across all their accounts; an organisation by its account."""
    earner = ItemAward.person == person_id if person_id is not None else ItemAward.account == account_id
    rows = await ItemAward.select(ItemAward.day, ItemAward.txn).where(
        (ItemAward.item == item_id) & earner & (ItemAward.day >= date(year, 1, 1)) & (ItemAward.day <= date(year, 12, 31)))
    if not rows:
        return []
    reversed_ = {r["reverses"] for r in await LedgerTransaction.select(LedgerTransaction.reverses).where(
        LedgerTransaction.reverses.is_in([r["txn"] for r in rows]))}
    return [r["day"] for r in rows if r["txn"] not in reversed_]


async def check_caps(item: ItemInForce, account_id: int, person_id: int | None, day: date) -> None:
    """Inside the transaction that awards the item: refuse (Conflict with the cap) when it would go over."""
    if not item.caps.any:
        return
    await _lock_earner(account_id, person_id)
    rules.check_caps(item.caps, await award_days(item.id, account_id, person_id, day.year), day)


async def record_award(item_id: int, account_id: int, person_id: int | None, day: date, txn_id: int, source_type: str,
                       *, capped: bool = True) -> None:
    """`capped=False` (an item without caps): its award lines are read only by cap checks, so none in this
    transaction reads them, and in a group of scans the line may go in with the group's others (db.defer_insert)."""
    row = dict(item=item_id, account=account_id, person=person_id, day=day, txn=txn_id, source_type=source_type)
    if capped or not defer_insert(ItemAward, row):
        await insert_row(ItemAward, row, returning=None)


# --- reading the catalogue ----------------------------------------------------------------------------------

async def community(community_id: int) -> dict:
    node = await Node.select(Node.id, Node.name, Node.path, Node.kind).where(Node.id == community_id).first()
    if node is None or node["kind"] != "community":
        raise NotFound("node_not_found")
    return node


async def communities(principal: Principal) -> list[dict]:
    """The communities whose catalogue the user edits."""
    scope = principal.scope_paths("catalog.manage")
    return [c for c in await Node.select(Node.id, Node.name, Node.path).where(Node.kind == "community").order_by(Node.id)
            if any(c["path"].startswith(p) for p in scope)]


async def catalogue(community_id: int, day: date, *, with_retired: bool = False) -> list[dict]:
    """Categories with their items: value in force on `day` (None before the first), the next change after it,
    who may earn it, caps and flags. Residents see active items with a value; staff see everything."""
    categories = await Category.select().where(Category.community == community_id).order_by(Category.position).order_by(Category.id)
    by_category = {c["id"]: c | {"items": []} for c in categories}
    items = await Item.select().where(Item.category.is_in(list(by_category))).output(load_json=True).order_by(
        Item.id) if by_category else []
    revisions = await _revisions([i["id"] for i in items])
    for item in items:
        revs = revisions[item["id"]]
        item["points"] = _value_on(revs, day)
        later = sorted({r["effective_from"] for r in revs if r["effective_from"] > day})
        item["next_change"] = {"day": later[0], "points": _value_on(revs, later[0])} if later else None
        if with_retired or (item["active"] and item["points"] is not None):
            by_category[item["category"]]["items"].append(item)
    return [c for c in by_category.values() if with_retired or c["items"]]


async def changes_since(community_id: int, since: date, limit: int = 100) -> list[dict]:
    """Value changes of the community's items taking effect on or after `since`, latest first: each with the
    value it replaced (what was in force that day before this revision was made)."""
    rows = await ItemRevision.select(
        ItemRevision.all_columns(), ItemRevision.item.name.as_alias("item_name"),
        ItemRevision.item.category.name.as_alias("category"), ItemRevision.created_by.display_name.as_alias("by"),
    ).where((ItemRevision.item.category.community == community_id) & (ItemRevision.effective_from >= since)).order_by(
        ItemRevision.effective_from, ascending=False).order_by(ItemRevision.id, ascending=False).limit(limit)
    revisions = await _revisions(sorted({r["item"] for r in rows}))
    changes = []
    for r in rows:
        before = _value_on([x for x in revisions[r["item"]] if x["id"] < r["id"]], r["effective_from"])
        if before != r["points"]:
            changes.append(r | {"before": before})
    return changes


async def revision_sets(community_id: int, limit: int = 12) -> list[dict]:
    """The latest published revision sets, each with its changes (item, from, to)."""
    sets = await RevisionSet.select(RevisionSet.all_columns(), RevisionSet.created_by.display_name.as_alias("by")).where(
        RevisionSet.community == community_id).order_by(RevisionSet.id, ascending=False).limit(limit)
    if not sets:
        return []
    rows = await ItemRevision.select(
        ItemRevision.id, ItemRevision.item, ItemRevision.points, ItemRevision.effective_from, ItemRevision.revision_set,
        ItemRevision.item.name.as_alias("item_name"), ItemRevision.item.category.name.as_alias("category"),
    ).where(ItemRevision.revision_set.is_in([s["id"] for s in sets])).order_by(ItemRevision.item)
    revisions = await _revisions(sorted({r["item"] for r in rows}))
    for s in sets:
        s["changes"] = [r | {"before": _value_on([x for x in revisions[r["item"]] if x["id"] < r["id"]], r["effective_from"])}
                        for r in rows if r["revision_set"] == s["id"]]
    return sets


async def item_detail(item_id: int) -> dict:
    item = await Item.select(
        Item.all_columns(), Item.category.name.as_alias("category_name"), Item.category.community.as_alias("community"),
        Item.category.community.path.as_alias("community_path"), Item.category.community.name.as_alias("community_name"),
    ).where(Item.id == item_id).output(load_json=True).first()
    if item is None:
        raise NotFound("unknown_item")
    return item


async def item_history(item_id: int, day: date) -> list[dict]:
    """Every revision of the item, latest effective date first: value, note, who made it, and whether it is the
    one in force on `day` or was overridden by a later revision with the same date."""
    rows = await ItemRevision.select(
        ItemRevision.all_columns(), ItemRevision.created_by.display_name.as_alias("by"),
        ItemRevision.revision_set.note.as_alias("set_note"),
    ).where(ItemRevision.item == item_id).order_by(ItemRevision.id)
    in_force = None
    for r in rows:
        if r["effective_from"] <= day and (in_force is None or r["effective_from"] >= in_force["effective_from"]):
            in_force = r
    for r in rows:
        r["in_force"] = r is in_force
        r["overridden"] = any(x["effective_from"] == r["effective_from"] and x["id"] > r["id"] for x in rows)
    return sorted(rows, key=lambda r: (r["effective_from"], r["id"]), reverse=True)


# --- the staff editor ---------------------------------------------------------------------------------------

async def _scoped_community(principal: Principal, community_id: int) -> dict:
    node = await community(community_id)
    require_scope(principal, "catalog.manage", node["path"])
    return node


async def create_category(principal: Principal, community_id: int, name: str) -> int:
    await _scoped_community(principal, community_id)
    if not name.strip():
        raise InvalidInput("name_required", field="category_name")
    if len(name.strip()) > 64:
        raise InvalidInput("name_too_long", field="category_name", max=64)
    async with atomic():
        if await Category.exists().where((Category.community == community_id) & (Category.name == name.strip())):
            raise Conflict("category_exists", name=name.strip())
        position = await Category.count().where(Category.community == community_id)
        category_id = await add_category(community_id, name.strip(), position)
        await audit.log(principal.user_id, "catalog.category.create", "catalog_category", category_id, community_id,
                        after={"name": name.strip()})
    return category_id


async def create_item(principal: Principal, category_id: int, name: str, points: int, effective_from: date,
                      colours: list[str], caps: Caps, needs_review: bool, needs_evidence: bool, today: date) -> int:
    category = await Category.select(Category.community).where(Category.id == category_id).first()
    if category is None:
        raise InvalidInput("category_required", field="category")
    await _scoped_community(principal, category["community"])
    rules.check_item(name, colours, caps)
    rules.check_points(points)
    rules.check_effective_date(effective_from, today)
    async with atomic():
        item_id = await add_item(category_id, name.strip(), points, effective_from, colours, "", principal.user_id, caps,
                                 needs_review, needs_evidence)
        await audit.log(principal.user_id, "catalog.item.create", "catalog_item", item_id, category["community"], after={
            "name": name.strip(), "points": points, "effective_from": effective_from.isoformat(), "colours": colours,
            "caps": [caps.per_day, caps.per_month, caps.per_year], "needs_review": needs_review,
            "needs_evidence": needs_evidence})
    return item_id


_SETTINGS = ("name", "colours", "cap_per_day", "cap_per_month", "cap_per_year", "needs_review", "needs_evidence", "active")


async def update_item(principal: Principal, item_id: int, name: str, colours: list[str], caps: Caps, needs_review: bool,
                      needs_evidence: bool, active: bool) -> None:
    """An item's settings change at once (they are not dated like its value); the audit log keeps the old ones."""
    item = await item_detail(item_id)
    require_scope(principal, "catalog.manage", item["community_path"])
    rules.check_item(name, colours, caps)
    after = {"name": name.strip(), "colours": colours, "cap_per_day": caps.per_day, "cap_per_month": caps.per_month,
             "cap_per_year": caps.per_year, "needs_review": needs_review, "needs_evidence": needs_evidence, "active": active}
    async with atomic():
        await Item.update({getattr(Item, k): v for k, v in after.items()}).where(Item.id == item_id)
        await audit.log(principal.user_id, "catalog.item.update", "catalog_item", item_id, item["community"],
                        before={k: item[k] for k in _SETTINGS}, after=after)
    forget_items()


async def publish_revisions(principal: Principal, community_id: int, effective_from: date, note: str,
                            proposed: dict[int, int], today: date) -> int:
    """One revision set: every item whose proposed value differs from the one in force on the effective date gets
    a revision with that date and the set's note. Returns the set's id."""
    await _scoped_community(principal, community_id)
    own = {r["id"] for r in await Item.select(Item.id).where(Item.category.community == community_id)}
    if any(i not in own for i in proposed):
        raise InvalidInput("unknown_item")
    async with atomic():
        revisions = await _revisions(sorted(proposed))
        changes = rules.revision_changes({i: _value_on(revisions[i], effective_from) for i in proposed}, proposed)
        rules.check_revision_set(note, effective_from, today, changes)
        set_id = (await RevisionSet.insert(RevisionSet(community=community_id, effective_from=effective_from,
                                                       note=note.strip(), created_by=principal.user_id)))[0]["id"]
        await ItemRevision.insert(*(ItemRevision(item=item_id, points=new, effective_from=effective_from, note=note.strip(),
                                                 created_by=principal.user_id, revision_set=set_id)
                                    for item_id, _old, new in changes))
        await audit.log(principal.user_id, "catalog.revise", "catalog_revision_set", set_id, community_id, after={
            "effective_from": effective_from.isoformat(), "note": note.strip(),
            "changes": [{"item": i, "from": old, "to": new} for i, old, new in changes]})
    forget_items()
    return set_id


def month_bounds(day: date) -> tuple[date, date]:
    first = rules.month_start(day)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
