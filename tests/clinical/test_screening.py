"""Safety screens, the indication screen and how the assessment merges and orders findings.

Expected values come from knowledge/data/screens.toml, indications.toml, findings.toml and
shared/clinical/facts.md §4.3, §5 and §9.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import Assessment, Knowledge
from gabaguide.clinical.plausibility import impossible
from gabaguide.domain import SEVERITY_ORDER, Finding, parse_patient
from gabaguide.errors import InputError
from gabaguide.knowledge import load_knowledge
from gabaguide.knowledge.schema import Screen
from tests.conftest import codes, run


def one(a: Assessment, code: str) -> Finding:
    found = [f for f in a.findings if f.code == code]
    assert len(found) == 1, (code, [f.code for f in a.findings])
    return found[0]


def screen(k: Knowledge, screen_id: str) -> Screen:
    return next(s for s in k.screens.screens if s.id == screen_id)


# --- each screen fires ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("screen_id", "fields"),
    [
        # PFZ-HL Contraindications: known hypersensitivity to gabapentin
        pytest.param("hypersensitivity", {"allergies": ["Neurontin"]}, id="hypersensitivity-brand"),
        pytest.param(
            "hypersensitivity", {"allergies": ["gabapentin (rash)"]}, id="hypersensitivity-generic"
        ),
        pytest.param("pregabalin-allergy", {"allergies": ["Lyrica"]}, id="pregabalin-allergy"),
        # NEU48 §8.1 pregnancy registry
        pytest.param("pregnancy", {"pregnant": True}, id="pregnancy"),
        # DRLACT §8.2; LACTMED
        pytest.param("breastfeeding", {"breastfeeding": True}, id="breastfeeding"),
        # NEU48 §2.4 elderly; FDA-DSC elderly at higher risk
        pytest.param("elderly", {"age_years": 80}, id="elderly"),
        # NEU48 §14.2: not established below 3 years
        pytest.param("pediatric-under-3", {"age_years": 2}, id="pediatric-under-3"),
        # NEU48 §5.9: neuropsychiatric reactions in children 3-12 years
        pytest.param("pediatric-neuropsychiatric", {"age_years": 7}, id="pediatric-3-12"),
        # NEU48 §5.8; FDA-DSC: COPD
        pytest.param("respiratory", {"conditions": ["COPD"]}, id="respiratory"),
        # NEU48 §5.5: antiepileptic class warning
        pytest.param(
            "suicidality", {"conditions": ["major depressive disorder"]}, id="suicidality"
        ),
        # PNM §9.2; MERSF
        pytest.param("misuse", {"conditions": ["history of drug abuse"]}, id="misuse"),
        # NEU48 §5.3: everyone is told about driving
        pytest.param("driving", {}, id="driving"),
    ],
)
def test_screen_fires_with_its_code_severity_and_citations(
    k: Knowledge, screen_id: str, fields: dict[str, Any]
) -> None:
    s = screen(k, screen_id)
    f = one(run(**fields), s.finding)
    assert f.severity == k.finding_kind[s.finding].severity
    assert f.summary == s.summary
    assert s.action in f.detail
    for statement in s.statements:
        assert k.statement_by_id[statement].text in f.detail
    assert f.citations
    assert all(c.source in k.source_by_id for c in f.citations)


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        # findings.toml catalogue, as the brief and facts.md §5 rank them
        ("contraindication.hypersensitivity", "contraindicated"),
        ("population.pregnancy", "warning"),
        ("risk.respiratory", "warning"),
        ("risk.driving", "info"),
    ],
)
def test_catalogue_severities(k: Knowledge, code: str, severity: str) -> None:
    assert k.finding_kind[code].severity == severity


def test_pregabalin_allergy_is_not_a_gabapentin_contraindication() -> None:
    c = codes(run(allergies=["pregabalin"]))
    assert "caution.pregabalin-allergy" in c
    assert "contraindication.hypersensitivity" not in c


def test_other_allergies_fire_no_allergy_screen() -> None:
    c = codes(run(allergies=["penicillin", "sulfa"]))
    assert not c & {"contraindication.hypersensitivity", "caution.pregabalin-allergy"}


# --- missing data never makes a screen fire ------------------------------------------------------

AGE_CODES = {"population.elderly", "population.pediatric", "population.pediatric-neuropsychiatric"}


def test_unknown_age_is_neither_elderly_nor_pediatric() -> None:
    a = run(crcl_ml_min=90)
    assert not codes(a) & AGE_CODES
    assert "risk.respiratory" not in codes(a)


@pytest.mark.parametrize("value", [None, False])
def test_pregnancy_and_breastfeeding_unknown_or_false_do_not_fire(value: bool | None) -> None:
    fields: dict[str, Any] = {"age_years": 30}
    if value is not None:
        fields |= {"pregnant": value, "breastfeeding": value}
    c = codes(run(**fields))
    assert "population.pregnancy" not in c
    assert "population.breastfeeding" not in c


def age_edges(k: Knowledge) -> list[tuple[float, str, bool]]:
    """(age, finding code, fires) around the age screens' ranges, read from screens.toml: at the
    lower edge and just below it, just inside the upper edge and a year past it."""
    out: list[tuple[float, str, bool]] = []
    for s in k.screens.screens:
        if s.id == "respiratory":
            continue  # several reasons; tested below
        for p in s.when:
            if p.age_at_least is not None:
                out += [(p.age_at_least, s.finding, True), (p.age_at_least - 0.1, s.finding, False)]
            if p.age_below is not None:
                out += [(p.age_below - 0.1, s.finding, True), (p.age_below + 1, s.finding, False)]
    return out


def test_age_screens_fire_inside_their_ranges(k: Knowledge) -> None:
    edges = age_edges(k)
    assert len(edges) >= 6
    for age, code, fires in edges:
        assert (code in codes(run(age_years=age))) is fires, (age, code, fires)


def test_elderly_from_65(k: Knowledge) -> None:
    # GG-DECISIONS D11 (65 years); FDA-DSC: the elderly are at higher risk
    assert screen(k, "elderly").when[0].age_at_least == 65
    assert "population.elderly" in codes(run(age_years=65))
    assert "population.elderly" not in codes(run(age_years=64))


@pytest.mark.parametrize("age", [3, 7, 11, 12])
def test_neuropsychiatric_warning_covers_children_3_to_12(age: float) -> None:
    # NEU48 §5.9 "Neuropsychiatric Adverse Reactions (Pediatric Patients 3-12 Years of Age)";
    # facts.md §5.1 "children 3-12 y"; statement warning.neuropsychiatric-children "3 to 12 years old"
    assert "population.pediatric-neuropsychiatric" in codes(run(age_years=age))


def test_under_3_is_not_the_3_to_12_screen() -> None:
    # NEU48 §14.2: effectiveness not established in children younger than 3 years
    c = codes(run(age_years=2.9))
    assert "population.pediatric" in c
    assert "population.pediatric-neuropsychiatric" not in c
    c = codes(run(age_years=3))
    assert "population.pediatric" not in c
    assert "population.pediatric-neuropsychiatric" in c


def test_teenagers_get_no_pediatric_screen() -> None:
    assert not codes(run(age_years=13)) & AGE_CODES


# --- respiratory reasons --------------------------------------------------------------------------


def respiratory_reasons(k: Knowledge) -> dict[str, str]:
    """Which predicate gives which reason text (screens.toml, respiratory screen)."""
    out: dict[str, str] = {}
    for p in screen(k, "respiratory").when:
        assert p.reason
        if p.condition_group:
            out["copd"] = p.reason
        elif p.age_at_least is not None:
            out["age"] = p.reason
        elif p.drug_classes:
            out["opioid"] = p.reason
    return out


@pytest.mark.parametrize(
    ("fields", "present"),
    [
        # FDA-DSC risk factors: COPD, the elderly, opioids and other CNS depressants
        pytest.param({"age_years": 50, "conditions": ["COPD"]}, {"copd"}, id="copd"),
        pytest.param({"age_years": 65}, {"age"}, id="age-65"),
        pytest.param(
            {"age_years": 50, "medications": [{"name": "oxycodone"}]}, {"opioid"}, id="opioid"
        ),
        pytest.param(
            {
                "age_years": 72,
                "conditions": ["chronic obstructive pulmonary disease"],
                "medications": [{"name": "Percocet"}],
            },
            {"copd", "age", "opioid"},
            id="all-three",
        ),
    ],
)
def test_respiratory_reasons_are_named_in_the_detail(
    k: Knowledge, fields: dict[str, Any], present: set[str]
) -> None:
    reasons = respiratory_reasons(k)
    f = one(run(**fields), "risk.respiratory")
    for key, text in reasons.items():
        assert (text in f.detail) is (key in present), (key, f.detail[:200])


def test_no_respiratory_risk_without_a_reason() -> None:
    assert "risk.respiratory" not in codes(run(age_years=40, conditions=["hypertension"]))


# --- misuse ---------------------------------------------------------------------------------------


def test_misuse_quotes_the_label_and_never_calls_gabapentin_non_addictive(k: Knowledge) -> None:
    f = one(run(age_years=40, conditions=["opioid use disorder"]), "risk.misuse")
    # PNM §9.2 Abuse (Neurontin, Viatris label)
    assert k.statement_by_id["misuse.label-abuse"].text in f.detail
    assert "Misuse and abuse of gabapentin have been reported postmarketing" in f.detail
    assert "non-addictive" not in f.summary.lower()
    # the article's "non-addictive" appears only as the claim being corrected
    assert f.detail.count("non-addictive") == f.detail.count("'non-addictive'. That is wrong")
    assert {c.source for c in f.citations} >= {"PNM", "MERSF"}


# --- indication -----------------------------------------------------------------------------------


def indication(**fields: Any) -> Finding:
    a = run(age_years=50, crcl_ml_min=90, **fields)
    found = [f for f in a.findings if f.code.startswith("indication.")]
    assert len(found) == 1, [f.code for f in a.findings]
    return found[0]


@pytest.mark.parametrize(
    ("tried", "group"),
    [
        pytest.param(["NSAIDs"], "nsaid-treatment", id="nsaids"),
        pytest.param(["ibuprofen"], "nsaid-treatment", id="ibuprofen"),
        pytest.param(["opioids"], "opioid-treatment", id="opioids"),
        pytest.param(["tramadol"], "opioid-treatment", id="tramadol"),
        pytest.param(["amitriptyline"], "antidepressant-treatment", id="amitriptyline"),
        pytest.param(["Cymbalta"], "antidepressant-treatment", id="cymbalta"),
    ],
)
@pytest.mark.parametrize("ind", ["PHN", "DPN", "neuropathic pain"])
def test_failed_treatments_change_the_neuropathic_indication_detail(
    k: Knowledge, tried: list[str], group: str, ind: str
) -> None:
    # indications.toml [[failed_treatments]] (FINN Table 3; NICE CG173)
    base = indication(indication=ind)
    after = indication(indication=ind, failed_treatments=tried)
    assert after.code == base.code
    assert after.detail != base.detail
    ind_id = k.indication_by_name[ind.lower()].id
    notes = [n for n in k.failed_treatments if n.group == group and ind_id in n.indications]
    assert notes
    for n in notes:
        assert n.text in after.detail
    assert all(c.source in k.source_by_id for c in after.citations)


def test_failed_nsaids_say_gabapentin_is_first_line() -> None:
    # FINN Table 3: gabapentin first line; NSAIDs not among NeuPSIG's recommended drugs
    f = indication(indication="PHN", failed_treatments=["NSAIDs"])
    assert "first-line" in f.detail


def test_fibromyalgia_after_a_failed_antidepressant_is_off_label_and_names_pregabalin(
    k: Knowledge,
) -> None:
    # PFZ-HL / LYR-HL: only pregabalin carries the fibromyalgia indication
    f = indication(indication="fibromyalgia", failed_treatments=["duloxetine"])
    assert f.code == "indication.off-label"
    assert f.severity == k.finding_kind["indication.off-label"].severity
    assert "off-label" in f.detail.lower()
    assert "pregabalin" in f.detail.lower()
    assert "LYR-HL" in {c.source for c in f.citations}


def test_neuropathic_notes_do_not_leak_into_fibromyalgia(k: Knowledge) -> None:
    f = indication(indication="fibromyalgia", failed_treatments=["NSAIDs", "opioids"])
    for n in k.failed_treatments:
        if n.indications and "fibromyalgia" not in n.indications:
            assert n.text not in f.detail


@pytest.mark.parametrize("text", ["sciatica", "chronic sciatica", "radiculopathy"])
def test_sciatica_is_not_recommended(k: Knowledge, text: str) -> None:
    # NICE NG59 (facts.md §9.3): do not offer gabapentinoids for sciatica
    f = indication(indication=text)
    assert f.code == "indication.not-recommended"
    assert f.severity == k.finding_kind["indication.not-recommended"].severity
    assert "NICE" in {c.source for c in f.citations}


# --- findings merged and ordered ------------------------------------------------------------------

MANY_PROBLEMS: dict[str, Any] = {
    "age_years": 70,
    "crcl_ml_min": 40,
    "indication": "PHN",
    "target_daily_mg": 3600,
    "conditions": ["COPD", "depression", "history of drug abuse"],
    "allergies": ["pregabalin"],
    "alcohol_use": True,
    "breastfeeding": True,
    "failed_treatments": ["NSAIDs", "opioids"],
    "medications": [
        {"name": "oxycodone", "dose_mg": 30, "times_per_day": 4},
        {"name": "MS Contin"},
        {"name": "Norco"},
        {"name": "Xanax"},
        {"name": "Maalox", "times": ["10:00"]},
        {"name": "naproxen"},
        {"name": "Tagamet"},
        {"name": "Lyrica"},
        {"name": "Gralise"},
        {"name": "zzfoo"},
        {"name": "qqbar"},
    ],
}


def assert_merged_and_ordered(a: Assessment) -> None:
    seen = [f.code for f in a.findings]
    assert len(seen) == len(set(seen)), seen
    ranks = [SEVERITY_ORDER[f.severity] for f in a.findings]
    assert ranks == sorted(ranks, reverse=True), [(f.code, f.severity) for f in a.findings]


def test_many_problems_one_finding_per_code_most_severe_first() -> None:
    a = run(**MANY_PROBLEMS)
    assert_merged_and_ordered(a)
    c = codes(a)
    for code in (
        "interaction.opioid",
        "interaction.cns-depressant",
        "interaction.alcohol",
        "interaction.antacid",
        "interaction.morphine",
        "interaction.hydrocodone",
        "interaction.naproxen",
        "interaction.cimetidine",
        "interaction.unrecognised",
        "duplicate.gabapentinoid",
        "risk.respiratory",
        "risk.suicidality",
        "risk.misuse",
        "population.elderly",
        "population.breastfeeding",
        "caution.pregabalin-allergy",
    ):
        assert code in c, code
    # both gabapentinoids and both unknown names are kept inside their one finding
    assert "Lyrica" in one(a, "duplicate.gabapentinoid").summary
    assert "Gralise" in one(a, "duplicate.gabapentinoid").summary
    unrecognised = one(a, "interaction.unrecognised").summary
    assert "'zzfoo'" in unrecognised
    assert "'qqbar'" in unrecognised


PROBLEMS: dict[str, dict[str, Any]] = {
    "old": {"age_years": 80},
    "child": {"age_years": 7},
    "ckd": {"crcl_ml_min": 25},
    "copd": {"conditions": ["COPD"]},
    "depression": {"conditions": ["depression"]},
    "misuse": {"conditions": ["substance misuse"]},
    "allergy": {"allergies": ["gabapentin"]},
    "lyrica-allergy": {"allergies": ["Lyrica"]},
    "pregnant": {"pregnant": True},
    "alcohol": {"alcohol_use": True},
    "opioid": {"medications": [{"name": "oxycodone", "dose_mg": 20, "times_per_day": 3}]},
    "benzo": {"medications": [{"name": "Xanax"}]},
    "antacid": {"medications": [{"name": "Maalox"}]},
    "lyrica": {"medications": [{"name": "Lyrica"}]},
    "gralise": {"medications": [{"name": "Gralise"}]},
    "unknown": {"medications": [{"name": "zzfoo"}]},
    "phn": {"indication": "PHN"},
    "sciatica": {"indication": "sciatica"},
    "high-target": {"target_daily_mg": 5000},
    "stop": {
        "goal": "stop",
        "current_regimen": {"product": "gabapentin", "dose_mg": 600, "times_per_day": 3},
    },
}


def combine(names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        for key, value in PROBLEMS[name].items():
            if key in out and isinstance(value, list):
                out[key] = [*out[key], *value]
            else:
                out[key] = value
    return out


@settings(deadline=None, max_examples=150)
@given(st.lists(st.sampled_from(sorted(PROBLEMS)), min_size=1, max_size=8, unique=True))
def test_findings_are_never_duplicated_and_always_ordered(names: list[str]) -> None:
    patient = combine(names)
    if impossible(load_knowledge(), parse_patient(patient)):  # e.g. pregnant at 80
        with pytest.raises(InputError):
            run(**patient)
        return
    assert_merged_and_ordered(run(**patient))
