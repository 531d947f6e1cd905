"""Sign-in, users and grants."""
from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError


from backend.community.tables import Node
from backend.db import atomic
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.people import rules
from backend.people.rules import Grant, Principal
from backend.people.tables import RoleGrant, User

_hasher = PasswordHasher()
# verifying against this keeps unknown usernames as slow as wrong passwords (no user enumeration by timing)
_DUMMY_HASH = _hasher.hash("not a password")
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password_too_short", field="password", min=MIN_PASSWORD)
    return _hasher.hash(password)


async def authenticate(username: str, password: str, now: datetime) -> Principal:
    user = await User.select().where(User.username == username.strip()).first()
    if user is None or not user["active"]:
        _verify(_DUMMY_HASH, password)
        raise PermissionDenied("bad_credentials")
    if rules.login_locked(user["locked_until"], now):
        raise PermissionDenied("login_locked")
    if not _verify(user["password_hash"], password):
        failed, locked_until = rules.after_failed_login(user["failed_logins"], now)
        await User.update({User.failed_logins: failed, User.locked_until: locked_until}).where(User.id == user["id"])
        raise PermissionDenied("login_locked" if locked_until else "bad_credentials")
    if user["failed_logins"] or user["locked_until"]:
        await User.update({User.failed_logins: 0, User.locked_until: None}).where(User.id == user["id"])
    return await principal(user["id"])


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


async def principal(user_id: int) -> Principal:
    user = await User.select(User.id, User.display_name, User.person, User.active).where(User.id == user_id).first()
    if user is None or not user["active"]:
        raise NotFound("user_not_found")
    grants = await RoleGrant.select(RoleGrant.role, RoleGrant.node.path).where(RoleGrant.user == user_id)
    return Principal(
        user_id=user["id"],
        display_name=user["display_name"],
        person_id=user["person"],
        grants=tuple(Grant(g["role"], g["node.path"]) for g in grants),
    )


async def create_user(
    username: str, password: str, display_name: str, *, person_id: int | None = None,
    role: str | None = None, node_id: int | None = None, merchant_account_id: int | None = None,
) -> int:
    username = username.strip()
    if not username or len(username) > 64:
        raise InvalidInput("bad_username", field="username")
    if role is not None and role not in rules.STAFF_ROLES:
        raise InvalidInput("unknown_role", field="role", role=role)
    if role is not None and node_id is None:
        raise InvalidInput("role_needs_node", field="node")
    password_hash = hash_password(password)
    async with atomic():
        if await User.exists().where(User.username == username):
            raise Conflict("username_taken", username=username)
        if node_id is not None and not await Node.exists().where(Node.id == node_id):
            raise NotFound("node_not_found")
        user_id = (await User.insert(User(
            username=username, password_hash=password_hash, display_name=display_name, person=person_id,
        )))[0]["id"]
        if role is not None:
            await RoleGrant.insert(RoleGrant(user=user_id, role=role, node=node_id, merchant_account_id=merchant_account_id))
    return user_id


async def set_language(user_id: int, language: str) -> None:
    await User.update({User.language: language}).where(User.id == user_id)


PAGE_SIZE = 25


async def search(scope_paths: list[str], q: str = "", node_id: int | None = None, colour: str | None = None,
                 page: int = 1) -> tuple[list[dict], int, int]:
    """People under the caller's part of the tree, filtered by name/phone, place and account colour.
    Returns (rows with their accounts, total, pages)."""
    from backend.accounts.tables import Account
    from backend.people.tables import Person

    if not scope_paths:
        return [], 0, 1
    where = None
    for path in scope_paths:
        clause = Person.home.path.like(f"{path}%")
        where = clause if where is None else where | clause
    if q.strip():
        where &= Person.name.like(f"%{q.strip()}%") | Person.phone.like(f"%{q.strip()}%")
    if node_id is not None:
        node = await Node.select(Node.path).where(Node.id == node_id).first()
        if node is None:
            raise NotFound("node_not_found")
        where &= Person.home.path.like(f"{node['path']}%")
    if colour:
        holders = [r["holder"] for r in await Account.select(Account.holder).where(
            (Account.colour == colour) & (Account.kind == "person"))]
        if not holders:
            return [], 0, 1
        where &= Person.id.is_in(holders)
    total = await Person.count().where(where)
    rows = await Person.select(
        Person.id, Person.name, Person.phone, Person.is_party_member, Person.home.name.as_alias("home_name"),
        Person.home.parent.name.as_alias("building_name"), Person.community.name.as_alias("community_name"),
    ).where(where).order_by(Person.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    accounts: dict[int, list[dict]] = {}
    if rows:
        for a in await Account.select(Account.id, Account.holder, Account.colour, Account.kind, Account.balance).where(
                Account.holder.is_in([r["id"] for r in rows])).order_by(Account.id):
            accounts.setdefault(a["holder"], []).append(a)
    for r in rows:
        r["accounts"] = accounts.get(r["id"], [])
    return rows, total, max(1, -(-total // PAGE_SIZE))


async def person_detail(person_id: int) -> dict:
    from backend.people.tables import Person

    person = await Person.select(Person.all_columns(), Person.home.path.as_alias("home_path")).where(Person.id == person_id).first()
    if person is None:
        raise NotFound("person_not_found")
    ids = [int(p) for p in person["home_path"].strip("/").split("/")]
    places = {r["id"]: r for r in await Node.select(Node.id, Node.kind, Node.name).where(Node.id.is_in(ids))}
    person["places"] = [places[i] for i in ids if i in places]
    return person
