"""The monthly public notice: a frozen, fingerprinted snapshot of the month's points."""
