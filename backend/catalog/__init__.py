"""The points catalogue: categories, items and their value revisions with effective dates."""
