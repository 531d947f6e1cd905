"""Bringing existing residents in from an Excel or CSV sheet: upload, preview, commit."""
