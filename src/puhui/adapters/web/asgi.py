"""ASGI entry point for Uvicorn: ``uvicorn puhui.adapters.web.asgi:app``."""

from puhui.adapters.web.app import create_app

app = create_app()
