"""Service cards (便民服务卡) and the Ed25519 keys that sign their codes."""
from piccolo.columns import ForeignKey, Integer, SmallInt, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.people.tables import User


class SigningKey(Table, tablename="card_signing_key"):
    """One Ed25519 key. New cards use the newest key that is not retired; every key not retired verifies.

    The private key sits in the database, protected by database access only. Production would keep it in a
    KMS or HSM and sign there; the service reads it in one place (`service._signing_key`) to make that swap easy.
    """

    key_id = SmallInt(unique=True)  # 0..255: one byte in every token
    private_key = Varchar(length=64)  # 32 raw bytes, hex
    public_key = Varchar(length=64)  # 32 raw bytes, hex
    created_at = Timestamptz(default=TimestamptzNow())
    retired_at = Timestamptz(null=True, default=None)


class Card(Table, tablename="service_card"):
    """A card of a points account. The code on it is sign_card(card_id, key_id): rebuilt on demand, never stored."""

    card_id = Varchar(length=16, unique=True)  # the 8 random bytes of the token, hex
    serial = Integer(unique=True)  # random 9-digit number; card number = serial + Damm check digit
    account = ForeignKey(Account, index=True)
    state = Varchar(length=8, default="active")  # active | revoked
    key_id = SmallInt()
    issued_at = Timestamptz(default=TimestamptzNow())
    issued_by = ForeignKey(User, null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    revoke_reason = Varchar(length=16, null=True, default=None)  # lost | replaced | staff
    replaced_by = ForeignKey("self", null=True, default=None)
    pin_hash = Varchar(length=200, null=True, default=None)  # argon2
    pin_failures = Integer(default=0)  # wrong PINs in a row
    pin_locked_until = Timestamptz(null=True, default=None)
