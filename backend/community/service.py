"""Building and reading the community tree."""
from __future__ import annotations

from dataclasses import dataclass, field

from backend.community.tables import Node
from backend.errors import InvalidInput, NotFound

LEVELS = ("street", "community", "compound", "grid", "building", "unit")


def child_kind_ok(parent_kind: str | None, kind: str) -> bool:
    """Each level sits under the one above it; a street is a root."""
    if parent_kind is None:
        return kind == "street"
    return kind in LEVELS and LEVELS.index(kind) == LEVELS.index(parent_kind) + 1


async def add_node(kind: str, name: str, parent_id: int | None) -> int:
    parent = None
    if parent_id is not None:
        parent = await Node.select().where(Node.id == parent_id).first()
        if parent is None:
            raise NotFound("node_not_found")
    if not child_kind_ok(parent["kind"] if parent else None, kind):
        raise InvalidInput("bad_node_kind", field="kind", kind=kind)
    if not name.strip():
        raise InvalidInput("name_required", field="name")
    node_id = (await Node.insert(Node(kind=kind, name=name.strip(), parent=parent_id, path="")))[0]["id"]
    path = f"{parent['path'] if parent else '/'}{node_id}/"
    await Node.update({Node.path: path}).where(Node.id == node_id)
    return node_id


@dataclass
class TreeNode:
    id: int
    kind: str
    name: str
    path: str
    children: list[TreeNode] = field(default_factory=list)
    people: int = 0


async def subtree(root_paths: list[str], max_level: str = "building") -> list[TreeNode]:
    """The tree below the given nodes (down to `max_level`), with the number of people under each node."""
    from backend.people.tables import Person

    kinds = LEVELS[: LEVELS.index(max_level) + 1]
    # parents are created before their children, so id order is tree order (path text order puts 10 before 4)
    rows = await Node.select().where(Node.kind.is_in(list(kinds))).order_by(Node.id)
    counts: dict[int, int] = {}
    for r in await Person.select(Person.home.path.as_alias("path")):
        for part in r["path"].strip("/").split("/"):
            counts[int(part)] = counts.get(int(part), 0) + 1
    nodes = {r["id"]: TreeNode(r["id"], r["kind"], r["name"], r["path"], people=counts.get(r["id"], 0)) for r in rows}
    roots: list[TreeNode] = []
    for r in rows:
        node = nodes[r["id"]]
        if any(r["path"] == p for p in root_paths):
            roots.append(node)
        elif r["parent"] in nodes and any(r["path"].startswith(p) for p in root_paths):
            nodes[r["parent"]].children.append(node)
    return roots


async def node_by_path(path: str) -> dict:
    node = await Node.select().where(Node.path == path).first()
    if node is None:
        raise NotFound("node_not_found")
    return node


async def community_of(node_path: str) -> int:
    """The community node id above (or at) a node: the ledger and accounts hang from communities."""
    ids = [int(p) for p in node_path.strip("/").split("/")]
    rows = await Node.select(Node.id).where(Node.id.is_in(ids) & (Node.kind == "community"))
    if not rows:
        raise InvalidInput("not_in_a_community")
    return rows[0]["id"]
