"""Adapters: database, web, CLI, crypto, providers — the edges of the platform."""
