from piccolo.columns import ForeignKey, Varchar
from piccolo.table import Table


class Node(Table, tablename="community_node"):
    """One place in the tree. `path` ("/1/4/9/") makes "everything below" a prefix match."""

    kind = Varchar(length=16)
    name = Varchar(length=100)
    parent = ForeignKey("self", null=True)
    path = Varchar(length=255, index=True)
