"""Interactions: recognising the other medicines, one finding per rule, MME tiers, duplicates.

Expected values come from knowledge/data/interactions.toml, vocabulary/*.csv and
shared/clinical/facts.md §4 (NEU48 §7, MIMS non-US labels).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import Assessment, Knowledge
from gabaguide.clinical.interactions import check_medications, daily_mme, review
from gabaguide.clinical.recognise import recognise
from gabaguide.domain import SEVERITY_ORDER, Finding, Medication, Severity
from gabaguide.knowledge.schema import InteractionRule
from tests.conftest import codes, patient, run

OXY_10_TID = {"name": "oxycodone", "dose_mg": 10, "times_per_day": 3}


def one(a: Assessment, code: str) -> Finding:
    found = [f for f in a.findings if f.code == code]
    assert len(found) == 1, (code, [f.code for f in a.findings])
    return found[0]


def rule(k: Knowledge, rule_id: str) -> InteractionRule:
    return next(r for r in k.interactions.rules if r.id == rule_id)


def opioid_severity(k: Knowledge, *meds: dict[str, Any]) -> Severity:
    found, _ = check_medications(k, patient(medications=list(meds)), k.product_by_id["gabapentin"])
    return next(f.severity for f in found if f.code == "interaction.opioid")


# --- recognition ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ingredients", "drug_class"),
    [
        pytest.param("oxycodone", {"oxycodone"}, "opioid", id="generic"),
        # brands: rxnorm.csv (Xanax) and interactions.toml `names`
        pytest.param("Xanax", {"alprazolam"}, "benzodiazepine", id="brand-xanax"),
        pytest.param("Norco", {"acetaminophen", "hydrocodone"}, "opioid", id="brand-norco"),
        pytest.param("Lyrica", {"pregabalin"}, "gabapentinoid", id="brand-lyrica"),
        pytest.param("Neurontin", {"gabapentin"}, "gabapentinoid", id="brand-neurontin"),
        # combination products written as free text
        pytest.param(
            "hydrocodone/acetaminophen 5/325",
            {"acetaminophen", "hydrocodone"},
            "hydrocodone",
            id="combination-text",
        ),
        pytest.param(
            "Tylenol with codeine", {"acetaminophen", "codeine"}, "opioid", id="tylenol-codeine"
        ),
        pytest.param("Percocet", {"acetaminophen", "oxycodone"}, "opioid", id="percocet"),
        # NEU48 §7.3 Maalox (aluminium/magnesium hydroxide)
        pytest.param(
            "Maalox", {"aluminum hydroxide", "magnesium hydroxide"}, "antacid", id="maalox"
        ),
        pytest.param("milk of magnesia", {"magnesium hydroxide"}, "antacid", id="milk-of-magnesia"),
    ],
)
def test_recognised_by_name(
    k: Knowledge, name: str, ingredients: set[str], drug_class: str
) -> None:
    hit = recognise(k, Medication(name=name))
    assert hit is not None
    assert hit.ingredients == ingredients
    assert drug_class in hit.classes


@pytest.mark.parametrize(
    ("rxcui", "ingredient", "drug_class"),
    [
        # rxnorm.csv: oxycodone hydrochloride 5 MG Oral Tablet (opioid analgesic value set)
        pytest.param("1049621", "oxycodone", "opioid", id="opioid"),
        # rxnorm.csv: alprazolam 0.25 MG Oral Tablet [Xanax] (benzodiazepine value set)
        pytest.param("141927", "alprazolam", "benzodiazepine", id="benzodiazepine"),
        # rxnorm.csv / products.toml: Once-Daily gabapentin 300 MG Oral Tablet [Gralise]
        pytest.param("1115012", "gabapentin", "gabapentinoid", id="gralise"),
    ],
)
def test_recognised_by_rxnorm_code_whatever_the_name(
    k: Knowledge, rxcui: str, ingredient: str, drug_class: str
) -> None:
    assert rxcui in k.drug_by_rxcui
    hit = recognise(k, Medication(name="the white pill", rxcui=rxcui))
    assert hit is not None
    assert hit.ingredients == {ingredient}
    assert drug_class in hit.classes
    assert f"RxNorm {rxcui}" in hit.matched_by


def test_alcohol_use_is_recognised_as_alcohol(k: Knowledge) -> None:
    assert "alcohol" in review(k, patient(alcohol_use=True)).classes
    assert "interaction.alcohol" in codes(run(alcohol_use=True))
    assert "interaction.alcohol" not in codes(run(alcohol_use=False))
    assert "interaction.alcohol" not in codes(run())  # unknown is not "drinks"


@pytest.mark.parametrize(
    "name",
    ["Xanaxx", "oxycodon", "Lipitor", "vitamin D", "oxy", "MS"],
)
def test_unknown_text_is_reported_never_guessed(k: Knowledge, name: str) -> None:
    assert recognise(k, Medication(name=name)) is None
    a = run(medications=[{"name": name}])
    f = one(a, "interaction.unrecognised")
    assert f.severity == k.finding_kind["interaction.unrecognised"].severity == "info"
    assert repr(name) in f.summary
    assert not any(
        c.startswith("interaction.") and c != "interaction.unrecognised" for c in codes(a)
    )


def test_unknown_rxnorm_code_falls_back_to_the_name_and_never_guesses(k: Knowledge) -> None:
    assert "99999999" not in k.drug_by_rxcui
    a = run(medications=[{"name": "Blah", "rxcui": "99999999"}])
    assert "'Blah'" in one(a, "interaction.unrecognised").summary


# --- one vignette per rule ------------------------------------------------------------------------

VIGNETTES = [
    # NEU48 §7.1 opioids; §5.8 start low and monitor. 10 x 3 x 1.5 = 45 MME/day: the tier
    # below 50 MME/day (interactions.toml mme_tiers; CDC 2022)
    pytest.param(
        "opioid",
        {"medications": [OXY_10_TID]},
        "caution",
        ["respiratory depression", "low dose"],
        id="opioid",
    ),
    # NEU48 §5.8 CNS depressants; FDA-DSC anti-anxiety medicines
    pytest.param(
        "cns-depressant",
        {"medications": [{"name": "Xanax"}]},
        None,
        ["respiratory depression", "low dose"],
        id="benzodiazepine",
    ),
    # NEU48 §5.4 somnolence/dizziness
    pytest.param("alcohol", {"alcohol_use": True}, None, ["avoiding alcohol"], id="alcohol"),
    # NEU48 §7.3: bioavailability reduced about 20%; take gabapentin at least 2 hours after Maalox
    pytest.param(
        "antacid",
        {"medications": [{"name": "Maalox"}]},
        None,
        ["20%", "at least 2 hours after"],
        id="antacid",
    ),
    # NEU48 §7.1 morphine; MIMS-NEU-TH (non-US): gabapentin AUC +44%
    pytest.param(
        "morphine",
        {"medications": [{"name": "morphine"}]},
        None,
        ["44%", "respiratory depression"],
        id="morphine",
    ),
    # NEU48 §7.1: gabapentin decreases hydrocodone exposure; consider when starting or stopping
    pytest.param(
        "hydrocodone",
        {"medications": [{"name": "Norco"}]},
        None,
        ["lowers hydrocodone exposure", "starting or stopping gabapentin"],
        id="hydrocodone",
    ),
    # MIMS-GABTIN (non-US): gabapentin absorption +12% to 15%; no change needed
    pytest.param(
        "naproxen",
        {"medications": [{"name": "naproxen"}]},
        "info",
        ["12% to 15%", "No change needed"],
        id="naproxen",
    ),
    # MIMS-NEU-TH (non-US): slight decrease in renal excretion, not of clinical importance
    pytest.param(
        "cimetidine",
        {"medications": [{"name": "cimetidine"}]},
        "info",
        ["not expected to be of clinical importance", "No change needed"],
        id="cimetidine",
    ),
    # NEU48 §5.4; FDA-DSC: a second gabapentinoid adds sedation and respiratory risk
    pytest.param(
        "duplicate-gabapentinoid",
        {"medications": [{"name": "Lyrica"}]},
        "warning",
        ["Lyrica", "Stop one"],
        id="duplicate-gabapentinoid",
    ),
]


@pytest.mark.parametrize(("rule_id", "fields", "severity", "texts"), VIGNETTES)
def test_each_rule_fires_with_its_severity_citations_and_action(
    k: Knowledge, rule_id: str, fields: dict[str, Any], severity: str | None, texts: list[str]
) -> None:
    r = rule(k, rule_id)
    f = one(run(**fields), r.finding)
    expected = severity or k.finding_kind[r.finding].severity
    assert f.severity == expected
    assert f.citations
    assert all(c.source in k.source_by_id for c in f.citations)
    assert {c.source for c in r.cite} <= {c.source for c in f.citations}
    text = f"{f.summary} {f.detail}"
    assert r.action in f.detail
    for t in texts:
        assert t in text


def test_every_rule_has_a_vignette(k: Knowledge) -> None:
    covered = {p.values[0] for p in VIGNETTES}
    assert covered == {r.id for r in k.interactions.rules}


@pytest.mark.parametrize("rule_id", ["morphine", "hydrocodone", "naproxen", "cimetidine"])
def test_numbers_from_a_non_us_label_are_marked(k: Knowledge, rule_id: str) -> None:
    # facts.md §4.2: the quantified numbers were read only in non-US labels
    r = rule(k, rule_id)
    non_us = [c.source for c in r.cite if k.source_by_id[c.source].kind == "label-non-us"]
    assert non_us
    name = {"morphine": "morphine", "hydrocodone": "Norco"}.get(rule_id, rule_id)
    f = one(run(medications=[{"name": name}]), r.finding)
    for source in non_us:
        assert "non-US label" in f.detail
        assert source in f.detail


def test_morphine_number_is_marked_as_the_thai_label(k: Knowledge) -> None:
    # facts.md §4.2: morphine AUC +44% read only in MIMS-NEU-TH (non-US Neurontin PI)
    assert k.source_by_id["MIMS-NEU-TH"].kind == "label-non-us"
    f = one(run(medications=[{"name": "MS Contin"}]), "interaction.morphine")
    assert "44%" in f.summary
    assert "non-US label (MIMS-NEU-TH)" in f.detail


def test_us_label_only_rules_are_not_marked_non_us() -> None:
    f = one(run(medications=[{"name": "Maalox"}]), "interaction.antacid")
    assert "non-US" not in f.detail


def test_one_finding_per_rule_naming_every_medicine() -> None:
    a = run(medications=[OXY_10_TID, {"name": "Percocet"}, {"name": "Tylenol with codeine"}])
    f = one(a, "interaction.opioid")
    for name in ("oxycodone", "Percocet", "Tylenol with codeine"):
        assert name in f.summary


# --- MME ------------------------------------------------------------------------------------------


def test_mme_of_oxycodone_10_mg_three_times_a_day(k: Knowledge) -> None:
    # CDC factor for oxycodone (vocabulary/mme.csv): 10 mg x 3 x 1.5 = 45 MME/day
    factor = k.mme_factor_by_ingredient["oxycodone"].factor
    a = run(medications=[OXY_10_TID])
    assert a.mme_daily == pytest.approx(10 * 3 * factor)
    assert a.mme_daily == pytest.approx(45)
    assert "Daily MME 45" in one(a, "interaction.opioid").detail


@pytest.mark.parametrize(
    "ingredient",
    [
        "codeine",
        "hydrocodone",
        "hydromorphone",
        "methadone",
        "morphine",
        "oxycodone",
        "oxymorphone",
        "tapentadol",
        "tramadol",
    ],
)
def test_mme_uses_the_cdc_factor_of_each_ingredient(k: Knowledge, ingredient: str) -> None:
    # vocabulary/mme.csv (CDC factors, per mg)
    f = k.mme_factor_by_ingredient[ingredient]
    assert f.unit_note == "per mg"
    a = run(medications=[{"name": ingredient, "dose_mg": 20, "times_per_day": 2}])
    assert a.mme_daily == pytest.approx(round(20 * 2 * f.factor, 1))


def test_mme_of_several_opioids_adds_up(k: Knowledge) -> None:
    f = k.mme_factor_by_ingredient
    a = run(
        medications=[
            OXY_10_TID,
            {"name": "Tylenol with codeine", "dose_mg": 30, "times_per_day": 4},
        ]
    )
    expected = 10 * 3 * f["oxycodone"].factor + 30 * 4 * f["codeine"].factor
    assert a.mme_daily == pytest.approx(round(expected, 1))


def tier_severity(k: Knowledge, mme: float) -> Severity:
    return [t for t in rule(k, "opioid").mme_tiers if mme >= t.at_least][-1].severity


def tier_cases(k: Knowledge) -> list[tuple[float, str]]:
    """(daily MME, expected severity) at each tier's lower edge and just below it."""
    tiers = rule(k, "opioid").mme_tiers
    cases: list[tuple[float, str]] = []
    for i, t in enumerate(tiers):
        cases.append((max(t.at_least, 0.5), t.severity))
        if i > 0:
            cases.append((t.at_least - 0.5, tiers[i - 1].severity))
    return cases


def test_opioid_severity_follows_the_mme_tiers(k: Knowledge) -> None:
    # interactions.toml mme_tiers (CDC 2022 thresholds; GG-DECISIONS D10)
    factor = k.mme_factor_by_ingredient["hydrocodone"].factor
    cases = tier_cases(k)
    assert len(cases) >= 3
    for mme, severity in cases:
        dose = mme / factor
        got = opioid_severity(k, {"name": "hydrocodone", "dose_mg": dose, "times_per_day": 1})
        assert got == severity, (mme, got, severity)


def test_below_50_is_less_severe_than_at_50(k: Knowledge) -> None:
    tiers = {t.at_least: t.severity for t in rule(k, "opioid").mme_tiers}
    assert 50 in tiers  # CDC 2022: 50 MME/day
    below = opioid_severity(k, {"name": "hydrocodone", "dose_mg": 49, "times_per_day": 1})
    at = opioid_severity(k, {"name": "hydrocodone", "dose_mg": 50, "times_per_day": 1})
    assert at == tiers[50]
    assert SEVERITY_ORDER[below] < SEVERITY_ORDER[at]


@pytest.mark.parametrize(
    "med",
    [
        pytest.param({"name": "oxycodone"}, id="no-dose"),
        pytest.param({"name": "oxycodone", "dose_mg": 10}, id="no-frequency"),
        pytest.param({"name": "Norco"}, id="combination-no-dose"),
    ],
)
def test_unknown_dose_gets_the_unknown_severity(k: Knowledge, med: dict[str, Any]) -> None:
    a = run(medications=[med])
    f = one(a, "interaction.opioid")
    assert f.severity == rule(k, "opioid").mme_unknown_severity
    assert "cannot be fully computed" in f.detail
    assert a.mme_daily is None


def test_partly_known_mme_is_not_reported_as_the_total(k: Knowledge) -> None:
    a = run(medications=[OXY_10_TID, {"name": "morphine"}])
    assert a.mme_daily is None
    f = one(a, "interaction.opioid")
    assert f.severity == rule(k, "opioid").mme_unknown_severity
    assert "counted so far 45 MME/day" in f.detail


@pytest.mark.parametrize(
    ("med", "why"),
    [
        # mme.csv: fentanyl's factor is per mcg/h (transdermal), not per mg
        pytest.param(
            {"name": "fentanyl patch", "rxcui": "197696", "dose_mg": 1, "times_per_day": 1},
            "dose is not in mg",
            id="fentanyl-patch",
        ),
        # mme.csv has no buprenorphine factor
        pytest.param(
            {"name": "buprenorphine", "dose_mg": 2, "times_per_day": 1},
            "no CDC conversion factor",
            id="buprenorphine",
        ),
    ],
)
def test_mme_not_computable_is_said(k: Knowledge, med: dict[str, Any], why: str) -> None:
    a = run(medications=[med])
    assert a.mme_daily is None
    f = one(a, "interaction.opioid")
    assert "cannot be fully computed" in f.detail
    assert why in f.detail
    assert f.severity == rule(k, "opioid").mme_unknown_severity


DOSE = st.floats(0.5, 500, allow_nan=False).map(lambda x: round(x, 1))
TIMES = st.integers(1, 6)


@settings(deadline=None, max_examples=150)
@given(a=st.tuples(DOSE, TIMES), b=st.tuples(DOSE, TIMES))
def test_severity_never_falls_as_mme_rises(
    k: Knowledge, a: tuple[float, int], b: tuple[float, int]
) -> None:
    low, high = sorted([a, b], key=lambda p: p[0] * p[1])
    sev = [
        opioid_severity(k, {"name": "oxycodone", "dose_mg": d, "times_per_day": n})
        for d, n in (low, high)
    ]
    assert SEVERITY_ORDER[sev[0]] <= SEVERITY_ORDER[sev[1]]


@settings(deadline=None, max_examples=100)
@given(dose=DOSE, times=TIMES)
def test_mme_is_dose_times_frequency_times_factor(k: Knowledge, dose: float, times: int) -> None:
    meds = review(
        k, patient(medications=[{"name": "oxycodone", "dose_mg": dose, "times_per_day": times}])
    )
    mme = daily_mme(k, meds.recognised)
    assert mme is not None
    factor = k.mme_factor_by_ingredient["oxycodone"].factor
    assert mme.total == pytest.approx(round(dose * times * factor, 1))


# --- gabapentinoids -------------------------------------------------------------------------------


def test_patient_on_lyrica_starting_gabapentin_is_a_duplicate(k: Knowledge) -> None:
    a = run(age_years=50, crcl_ml_min=90, indication="PHN", medications=[{"name": "Lyrica"}])
    f = one(a, "duplicate.gabapentinoid")
    assert f.severity == k.finding_kind["duplicate.gabapentinoid"].severity
    assert "Lyrica" in f.summary
    assert all(c.source in k.source_by_id for c in f.citations)
    assert "formulation.not-interchangeable" not in codes(a)  # different ingredient


@pytest.mark.parametrize(
    "med",
    [
        pytest.param({"name": "Gralise"}, id="by-name"),
        pytest.param({"name": "gabapentin once daily", "rxcui": "1115012"}, id="by-rxcui"),
    ],
)
def test_gralise_listed_while_planning_gabapentin_ir_is_not_interchangeable(
    k: Knowledge, med: dict[str, Any]
) -> None:
    # GRALISE §2.1 / products.toml: not interchangeable with other gabapentin products
    a = run(age_years=50, crcl_ml_min=90, indication="PHN", medications=[med])
    assert "duplicate.gabapentinoid" in codes(a)
    f = one(a, "formulation.not-interchangeable")
    assert f.severity == k.finding_kind["formulation.not-interchangeable"].severity
    assert "Not interchangeable with other gabapentin products." in f.detail
    assert all(c.source in k.source_by_id for c in f.citations)


@pytest.mark.parametrize(
    ("listed", "current"),
    [
        pytest.param("Neurontin", "gabapentin", id="neurontin-on-gabapentin"),
        pytest.param("gabapentin 300 mg", "gabapentin", id="free-text-on-gabapentin"),
        pytest.param("Gralise", "gralise", id="gralise-on-gralise"),
    ],
)
def test_current_regimen_listed_as_a_medication_is_no_duplicate_on_review(
    listed: str, current: str
) -> None:
    a = run(
        age_years=50,
        crcl_ml_min=90,
        indication="PHN",
        goal="review",
        medications=[{"name": listed}],
        current_regimen={"product": current, "dose_mg": 600, "times_per_day": 3},
    )
    assert "duplicate.gabapentinoid" not in codes(a)


def test_lyrica_listed_while_reviewing_gabapentin_is_still_a_duplicate() -> None:
    a = run(
        age_years=50,
        crcl_ml_min=90,
        indication="PHN",
        goal="review",
        medications=[{"name": "Lyrica"}],
        current_regimen={"product": "gabapentin", "dose_mg": 600, "times_per_day": 3},
    )
    assert "duplicate.gabapentinoid" in codes(a)


# --- the closing-note vignette --------------------------------------------------------------------


def minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def test_closing_note_vignette(k: Knowledge) -> None:
    """Oxycodone 10 mg x3, Maalox at 10:00 and 21:00, CrCl 40, PHN, target 1800 mg/day."""
    antacid_times = ["10:00", "21:00"]
    a = run(
        age_years=60,
        crcl_ml_min=40,
        indication="PHN",
        target_daily_mg=1800,
        medications=[OXY_10_TID, {"name": "Maalox", "times": antacid_times}],
    )
    # 10 x 3 x 1.5 = 45 MME/day: the tier below 50 (interactions.toml; CDC 2022)
    assert a.mme_daily == pytest.approx(45)
    opioid = one(a, "interaction.opioid")
    assert opioid.severity == tier_severity(k, 45) == "caution"
    assert "45" in opioid.detail
    assert "interaction.antacid" in codes(a)
    assert "renal.adjust" in codes(a)
    # NEU48 §2.3 Table 1: CrCl >30 to 59 band maximum
    band = next(b for b in k.bands_for("gabapentin") if b.crcl_min == 30 and b.crcl_max == 59)
    assert a.plan is not None
    assert a.plan.max_daily_mg is not None
    assert band.daily_max_mg is not None
    assert a.plan.max_daily_mg <= band.daily_max_mg
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.daily_mg <= band.daily_max_mg
    # NEU48 §7.3: take gabapentin at least 2 hours after Maalox
    gap = k.dosing.scheduling.antacid_gap_h * 60
    assert a.schedule
    for dose in a.schedule:
        for t in antacid_times:
            since = (minutes(dose.time) - minutes(t)) % (24 * 60)
            assert since >= gap, (dose.day, dose.time, t)
    # alternatives.toml: pregabalin's renal caution (CrCl below its threshold)
    record = next(x for x in k.alternatives.alternatives if x.id == "pregabalin")
    renal = next(c for c in record.cautions if any(p.crcl_below for p in c.when))
    assert any(p.crcl_below is not None and p.crcl_below > 40 for p in renal.when)
    pregabalin = next(x for x in a.alternatives if x.id == "pregabalin")
    assert renal.summary in {c.summary for c in pregabalin.cautions}
