"""Pure claim decisions: which deeds can be claimed, who may review, when a claim needs two reviewers."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from backend.errors import Conflict, InvalidInput

# a deed is claimed soon after: the weekly review can still ask the witnesses
MAX_DEED_AGE_DAYS = 60
# claims worth this many points or more need two different approving reviewers
TWO_REVIEWER_POINTS = 20
MAX_DESCRIPTION = 1000
MAX_WITNESSES = 200
MAX_REASON = 500

OPEN_STATES = ("pending", "approved_once")


def check_deed_date(deed: date, today: date) -> None:
    if deed > today:
        raise InvalidInput("deed_in_future", field="deed_date")
    if deed < today - timedelta(days=MAX_DEED_AGE_DAYS):
        raise InvalidInput("deed_too_old", field="deed_date", days=MAX_DEED_AGE_DAYS)


def check_text(description: str, witnesses: str) -> None:
    if not description.strip():
        raise InvalidInput("description_required", field="description")
    if len(description.strip()) > MAX_DESCRIPTION:
        raise InvalidInput("text_too_long", field="description", max=MAX_DESCRIPTION)
    if len(witnesses.strip()) > MAX_WITNESSES:
        raise InvalidInput("text_too_long", field="witnesses", max=MAX_WITNESSES)


def check_evidence(needs_evidence: bool, has_photo: bool) -> None:
    if needs_evidence and not has_photo:
        raise InvalidInput("evidence_required", field="photo")


def building_path(home_path: str) -> str | None:
    """The building above a home: /street/community/compound/grid/building/unit/ -> its first five levels."""
    parts = home_path.strip("/").split("/")
    return "/" + "/".join(parts[:5]) + "/" if len(parts) >= 5 else None


def lead_building(is_building_lead: bool, account_colours: list[str], home_path: str) -> str | None:
    """The building a building lead (楼栋长, who holds a green account) files claims in; None for anyone else."""
    if not is_building_lead or "green" not in account_colours:
        return None
    return building_path(home_path)


def may_file_for(building: str | None, resident_home_path: str) -> bool:
    return building is not None and resident_home_path.startswith(building)


def needs_two_reviewers(points: int) -> bool:
    return points >= TWO_REVIEWER_POINTS


def review_conflict(reviewer_user: int, reviewer_person: int | None, submitted_by: int, submitted_by_person: int | None,
                    claimant: int) -> str | None:
    """No one reviews their own claim, nor one they filed for someone else (a person may have two sign-ins)."""
    if reviewer_person is not None and reviewer_person == claimant:
        return "own_claim"
    if reviewer_user == submitted_by or (reviewer_person is not None and reviewer_person == submitted_by_person):
        return "filed_by_reviewer"
    return None


@dataclass(frozen=True)
class ClaimState:
    state: str
    awaiting_confirmation: bool
    first_reviewer: int | None


def _check_open(claim: ClaimState) -> None:
    if claim.state not in OPEN_STATES:
        raise Conflict("claim_decided")
    if claim.awaiting_confirmation:
        raise Conflict("claim_not_confirmed")


def approval_step(claim: ClaimState, reviewer: int, points: int) -> str:
    """What this reviewer's approval does: "first" (a large claim's first approval) or "final" (it posts)."""
    _check_open(claim)
    if not needs_two_reviewers(points):
        return "final"
    if claim.state == "pending":
        return "first"
    if claim.first_reviewer == reviewer:
        raise Conflict("second_reviewer_needed", points=TWO_REVIEWER_POINTS)
    return "final"


def check_rejection(claim: ClaimState, reason: str) -> None:
    _check_open(claim)
    if not reason.strip():
        raise InvalidInput("reason_required", field="reason")
    if len(reason.strip()) > MAX_REASON:
        raise InvalidInput("text_too_long", field="reason", max=MAX_REASON)


def week_start(day: date) -> date:
    """The Monday of the week: the weekly review's batches."""
    return day - timedelta(days=day.weekday())


def deed_moment(deed: date, zone: tzinfo) -> datetime:
    """When the ledger says the deed happened: noon of its day, local time (the hour is not claimed)."""
    return datetime.combine(deed, time(12), tzinfo=zone)
