"""Stations, pairing a device by a one-time code, and recognising a paired device on every request."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.catalog.tables import Item
from backend.community.tables import Node
from backend.db import TTLCache, atomic, fetchrow
from backend.errors import InvalidInput, NotFound, PermissionDenied
from backend.people.rules import Principal, require_scope
from backend.stations import rules
from backend.stations.tables import Device, PairingCode, Station


@dataclass(frozen=True)
class PairedDevice:
    device_id: int
    station_id: int
    name: str
    station_name: str
    community_id: int


async def create_station(principal: Principal, community_id: int, name: str, kind: str, modes: list[str],
                         award_items: list[int] | None = None, receiving_account_id: int | None = None,
                         pin_threshold: int | None = 50, offline_limit: int = 0) -> int:
    node = await Node.select(Node.path, Node.kind).where(Node.id == community_id).first()
    if node is None or node["kind"] != "community":
        raise NotFound("node_not_found")
    require_scope(principal, "stations.manage", node["path"])
    receiving_kind = None
    if receiving_account_id is not None:
        account = await Account.select(Account.kind).where(
            (Account.id == receiving_account_id) & (Account.community == community_id) & (Account.active == True)  # noqa: E712
        ).first()
        receiving_kind = account["kind"] if account else ""
    problem = rules.station_problem(name, kind, modes, award_items or [], set(await _community_items(community_id)),
                                    receiving_kind, pin_threshold, offline_limit)
    if problem:
        raise InvalidInput(problem[0], field=problem[1])
    async with atomic():
        station_id = (await Station.insert(Station(
            name=name.strip(), community=community_id, kind=kind, modes=rules.clean_modes(modes),
            award_items=award_items or [], receiving_account=receiving_account_id, pin_threshold=pin_threshold,
            offline_limit=offline_limit)))[0]["id"]
        await audit.log(principal.user_id, "station.create", "station", station_id, community_id,
                        after={"name": name, "kind": kind, "modes": modes})
    return station_id


async def _community_items(community_id: int) -> list[int]:
    rows = await Item.select(Item.id).where((Item.category.community == community_id) & (Item.active == True))  # noqa: E712
    return [r["id"] for r in rows]


async def communities_in(scope_paths: list[str]) -> list[dict]:
    """The communities a member of staff may set up stations in: those at or below their grants."""
    rows = await Node.select(Node.id, Node.name, Node.path).where(Node.kind == "community").order_by(Node.id)
    return [r for r in rows if any(r["path"].startswith(p) for p in scope_paths)]


async def station_choices(community_id: int, day: date) -> dict:
    """What a new station of this community can be given: its catalogue items in force on `day`, and the
    accounts that may receive redeemed points (its points shop and its merchants)."""
    from backend.catalog import service as catalog

    items = await catalog.items_in_force(await _community_items(community_id), day)
    accounts = await Account.select(Account.id, Account.kind, Account.name).where(
        (Account.community == community_id) & Account.kind.is_in(list(rules.RECEIVING_KINDS)) & (Account.active == True)  # noqa: E712
    ).order_by(Account.kind, Account.id)
    return {"items": items, "accounts": accounts}


async def station(station_id: int) -> dict:
    row = await Station.select(Station.all_columns(), Station.community.path.as_alias("community_path"),
                               Station.community.name.as_alias("community_name")).where(
        Station.id == station_id).output(load_json=True).first()
    if row is None:
        raise NotFound("station_not_found")
    return row


async def stations_in(scope_paths: list[str]) -> list[dict]:
    rows = await Station.select(Station.all_columns(), Station.community.path.as_alias("community_path"),
                                Station.community.name.as_alias("community_name")).order_by(Station.id).output(load_json=True)
    return [r for r in rows if any(r["community_path"].startswith(p) for p in scope_paths)]


async def devices_of(station_id: int) -> list[dict]:
    return await Device.select().where(Device.station == station_id).order_by(Device.id)


async def new_pairing_code(principal: Principal, station_id: int, device_name: str, now: datetime) -> str:
    """A one-time code, shown to staff as a QR the new device scans; only its hash is stored."""
    found = await station(station_id)
    if not (principal.can_at("stations.manage", found["community_path"]) or await _pays_clerk(principal, found)):
        raise PermissionDenied("other_community")
    if not device_name.strip():
        raise InvalidInput("name_required", field="device_name")
    code = secrets.token_urlsafe(12)
    async with atomic():
        code_id = (await PairingCode.insert(PairingCode(
            station=station_id, code_hash=rules.digest(code), device_name=device_name.strip()[:64],
            created_by=principal.user_id, expires_at=now + rules.PAIRING_LIFETIME)))[0]["id"]
        await audit.log(principal.user_id, "device.pairing_code", "station", station_id, found["community"],
                        after={"code": code_id, "name": device_name.strip()[:64]})
    return code


async def _pays_clerk(principal: Principal, found: dict) -> bool:
    """A merchant's clerk pairs the tills whose points go to their own merchant account, and no other station."""
    from backend.people.tables import RoleGrant

    if found["receiving_account"] is None or not principal.can_at("tills.pair", found["community_path"]):
        return False
    return await RoleGrant.exists().where(
        (RoleGrant.user == principal.user_id) & (RoleGrant.role == "merchant_clerk")
        & (RoleGrant.merchant_account_id == found["receiving_account"]))


async def pairing_info(code: str, now: datetime) -> dict:
    row = await PairingCode.select(PairingCode.all_columns(), PairingCode.station.name.as_alias("station_name")).where(
        PairingCode.code_hash == rules.digest(code)).first()
    if row is None:
        raise NotFound("pairing_unknown")
    problem = rules.pairing_usable(row["expires_at"], row["used_at"], now)
    if problem:
        raise PermissionDenied(problem)
    return row


async def pair(code: str, now: datetime) -> str:
    """Use the code once; return the device credential "<id>.<secret>" the device keeps."""
    async with atomic():
        row = await pairing_info(code, now)
        # the conditional update makes "once" hold even when two devices race for the same code
        used = await PairingCode.update({PairingCode.used_at: now}).where(
            (PairingCode.id == row["id"]) & PairingCode.used_at.is_null()).returning(PairingCode.id)
        if not used:
            raise PermissionDenied("pairing_used")
        secret = secrets.token_urlsafe(32)
        device_id = (await Device.insert(Device(station=row["station"], name=row["device_name"],
                                                credential_hash=rules.digest(secret), paired_at=now,
                                                paired_by=row["created_by"])))[0]["id"]
        await audit.log(row["created_by"], "device.pair", "device", device_id, None,
                        after={"station": row["station"], "name": row["device_name"]})
    return f"{device_id}.{secret}"


# Every scan request names its device: recognised devices (and stations) are kept for a second. Revoking a
# device here forgets them at once; another server process refuses a revoked device within CACHE_SECONDS.
CACHE_SECONDS = 1.0
_devices = TTLCache(CACHE_SECONDS)
_stations = TTLCache(CACHE_SECONDS)


def forget_devices() -> None:
    _devices.forget()
    _stations.forget()


async def device_from_credential(credential: str, now: datetime) -> PairedDevice:
    cached = _devices.get(credential)
    if cached is not None and not rules.seen_is_stale(cached[1], now):
        return cached[0]
    device_id, _, secret = credential.partition(".")
    if not device_id.isdigit() or not secret:
        raise PermissionDenied("device_unknown")
    row = await fetchrow(
        "SELECT d.id, d.name, d.station, d.revoked_at, d.credential_hash, d.last_seen_at, s.name AS station_name,"
        " s.community AS community, s.active AS station_active"
        " FROM station_device d JOIN station s ON s.id = d.station WHERE d.id = ?", int(device_id))
    if row is None or not secrets.compare_digest(row["credential_hash"], rules.digest(secret)):
        raise PermissionDenied("device_unknown")
    if row["revoked_at"] is not None or not row["station_active"]:
        raise PermissionDenied("device_revoked")
    last_seen = row["last_seen_at"]
    if rules.seen_is_stale(last_seen, now):
        await Device.update({Device.last_seen_at: now}).where(Device.id == row["id"])
        last_seen = now
    device = PairedDevice(row["id"], row["station"], row["name"], row["station_name"], row["community"])
    _devices.put(credential, (device, last_seen))
    return device


async def station_row(station_id: int) -> dict | None:
    """The station as a scan judges it (modes, award items, PIN threshold …), cached like devices."""
    found = _stations.get(station_id)
    if found is None:
        found = await fetchrow("SELECT * FROM station WHERE id = ?", station_id)
        if found is None:
            return None
        for column in ("modes", "award_items"):
            if isinstance(found[column], str):
                found[column] = json.loads(found[column])
        _stations.put(station_id, found)
    return found


async def revoke_device(principal: Principal, device_id: int, now: datetime) -> None:
    row = await Device.select(Device.id, Device.station, Device.station.community.path.as_alias("path"),
                              Device.station.community.as_alias("community")).where(Device.id == device_id).first()
    if row is None:
        raise NotFound("device_unknown")
    require_scope(principal, "stations.manage", row["path"])
    async with atomic():
        await Device.update({Device.revoked_at: now}).where((Device.id == device_id) & Device.revoked_at.is_null())
        await audit.log(principal.user_id, "device.revoke", "device", device_id, row["community"])
    forget_devices()  # refused from the next request on, in this process
