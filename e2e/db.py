"""Reading the server's SQLite file directly: the ground truth a browser test checks the screens against."""
import sqlite3


def query(server, sql: str, *params):
    path = server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def balances_of(server, username: str) -> dict[int, int]:
    rows = query(server, "SELECT a.id, a.balance FROM points_account a JOIN app_user u ON u.person = a.holder "
                         "WHERE u.username = ? ORDER BY a.id", username)
    return dict(rows)
