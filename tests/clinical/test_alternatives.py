"""Alternatives to gabapentin: which ones for an indication, and this patient's cautions.

Expected values come from knowledge/data/alternatives.toml and shared/clinical/facts.md §8, §9
(FINN, NICE CG173, LYR-HL, CYMBALTA, WESTANMO2005).
"""

from __future__ import annotations

from typing import Any

import pytest

from gabaguide import Knowledge
from gabaguide.domain import Alternative, Caution
from gabaguide.knowledge.schema import AlternativeCaution
from tests.conftest import run


def alternatives(**fields: Any) -> dict[str, Alternative]:
    return {a.id: a for a in run(**fields).alternatives}


def caution_record(k: Knowledge, alt: str, **predicate: Any) -> AlternativeCaution:
    """The caution of ``alt`` in alternatives.toml whose predicate has these fields."""
    record = next(a for a in k.alternatives.alternatives if a.id == alt)
    return next(
        c
        for c in record.cautions
        if any(all(getattr(p, key) == value for key, value in predicate.items()) for p in c.when)
    )


def has(cautions: tuple[Caution, ...], record: AlternativeCaution) -> bool:
    return any(c.summary == record.summary and c.severity == record.severity for c in cautions)


def test_phn_patient_gets_pregabalin_with_the_comparison(k: Knowledge) -> None:
    alts = alternatives(age_years=50, crcl_ml_min=90, indication="PHN")
    assert "pregabalin" in alts
    pregabalin = alts["pregabalin"]
    features = {row.feature for row in pregabalin.comparison}
    # the article's gabapentin vs pregabalin table, corrected by the sources
    for feature in ("Dosing frequency", "Absorption", "Effectiveness", "Side effects", "Cost"):
        assert feature in features
    assert features == {
        r.feature for r in k.alternatives.comparison if r.alternative == "pregabalin"
    }
    for row in pregabalin.comparison:
        assert row.gabapentin
        assert row.alternative
        assert row.citations
        assert all(c.source in k.source_by_id for c in row.citations)
    # BOCK-CP: gabapentin bioavailability falls from about 60% to 33%; pregabalin about 90%
    absorption = next(r for r in pregabalin.comparison if r.feature == "Absorption")
    assert "60%" in absorption.gabapentin
    assert "33%" in absorption.gabapentin
    assert "90%" in absorption.alternative
    # the article's claim is kept where the sources differ
    cost = next(r for r in pregabalin.comparison if r.feature == "Cost")
    assert cost.article_says


@pytest.mark.parametrize(
    ("indication", "present", "absent"),
    [
        # CYMBALTA §2: duloxetine is US-approved for diabetic peripheral neuropathic pain
        pytest.param("DPN", {"pregabalin", "duloxetine", "amitriptyline"}, set(), id="dpn"),
        pytest.param("PHN", {"pregabalin", "lidocaine-patch"}, {"duloxetine"}, id="phn"),
    ],
)
def test_alternatives_follow_the_indication(
    k: Knowledge, indication: str, present: set[str], absent: set[str]
) -> None:
    alts = alternatives(age_years=50, crcl_ml_min=90, indication=indication)
    assert present <= set(alts)
    assert not absent & set(alts)
    ind = k.indication_by_name[indication.lower()].id
    expected = {a.id for a in k.alternatives.alternatives if ind in a.indications}
    assert set(alts) == expected
    for alt in alts.values():
        assert alt.line_of_therapy
        assert alt.usual_dose
        assert all(c.source in k.source_by_id for c in alt.citations)


def test_no_cautions_for_a_patient_without_risk_factors() -> None:
    alts = alternatives(age_years=50, crcl_ml_min=90, indication="DPN")
    assert all(not a.cautions for a in alts.values())


def test_crcl_20_duloxetine_warning(k: Knowledge) -> None:
    # WESTANMO2005; CYMBALTA §8.10: not recommended below CrCl 30
    record = caution_record(k, "duloxetine", crcl_below=30)
    assert record.severity == "warning"
    alts = alternatives(age_years=50, crcl_ml_min=20, indication="DPN")
    assert has(alts["duloxetine"].cautions, record)
    assert all(c.source in k.source_by_id for c in alts["duloxetine"].cautions[0].citations)


def test_crcl_40_no_duloxetine_warning_but_caution(k: Knowledge) -> None:
    alts = alternatives(age_years=50, crcl_ml_min=40, indication="DPN")
    assert not has(alts["duloxetine"].cautions, caution_record(k, "duloxetine", crcl_below=30))
    assert has(alts["duloxetine"].cautions, caution_record(k, "duloxetine", crcl_below=60))


@pytest.mark.parametrize(("crcl", "fires"), [(59, True), (60, False), (90, False)])
def test_pregabalin_renal_caution(k: Knowledge, crcl: float, fires: bool) -> None:
    # SOPHIE: pregabalin's dose is reduced below CrCl 60
    record = caution_record(k, "pregabalin", crcl_below=60)
    alts = alternatives(age_years=50, crcl_ml_min=crcl, indication="PHN")
    assert has(alts["pregabalin"].cautions, record) is fires


def test_unknown_kidney_function_is_said_not_assumed(k: Knowledge) -> None:
    alts = alternatives(age_years=50, indication="DPN")
    assert has(alts["pregabalin"].cautions, caution_record(k, "pregabalin", crcl_unknown=True))
    assert has(alts["duloxetine"].cautions, caution_record(k, "duloxetine", crcl_unknown=True))
    assert not has(alts["pregabalin"].cautions, caution_record(k, "pregabalin", crcl_below=60))


def test_age_70_amitriptyline_caution(k: Knowledge) -> None:
    # GG-DECISIONS D12: the older-adult caution is a stated gap, not an invented fact
    record = caution_record(k, "amitriptyline", age_at_least=65)
    alts = alternatives(age_years=70, crcl_ml_min=90, indication="PHN")
    assert has(alts["amitriptyline"].cautions, record)
    assert not has(
        alternatives(age_years=50, crcl_ml_min=90, indication="PHN")["amitriptyline"].cautions,
        record,
    )


def test_age_unknown_no_amitriptyline_age_caution(k: Knowledge) -> None:
    alts = alternatives(crcl_ml_min=90, indication="PHN")
    assert not has(
        alts["amitriptyline"].cautions, caution_record(k, "amitriptyline", age_at_least=65)
    )


def test_pregabalin_allergy_makes_pregabalin_contraindicated(k: Knowledge) -> None:
    alts = alternatives(age_years=50, crcl_ml_min=90, indication="PHN", allergies=["Lyrica"])
    severities = {c.severity for c in alts["pregabalin"].cautions}
    assert "contraindicated" in severities
    record = caution_record(k, "pregabalin", allergy_group="pregabalin-allergy")
    assert has(alts["pregabalin"].cautions, record)


def test_respiratory_risk_carries_over_to_pregabalin(k: Knowledge) -> None:
    # FDA-DSC: the 2019 warning covers gabapentin and pregabalin
    record = caution_record(k, "pregabalin", condition_group="respiratory")
    for fields in (
        {"conditions": ["COPD"]},
        {"medications": [{"name": "oxycodone"}]},
        {"age_years": 70},
    ):
        alts = alternatives(**({"age_years": 50, "crcl_ml_min": 90, "indication": "PHN"} | fields))
        assert has(alts["pregabalin"].cautions, record), fields


def test_antidepressant_already_taken_warns_for_duloxetine(k: Knowledge) -> None:
    # CYMBALTA §5: serotonin syndrome with other serotonergic drugs
    alts = alternatives(
        age_years=50, crcl_ml_min=90, indication="DPN", medications=[{"name": "sertraline"}]
    )
    record = caution_record(k, "duloxetine", drug_classes=("antidepressant",))
    assert has(alts["duloxetine"].cautions, record)
