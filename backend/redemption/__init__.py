"""Redemption: the points shop's goods, alliance merchants' offers, redemption windows, merchant statements."""
