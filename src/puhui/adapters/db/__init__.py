"""Persistence: SQLAlchemy 2 Core tables, explicit row<->domain mapping, the unit of work."""
