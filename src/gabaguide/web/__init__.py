"""The web shell: FastAPI pages, JSON API and education pages over the same core as the CLI."""

from __future__ import annotations

from gabaguide.web.app import create_app
from gabaguide.web.settings import Settings

__all__ = ["Settings", "create_app"]
