"""`linli ledger verify` checks the monthly notices' fingerprint chain: a ledger row of a closed month changed
afterwards makes it exit 1 and say which notice no longer matches."""
from datetime import datetime, timezone

import pytest

from backend.ledger.tables import LedgerTransaction
from backend.notices import service as notices
from tests import factories as f
from tests.integration.test_cli import linli

pytestmark = pytest.mark.db


async def test_ledger_verify_fails_once_a_closed_month_is_rewritten(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    _, alice = await f.person_account("王小明", t["unit"], t["c1"])
    recorded = await f.award(issuer, alice, 20, t["c1"])  # 1 November
    admin = await f.admin_principal(t["c1"])
    notice_id = await notices.close_month(admin, t["c1"], "2026-11", datetime(2026, 12, 3, tzinfo=timezone.utc))

    ok = linli("ledger", "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "ledger OK: 2 accounts, 1 transactions, 1 monthly notice fingerprint(s) match"

    # both postings changed together: the transaction still sums to zero, only the fingerprint can tell
    await clean_db.run_ddl(f"UPDATE ledger_posting SET amount = amount * 3 WHERE txn = {recorded.transaction_id}")
    await clean_db.run_ddl(f"UPDATE points_account SET balance = balance * 3 WHERE id IN ({issuer}, {alice})")
    bad = linli("ledger", "verify")
    assert bad.returncode == 1
    assert f"fingerprint_mismatch: monthly notice {notice_id} (community {t['c1']}, 2026-11)" in bad.stdout
    assert "balance_mismatch" not in bad.stdout
    assert "1 problem" in bad.stderr

    await clean_db.run_ddl(f"UPDATE ledger_posting SET amount = amount / 3 WHERE txn = {recorded.transaction_id}")
    await clean_db.run_ddl(f"UPDATE points_account SET balance = balance / 3 WHERE id IN ({issuer}, {alice})")
    assert linli("ledger", "verify").returncode == 0
    # moving the deed out of the closed month is caught too
    await LedgerTransaction.raw("UPDATE ledger_transaction SET occurred_at = {} WHERE id = {}",
                                datetime(2026, 12, 2, tzinfo=timezone.utc), recorded.transaction_id)
    assert linli("ledger", "verify").returncode == 1
