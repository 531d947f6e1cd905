from piccolo.columns import JSON, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.community.tables import Node
from backend.people.tables import User


class ImportBatch(Table, tablename="import_batch"):
    """An uploaded sheet waiting for commit; rows are kept parsed so the commit needs no re-upload."""

    filename = Varchar(length=200)
    community = ForeignKey(Node)
    uploaded_by = ForeignKey(User)
    # previewed | committed | failed in the database; "committing" exists only in the committing process's memory
    # (the commit is one transaction, see backend/imports/service.py)
    state = Varchar(length=16, default="previewed")
    rows = JSON(default=[])
    error_count = Integer(default=0)
    row_count = Integer(default=0)
    created_count = Integer(default=0)
    # the reason code of a failed commit (nothing was written)
    failure = Varchar(length=48, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
