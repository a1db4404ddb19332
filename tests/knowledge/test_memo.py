"""The derived-value memo is keyed by value and bounded: a long-running server that assesses patient
after patient keeps a fixed amount of memory (a memo keyed by object identity once grew by about
16 KiB per request)."""

from __future__ import annotations

import pytest

from gabaguide import assess, load_knowledge, parse_patient
from gabaguide.knowledge import model

PATIENT = {
    "age_years": 68,
    "sex": "female",
    "weight_kg": 70,
    "crcl_ml_min": 40,
    "indication": "postherpetic neuralgia",
    "medications": [{"name": "oxycodone", "dose_mg": 10, "times_per_day": 3}],
    "routine": {"start_date": "2026-12-01"},
}


def test_repeated_assessments_add_nothing_to_the_memo() -> None:
    k = load_knowledge()
    first = assess(parse_patient(PATIENT), k)
    size = len(k.memo)
    for _ in range(20):
        again = assess(parse_patient(PATIENT), k)
    assert len(k.memo) == size
    assert again == first


def test_the_memo_starts_again_past_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    k = load_knowledge()
    limit = 5
    monkeypatch.setattr(model, "MEMO_LIMIT", limit)
    for n in range(3 * limit):
        assert k.remember(("test", n), lambda n=n: n * n) == n * n
        assert len(k.memo) <= limit
    assert k.remember(("test", 3 * limit - 1), lambda: -1) == (3 * limit - 1) ** 2
