"""The only package that knows HTTP: access guard, error mapping, language, shared page routes."""
