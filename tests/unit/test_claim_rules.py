"""The claims' pure rules: deed-date limits, who may review, two reviewers for large claims, building leads."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from backend.claims import rules
from backend.claims.rules import ClaimState
from backend.errors import Conflict, InvalidInput

TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(("deed", "code"), [
    (TODAY, None),
    (date(2026, 9, 22), None),  # exactly 60 days ago
    (date(2026, 9, 21), "deed_too_old"),
    (date(2026, 11, 22), "deed_in_future"),
])
def test_deed_date_limits(deed, code):
    if code is None:
        rules.check_deed_date(deed, TODAY)
        return
    with pytest.raises(InvalidInput) as caught:
        rules.check_deed_date(deed, TODAY)
    assert (caught.value.code, caught.value.params["field"]) == (code, "deed_date")


def test_description_and_witnesses():
    rules.check_text("帮助独居老人买菜", "")
    for description, witnesses, code in (("  ", "", "description_required"), ("x" * 1001, "", "text_too_long"),
                                         ("帮忙", "x" * 201, "text_too_long")):
        with pytest.raises(InvalidInput) as caught:
            rules.check_text(description, witnesses)
        assert caught.value.code == code


def test_evidence_required_only_where_the_item_says():
    rules.check_evidence(False, False)
    rules.check_evidence(True, True)
    with pytest.raises(InvalidInput) as caught:
        rules.check_evidence(True, False)
    assert caught.value.code == "evidence_required"


# reviewer user 7 is person 70; the claim is person 30's, filed by user 3 (person 30 themself) or user 9 (a lead, person 90)
@pytest.mark.parametrize(("reviewer_user", "reviewer_person", "submitted_by", "submitter", "claimant", "conflict"), [
    (7, None, 3, 30, 30, None),
    (7, 70, 3, 30, 30, None),
    (7, 70, 9, 90, 30, None),
    (7, 70, 7, 70, 70, "own_claim"),  # their own claim, filed themselves
    (7, 70, 9, 90, 70, "own_claim"),  # their own claim, filed for them by a lead
    (7, 70, 7, 70, 30, "filed_by_reviewer"),  # filed it for someone else
    (7, None, 7, None, 30, "filed_by_reviewer"),
    (8, 90, 9, 90, 30, "filed_by_reviewer"),  # the lead reviewing under a second sign-in
])
def test_no_one_reviews_their_own_claim_or_one_they_filed(reviewer_user, reviewer_person, submitted_by, submitter, claimant,
                                                          conflict):
    assert rules.review_conflict(reviewer_user, reviewer_person, submitted_by, submitter, claimant) == conflict


PENDING = ClaimState("pending", awaiting_confirmation=False, first_reviewer=None)


def test_a_small_claim_is_approved_by_one_reviewer():
    assert rules.approval_step(PENDING, reviewer=7, points=rules.TWO_REVIEWER_POINTS - 1) == "final"


def test_a_large_claim_needs_two_different_reviewers():
    points = rules.TWO_REVIEWER_POINTS
    assert rules.approval_step(PENDING, reviewer=7, points=points) == "first"
    once = ClaimState("approved_once", False, first_reviewer=7)
    with pytest.raises(Conflict) as caught:
        rules.approval_step(once, reviewer=7, points=points)
    assert caught.value.code == "second_reviewer_needed"
    assert rules.approval_step(once, reviewer=8, points=points) == "final"


@pytest.mark.parametrize(("state", "code"), [
    (ClaimState("approved", False, None), "claim_decided"),
    (ClaimState("rejected", False, None), "claim_decided"),
    (ClaimState("declined", False, None), "claim_decided"),
    (ClaimState("pending", True, None), "claim_not_confirmed"),
])
def test_only_open_confirmed_claims_are_decided(state, code):
    with pytest.raises(Conflict) as caught:
        rules.approval_step(state, reviewer=7, points=5)
    assert caught.value.code == code
    with pytest.raises(Conflict):
        rules.check_rejection(state, "不符合条件")


def test_a_rejection_needs_a_reason():
    with pytest.raises(InvalidInput) as caught:
        rules.check_rejection(PENDING, "  ")
    assert caught.value.code == "reason_required"
    rules.check_rejection(ClaimState("approved_once", False, 7), "照片与描述不符")


def test_building_leads_file_for_their_own_building_only():
    lead_home = "/1/2/3/4/5/6/"
    building = rules.lead_building(True, ["red", "green"], lead_home)
    assert building == "/1/2/3/4/5/"
    assert rules.may_file_for(building, "/1/2/3/4/5/7/")  # the other unit of the building
    assert not rules.may_file_for(building, "/1/2/3/4/8/9/")  # the next building
    assert rules.lead_building(True, ["blue"], lead_home) is None  # no green account
    assert rules.lead_building(False, ["green"], lead_home) is None
    assert not rules.may_file_for(None, "/1/2/3/4/5/7/")


def test_weeks_start_on_monday():
    assert rules.week_start(date(2026, 11, 21)) == date(2026, 11, 16)  # a Saturday
    assert rules.week_start(date(2026, 11, 16)) == date(2026, 11, 16)


def test_a_deed_happened_at_noon_local_time():
    moment = rules.deed_moment(date(2026, 11, 20), ZoneInfo("Asia/Shanghai"))
    assert moment == datetime(2026, 11, 20, 4, 0, tzinfo=ZoneInfo("UTC"))
