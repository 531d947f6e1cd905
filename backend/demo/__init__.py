"""A believable demo community (红旗街道: 东园社区 and 西园社区) built from the seed reports.

`build_plan()` is pure and deterministic; `load_demo()` writes it through the real services.
"""
from backend.demo.loader import DEMO_PASSWORD, DemoSummary, demo_loaded, load_demo

__all__ = ["DEMO_PASSWORD", "DemoSummary", "demo_loaded", "load_demo"]
