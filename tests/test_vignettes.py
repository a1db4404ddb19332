"""The label vignettes (``tests/cases/label``, described in ``tests/vignettes.py``): every row holds
through the core, the CLI and the diary plan; ``docs/validation.md`` is their current table; and
the CDS corrected order gives the planner's maintenance dose for an order written for normal
kidney function. The JSON API's agreement is in ``tests/web/test_vignettes_api.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gabaguide.clinical.current import corrected_regimen
from gabaguide.clinical.personal import personal_plan
from gabaguide.domain import Assessment, parse_patient
from gabaguide.errors import InputError
from gabaguide.knowledge import load_knowledge
from gabaguide.records import PlanRequest
from tests.test_cli import cli
from tests.vignettes import Vignette, answer, check, document, regimen, vignettes

K = load_knowledge()
ROWS = vignettes()
DOC = Path(__file__).parent.parent / "docs" / "validation.md"


def test_there_are_enough_vignettes_and_ids_are_unique() -> None:
    assert len(ROWS) >= 60
    assert len({v.id for v in ROWS}) == len(ROWS)


@pytest.mark.parametrize("v", ROWS, ids=lambda v: v.id)
def test_vignette(v: Vignette) -> None:
    assert check(v, answer(K, v)) == []


def test_validation_document_is_current() -> None:
    """docs/validation.md is regenerated from the vignettes: `python -m tests.vignettes`."""
    assert DOC.read_text() == document(K), "run: python -m tests.vignettes > docs/validation.md"


def test_the_cli_gives_the_same_answers() -> None:
    """All valid vignettes as JSON Lines through `gabaguide assess -`: one answer each, equal to
    the core's; each impossible one alone: exit 2 naming the field, nothing on stdout."""
    valid = [v for v in ROWS if "error" not in v.expect]
    r = cli("assess", "-", stdin="\n".join(json.dumps(v.patient) for v in valid))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(valid)
    for v, line in zip(valid, lines, strict=True):
        got = answer(K, v)
        assert isinstance(got, Assessment)
        assert json.loads(line) == json.loads(got.model_dump_json()), v.id
    for v in (v for v in ROWS if "error" in v.expect):
        r = cli("assess", "-", stdin=json.dumps(v.patient))
        assert r.returncode == 2, v.id
        assert v.expect["error"] in r.stderr
        assert "Traceback" not in r.stderr
        assert r.stdout == ""


@pytest.mark.parametrize("v", [v for v in ROWS if "error" not in v.expect], ids=lambda v: v.id)
def test_the_diary_plan_is_the_assessment_plan(v: Vignette) -> None:
    """The patient's diary plan is made from the same assessment: no plan where none is allowed,
    the same maintenance regimen where there is one."""
    got = answer(K, v)
    assert isinstance(got, Assessment)
    request = PlanRequest(patient=parse_patient(v.patient), start_date="2026-12-07")
    if got.plan is None or (got.plan.maintenance is None and not got.plan.taper):
        with pytest.raises(InputError):
            personal_plan(K, request)
        return
    dated, personal = personal_plan(K, request)
    assert dated.plan_status == got.plan_status
    if got.plan.maintenance is not None and not got.plan.taper:
        assert personal.maintenance_daily_mg == got.plan.maintenance.daily_mg


GRID = [
    v
    for v in ROWS
    if v.id.startswith("grid-")
    and v.patient["target_daily_mg"] > v.expect["max_daily_mg"]  # an order above the row's range
]


@pytest.mark.parametrize("v", GRID, ids=lambda v: v.id)
def test_the_cds_corrected_order_is_the_planned_maintenance(v: Vignette) -> None:
    """An order of the normal-function regimen (target / 3, three times a day) for a patient whose
    row is lower: the corrected order is the planner's maintenance, the same column."""
    patient = parse_patient({**v.patient, "goal": "review"})
    got = answer(K, v)
    assert isinstance(got, Assessment)
    assert got.plan is not None
    assert got.plan.maintenance is not None
    target = v.patient["target_daily_mg"]
    found = corrected_regimen(
        K,
        patient,
        K.product_by_id["gabapentin"],
        target,
        3,
        got.findings,
    )
    assert found == regimen(got.plan.maintenance.doses)


def test_a_childs_answer_says_why_no_clearance_was_estimated() -> None:
    """Under 12 Cockcroft-Gault is not used [NEU48 §2.3]: the echo says so instead of asking for
    a value (sex) that would not be used."""
    v = next(v for v in ROWS if v.id == "child-raised-creatinine")
    got = answer(K, v)
    assert isinstance(got, Assessment)
    used = {i.field: i.value for i in got.inputs}
    assert used["crcl_ml_min"].startswith("not estimated: Cockcroft-Gault is not used under 12")
