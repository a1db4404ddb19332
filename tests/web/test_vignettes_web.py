"""The label vignettes through the running server: the JSON API answers exactly what the core
answers (422 naming the field for an impossible input), and the result page puts the answer first
(planned, held start or no plan, with the reasons) and echoes the inputs it used."""

from __future__ import annotations

import json
import re
from html import escape

import httpx
import pytest

from gabaguide.domain import Assessment
from gabaguide.knowledge import load_knowledge
from tests.vignettes import Vignette, answer, vignettes
from tests.web.users import post_form

K = load_knowledge()
ROWS = vignettes()
HEADINGS = {
    "planned": "Plan made",
    "held": "Held start only",
    "not-planned": "No plan",
    "not-asked": "Review",
}


@pytest.mark.parametrize("v", ROWS, ids=lambda v: v.id)
def test_the_api_gives_the_core_answer(client: httpx.Client, v: Vignette) -> None:
    r = client.post("/api/v1/assess", json=v.patient)
    got = answer(K, v)
    if "error" in v.expect:
        assert r.status_code == 422, r.text
        assert any(v.expect["error"] in e["field"] + e["message"] for e in r.json()["errors"])
        return
    assert r.status_code == 200, r.text
    assert isinstance(got, Assessment)
    assert r.json() == json.loads(got.model_dump_json())


FORM_CASES = {
    "allergy-start": {
        "age_years": "50",
        "crcl_ml_min": "90",
        "indication": "postherpetic neuralgia",
        "allergies": "gabapentin (DRESS)",
    },
    "unknown-78": {"age_years": "78", "sex": "female", "indication": "postherpetic neuralgia"},
    "hd-crcl-10-col3": {
        "age_years": "60",
        "crcl_ml_min": "10",
        "dialysis": "hemodialysis",
        "dialysis_days": "Monday, wed, Fri.",  # full names and abbreviations are both read
        "dialysis_end": "12:00",
        "start_date": "2026-12-07",
        "indication": "PHN",
        "target_daily_mg": "1800",
    },
    "child-raised-creatinine": {
        "age_years": "9",
        "weight_kg": "28",
        "creatinine_value": "1.4",
        "creatinine_unit": "mg/dL",
        "indication": "partial-onset seizures",
    },
    "grid-30-59-col3": {
        "age_years": "55",
        "crcl_ml_min": "45",
        "dialysis": "none",
        "indication": "postherpetic neuralgia",
        "target_daily_mg": "1800",
    },
}


@pytest.mark.parametrize("case", sorted(FORM_CASES), ids=str)
def test_the_result_page_says_the_answer_first(client: httpx.Client, case: str) -> None:
    v = next(v for v in ROWS if v.id == case)
    got = answer(K, v)
    assert isinstance(got, Assessment)
    r = post_form(client, "/assess", "/assess", {"goal": "start", **FORM_CASES[case]})
    assert r.status_code == 200, r.text
    html = r.text
    answer_at = html.index('id="answer"')
    assert answer_at < html.index('id="findings-h"'), "the answer comes before the findings"
    heading = re.search(r'<h2 id="answer-h">([^<]+)</h2>', html)
    assert heading is not None
    assert heading.group(1) == HEADINGS[got.plan_status]
    assert 'id="inputs-used"' in html
    for used in got.inputs:  # the form spells the indication out in full
        if used.field != "indication":
            assert f"<dt>{used.field}</dt><dd>{escape(used.value, quote=False)}</dd>" in html
    if got.plan_status == "not-planned":
        assert 'id="titration-table"' not in html
        assert "Use this plan in my diary" not in html
    if got.plan is not None and got.plan.dialysis_supplement is not None:
        assert "After each hemodialysis session: 200 mg (mon, wed, fri at 12:00)" in html
        assert "After dialysis" in html  # the plan chart's phase
    if got.plan is not None and got.plan.renal_column is not None:
        assert escape(got.plan.renal_column.text, quote=False) in html
