"""Writing and reading the audit log. Writers call log() inside their own transaction."""
from __future__ import annotations

from backend.audit.tables import AuditEntry

PAGE_SIZE = 50


async def log(actor_id: int | None, action: str, target_type: str, target_id: int | str,
              community_id: int | None, before: dict | None = None, after: dict | None = None) -> None:
    await AuditEntry.insert(AuditEntry(actor=actor_id, action=action, target_type=target_type, target_id=str(target_id),
                                       community=community_id, before=before, after=after))


async def entries(scope_paths: list[str], page: int = 1, action: str | None = None) -> tuple[list[dict], int]:
    """Entries in the communities under the given tree paths (and district-wide ones for a street grant)."""
    where = None
    for path in scope_paths:
        clause = AuditEntry.community.path.like(f"{path}%")
        where = clause if where is None else where | clause
    if where is None:
        return [], 1
    if action:
        where &= AuditEntry.action == action
    total = await AuditEntry.count().where(where)
    rows = await AuditEntry.select(
        AuditEntry.all_columns(), AuditEntry.actor.display_name.as_alias("actor_name"),
        AuditEntry.community.name.as_alias("community_name"),
    ).where(where).output(load_json=True).order_by(AuditEntry.at, ascending=False).order_by(AuditEntry.id, ascending=False).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    return rows, max(1, -(-total // PAGE_SIZE))
