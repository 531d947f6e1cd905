"""The append-only double-entry points ledger."""
