"""The domain layer: pure Python (stdlib only), no I/O, no frameworks.

The import rule (docs/architecture.md) forbids any import of SQLAlchemy, FastAPI, Typer,
pydantic or ``puhui.adapters`` / ``puhui.services`` from here; ``tests/unit/test_import_rule.py``
and ``lint-imports`` enforce it.
"""
