"""Scans: every card scan at a station, accepted or refused, stored with its reason; the hot path."""
