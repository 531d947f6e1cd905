from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

from backend.ledger.migrations.ledger_2026_11_21t21_10_00_000000 import CREATE as CREATE_ASSERT

ID = "2026-11-21T23:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "PostgreSQL: linli_move_balances(moves), a group's balance moves by the primary key, in id order"


class LedgerTransaction(Table, tablename="ledger_transaction"):
    pass


# A group of scans' end statement (backend.db._finish_group) moves the balances of the accounts its scans credited.
# As a join of the moves' JSON rows with points_account, the planner took the JSON's default estimate (100 rows)
# and chose a sequential scan of every account, twice (the locks, then the update) at each group; this moves one
# account a statement, by its primary key, whatever the table's size. The order (by id) is the order concurrent
# groups lock accounts in, so that they never wait for each other crosswise; an account closed meanwhile makes the
# whole statement fail (the group then runs again, each scan writing as it goes, and is refused on its own).
CREATE = """CREATE OR REPLACE FUNCTION linli_move_balances(moves json)
RETURNS TABLE (account integer, balance integer) LANGUAGE plpgsql ROWS 4 AS $$
DECLARE
    move record;
BEGIN
    FOR move IN SELECT m.account, m.delta FROM json_to_recordset(moves) AS m(account integer, delta integer)
                ORDER BY m.account LOOP
        UPDATE points_account p SET balance = p.balance + move.delta WHERE p.id = move.account AND p.active
            RETURNING p.id, p.balance INTO account, balance;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'linli_move_balances: account % is closed or gone', move.account
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEXT;
    END LOOP;
END $$"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def create():
        if isinstance(LedgerTransaction._meta.db, PostgresEngine):
            await LedgerTransaction.raw(CREATE)
            # its one caller (the group's end statement) now fails through linli_move_balances itself
            await LedgerTransaction.raw("DROP FUNCTION IF EXISTS linli_assert(boolean, text)")

    async def drop():
        if isinstance(LedgerTransaction._meta.db, PostgresEngine):
            await LedgerTransaction.raw(CREATE_ASSERT)
            await LedgerTransaction.raw("DROP FUNCTION IF EXISTS linli_move_balances(json)")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
