"""Building findings: the code's severity comes from the knowledge base's catalogue."""

from __future__ import annotations

from collections.abc import Iterable

from gabaguide.domain import SEVERITY_ORDER, Citation, Finding, Severity
from gabaguide.knowledge import Knowledge


def finding(
    k: Knowledge,
    code: str,
    summary: str,
    detail: str,
    citations: Iterable[Citation],
    severity: Severity | None = None,
) -> Finding:
    """A finding with the catalogue's severity for ``code`` (a KeyError means an unknown code)."""
    kind = k.finding_kind[code]
    return Finding(
        code=code,
        severity=severity or kind.severity,
        summary=summary,
        detail=detail,
        citations=tuple(dict.fromkeys(citations)),
    )


def by_severity(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Most severe first; stable within a severity."""
    return tuple(sorted(findings, key=lambda f: -SEVERITY_ORDER[f.severity]))
