"""Fetch what the EHR did not prefetch from its FHIR server, as CDS Hooks 2.0 allows.

The access token is sent only to the request's ``fhirServer``, never logged and never stored. The
fetches share one time budget; anything that fails or times out makes the data unobtainable, and
the service answers 412.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx


class UnobtainableError(Exception):
    """Required data is neither prefetched nor fetchable: answered 412, naming the keys."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


def fill(template: str, context: Mapping[str, Any]) -> str:
    """A prefetch template with its ``{{context.x}}`` tokens replaced."""
    out = template
    for name, value in context.items():
        if isinstance(value, str):
            out = out.replace("{{context." + name + "}}", value)
    return out


def fetch(
    server: str,
    token: str,
    queries: Mapping[str, str],
    budget_s: float,
) -> dict[str, Any]:
    """GET each query (relative to ``server``) with the bearer token, within ``budget_s`` in all."""
    deadline = time.monotonic() + budget_s
    found: dict[str, Any] = {}
    failed: list[str] = []
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    with httpx.Client(headers=headers, follow_redirects=False) as client:
        for key, query in queries.items():
            left = deadline - time.monotonic()
            if left <= 0:
                failed.append(key)
                continue
            try:
                response = client.get(f"{server.rstrip('/')}/{query}", timeout=left)
                if response.status_code == 404 and key == "patient":
                    failed.append(key)
                    continue
                response.raise_for_status()
                found[key] = response.json()
            except (httpx.HTTPError, ValueError):
                failed.append(key)
    if failed:
        raise UnobtainableError(failed)
    return found
