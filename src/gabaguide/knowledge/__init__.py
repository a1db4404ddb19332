"""The cited knowledge base: data files under ``data/`` plus the loader that validates them."""

from __future__ import annotations

from functools import cache

from gabaguide.knowledge.loader import load_from, packaged_data
from gabaguide.knowledge.model import Knowledge, normalise

__all__ = ["Knowledge", "load_from", "load_knowledge", "normalise"]


@cache
def load_knowledge() -> Knowledge:
    """The packaged knowledge base, loaded and checked once per process."""
    return load_from(packaged_data())
