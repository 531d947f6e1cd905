"""In-service party members\x27 monthly home check-in (在职党员 "双报到" / "回家报到")."""
