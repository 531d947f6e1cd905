"""Linli backend: domain packages (one piccolo app each) and the Litestar web layer."""
import os

# piccolo finds its engine and apps through this module; set it before any table is imported.
os.environ.setdefault("PICCOLO_CONF", "backend.piccolo_conf")
