"""Security headers on every answer (pages with charts get their own script policy), and the
access-log filter that keeps typed text out of the logs."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

CSP = (
    "default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Vega compiles chart expressions with the Function constructor, and the bundle vl-convert makes
# does not expose Vega's expression interpreter: pages with charts allow 'unsafe-eval' (still no
# inline or third-party script).
CHART_PAGE_CSP = CSP.format(script="'self' 'unsafe-eval'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP.format(script="'self'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


SECRET_PATHS = ("/calendar/", "/cds/plans/")
"""Paths whose last part is a secret (a calendar feed's or a CDS plan link's token): logged
without it."""


def drop_query_strings(record: logging.LogRecord) -> bool:
    """A filter for uvicorn's access log: paths without their query strings, which can hold what a
    prescriber typed (medicine look-ups), and without the tokens of private calendar feeds.
    Request bodies are never logged."""
    if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
        path = record.args[2].split("?", 1)[0]
        for prefix in SECRET_PATHS:
            if path.startswith(prefix):
                path = prefix + "<token>"
        record.args = (*record.args[:2], path, *record.args[3:])
    return True


def access_log_filter() -> Callable[[logging.LogRecord], bool]:
    """The filter above, for logging.config (each worker process configures its own logging)."""
    return drop_query_strings


def access_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the access-log filter on the access handler."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"private": {"()": "gabaguide.web.security.access_log_filter"}}
    config["handlers"]["access"]["filters"] = ["private"]
    return config
