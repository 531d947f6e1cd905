"""Who may do what. Roles are granted on a community node and cover everything below it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.errors import PermissionDenied

ROLES = ("resident", "station_operator", "merchant_clerk", "reviewer", "community_admin", "district_admin")
STAFF_ROLES = ROLES[1:]

# capability -> roles that hold it; anything not listed is denied
CAPABILITIES: dict[str, frozenset[str]] = {
    "me.view": frozenset({"resident"}),
    "staff.view": frozenset(STAFF_ROLES),
    "people.view": frozenset({"reviewer", "community_admin", "district_admin"}),
    "ledger.adjust": frozenset({"community_admin", "district_admin"}),
    "ledger.reverse": frozenset({"community_admin", "district_admin"}),
    "people.import": frozenset({"community_admin", "district_admin"}),
    "audit.view": frozenset({"community_admin", "district_admin"}),
    "stations.manage": frozenset({"station_operator", "community_admin", "district_admin"}),
    # service cards (backend/servicecards): issue, replace, print, write NFC tags, reset PINs
    "cards.issue": frozenset({"station_operator", "community_admin", "district_admin"}),
    # say which card a photo shows
    "cards.identify": frozenset({"station_operator", "reviewer", "community_admin", "district_admin"}),
    # events (backend/events): create and cancel them, see the roster
    "events.manage": frozenset({"station_operator", "community_admin", "district_admin"}),
    # redemption (backend/redemption): the points shop's goods and stock; when it redeems (windows); merchants'
    # offers and statements (a clerk: only their own merchant's, checked in the service); a clerk pairing the
    # tills that pay their merchant (stations.manage stays with station staff)
    "shop.manage": frozenset({"station_operator", "community_admin", "district_admin"}),
    "shop.windows": frozenset({"community_admin", "district_admin"}),
    "offers.manage": frozenset({"merchant_clerk", "community_admin", "district_admin"}),
    "merchant.statement": frozenset({"merchant_clerk", "community_admin", "district_admin"}),
    "tills.pair": frozenset({"merchant_clerk"}),
    # the points catalogue (backend/catalog): categories, items, caps, dated revision sets
    "catalog.manage": frozenset({"community_admin", "district_admin"}),
    # the review committee's weekly queue of claims (backend/claims); the admin sits on the committee too
    "claims.review": frozenset({"reviewer", "community_admin", "district_admin"}),
    # standings (backend/standings): residents see the boards (masked) and their own rank; staff run the boards,
    # exports, the star rule, the quarter's red-flag grids, the yearly awards and the public screen's address
    "standings.view": frozenset({"resident"}),
    "standings.manage": frozenset({"community_admin", "district_admin"}),
    # scans flagged by the offline conflict policy (backend/scans/flagged.py): see them, accept or reverse them
    "scans.review": frozenset({"station_operator", "community_admin", "district_admin"}),
    # in-service party members' monthly home check-in (backend/inservice): the register, projects, the monthly
    # list and the yearly reports; station staff register members at the counter
    "inservice.manage": frozenset({"station_operator", "community_admin", "district_admin"}),
    # micro-wishes (backend/wishes): residents post their needs and take others' from the board as volunteers;
    # station and community staff post for residents without a smartphone, dispatch, and watch the 2341 clocks
    "wishes.post": frozenset({"resident"}),
    "wishes.take": frozenset({"resident"}),
    "wishes.dispatch": frozenset({"station_operator", "community_admin", "district_admin"}),
    # the work calendar is one for every community (the State Council's holidays), so the district keeps it
    "wishes.calendar": frozenset({"district_admin"}),
    # the monthly public notice (backend/notices): close a month, publish, resolve objections, finalise
    "notices.manage": frozenset({"community_admin", "district_admin"}),
}

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class Grant:
    role: str
    node_path: str


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the domain sees it."""

    user_id: int
    display_name: str
    person_id: int | None
    grants: tuple[Grant, ...]

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(g.role for g in self.grants) | ({"resident"} if self.person_id else frozenset())

    def can(self, capability: str) -> bool:
        return bool(self.roles & CAPABILITIES.get(capability, frozenset()))

    def can_at(self, capability: str, node_path: str) -> bool:
        """Holds `capability` through a grant on `node_path` or one of its ancestors."""
        allowed = CAPABILITIES.get(capability, frozenset())
        return any(g.role in allowed and node_path.startswith(g.node_path) for g in self.grants)

    def scope_paths(self, capability: str) -> list[str]:
        allowed = CAPABILITIES.get(capability, frozenset())
        return [g.node_path for g in self.grants if g.role in allowed]


def require_scope(principal: Principal, capability: str, node_path: str) -> None:
    """Staff act only inside the part of the tree they were granted."""
    if not principal.can_at(capability, node_path):
        raise PermissionDenied("other_community")


def login_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


def after_failed_login(failed: int, now: datetime) -> tuple[int, datetime | None]:
    """Count the failure; lock for a while once there are too many in a row."""
    failed += 1
    return (0, now + LOCKOUT) if failed >= MAX_FAILED_LOGINS else (failed, None)


def mask_name(name: str) -> str:
    """张三 -> 张*, 张小明 -> 张*明, 欧阳小明 -> 欧**明; Latin names keep their first letter."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
