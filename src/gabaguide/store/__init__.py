"""Storage: SQLAlchemy tables, Alembic migrations and the repositories the web app uses.

SQLite (a file) is the embedded default; PostgreSQL (``postgresql://``) is supported and tested
against a real server. Nothing here knows about HTTP, and nothing clinical is decided here.
"""

from __future__ import annotations

from gabaguide.store.db import Store, open_store

__all__ = ["Store", "open_store"]
