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
