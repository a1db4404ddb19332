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


def merge_duplicates(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per code: later findings of a code add their summary, detail and citations to
    the first (in order of appearance), at the highest severity among them."""
    merged: dict[str, Finding] = {}
    for f in findings:
        first = merged.get(f.code)
        if first is None:
            merged[f.code] = f
            continue
        if f.summary in first.summary and f.detail in first.detail:
            continue
        severity = max(first.severity, f.severity, key=lambda s: SEVERITY_ORDER[s])
        merged[f.code] = first.model_copy(
            update={
                "severity": severity,
                "summary": f"{first.summary} {f.summary}",
                "detail": f"{first.detail} {f.detail}",
                "citations": tuple(dict.fromkeys((*first.citations, *f.citations))),
            }
        )
    return list(merged.values())
