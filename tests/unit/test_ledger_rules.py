from datetime import datetime, timezone

import pytest

from backend.errors import Conflict, InvalidInput
from backend.ledger import rules
from backend.ledger.rules import PostingDraft as P
from backend.ledger.rules import TransactionDraft

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def draft(*postings, memo="why", kind="award", occurred_at=NOW):
    return TransactionDraft(kind=kind, memo=memo, idempotency_key="k", community_id=1, occurred_at=occurred_at, postings=postings)


def test_a_balanced_draft_passes():
    rules.check_draft(draft(P(1, -10), P(2, 10)))
    rules.check_draft(draft(P(1, -10), P(2, 4), P(3, 6)))


@pytest.mark.parametrize(
    ("postings", "code"),
    [
        ((P(1, -10), P(2, 9)), "unbalanced"),
        ((P(1, 0), P(2, 0)), "bad_amount"),
        ((P(1, 10),), "unbalanced"),
        ((P(1, -10), P(1, 10)), "duplicate_account"),
        ((P(1, -1.5), P(2, 1.5)), "bad_amount"),
        ((P(1, True), P(2, -1)), "bad_amount"),
        ((P(1, -2_000_000), P(2, 2_000_000)), "bad_amount"),
    ],
)
def test_bad_postings_are_refused_with_a_reason(postings, code):
    with pytest.raises(InvalidInput) as err:
        rules.check_draft(draft(*postings))
    assert err.value.code == code


def test_memo_is_mandatory_and_time_must_be_aware():
    with pytest.raises(InvalidInput, match="memo_required"):
        rules.check_draft(draft(P(1, -1), P(2, 1), memo="  "))
    with pytest.raises(InvalidInput, match="naive_time"):
        rules.check_draft(draft(P(1, -1), P(2, 1), occurred_at=datetime(2026, 1, 1)))
    with pytest.raises(InvalidInput, match="unknown_kind"):
        rules.check_draft(draft(P(1, -1), P(2, 1), kind="gift"))


def test_reversal_negates_and_can_happen_once():
    assert rules.reversal_postings([P(1, -5), P(2, 5)]) == (P(1, 5), P(2, -5))
    rules.check_reversible("award", already_reversed=False)
    with pytest.raises(Conflict, match="reversal_of_reversal"):
        rules.check_reversible("reversal", already_reversed=False)
    with pytest.raises(Conflict, match="already_reversed"):
        rules.check_reversible("award", already_reversed=True)


def test_balance_deltas_come_in_account_order():
    assert rules.balance_deltas((P(9, -3), P(2, 1), P(5, 2))) == [(2, 1), (5, 2), (9, -3)]
