"""``read_chart`` and ``read_order``: what a CDS Hooks request's FHIR resources say (decision D17).

Codes and units come from ``knowledge/data/cds.toml`` (LOINC 2160-0 creatinine in mg/dL, 14682-9 in
umol/L, 29463-7 body weight; SNOMED 77386006 pregnancy); products and their RxNorm codes from
``products.toml``; opioid strengths from the opioid-strength table.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from gabaguide.domain import SerumCreatinine
from gabaguide.interop.fhirchart import Chart, Order, read_order
from gabaguide.knowledge import Knowledge, load_knowledge
from tests.interop.cdscases import (
    SNOMED,
    TODAY,
    allergy,
    bundle,
    chart_of,
    condition,
    medication_request,
    observation,
)

K = load_knowledge()
MG_DL, UMOL_L = "2160-0", "14682-9"  # LOINC serum creatinine by mass and by moles
WEIGHT = "29463-7"  # LOINC body weight


def chart(k: Knowledge = K, today: date = TODAY, **prefetch: Any) -> Chart:
    return chart_of(k, prefetch, today)


def creatinine(*results: dict[str, Any]) -> Chart:
    return chart(creatinine=bundle(*results))


def patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "example-78m"} | fields


def order(**fields: Any) -> Order:
    return read_order(K, MedicationRequest.model_validate(medication_request("m1", **fields)))


# --- creatinine and weight -------------------------------------------------------------------------


def test_latest_creatinine_by_date_across_units() -> None:
    c = creatinine(
        observation(MG_DL, 1.2, "mg/dL", "2026-03-01T09:00:00Z", ident="a"),
        observation(UMOL_L, 150, "umol/L", "2026-11-02T09:00:00Z", ident="b"),
        observation(MG_DL, 0.9, "mg/dL", "2026-08-01", ident="c"),
    )
    assert c.creatinine == SerumCreatinine(value=150, unit="umol/L")
    assert c.facts == ("Serum creatinine 150 umol/L on 2026-11-02 (LOINC 14682-9).",)
    assert c.notes == ()


def test_latest_creatinine_in_mg_dl_wins_over_older_umol_l() -> None:
    c = creatinine(
        observation(UMOL_L, 150, "umol/L", "2026-08-02T09:00:00Z"),
        observation(MG_DL, 1.9, "mg/dL", "2026-11-10T08:30:00Z"),
    )
    assert c.creatinine == SerumCreatinine(value=1.9, unit="mg/dL")


def test_creatinine_in_an_unknown_unit_is_skipped_with_a_note() -> None:
    c = creatinine(
        observation(MG_DL, 1.1, "mg/dL", "2026-06-01"),
        observation(MG_DL, 0.1, "mmol/L", "2026-11-01"),  # newer, but not a unit in cds.toml
    )
    assert c.creatinine == SerumCreatinine(value=1.1, unit="mg/dL")
    assert c.notes == ("A serum creatinine result of 2026-11-01 is in unit 'mmol/L': not used.",)


@pytest.mark.parametrize("status", ["preliminary", "registered", "cancelled", "entered-in-error"])
def test_creatinine_that_is_not_final_is_ignored(status: str) -> None:
    c = creatinine(
        observation(MG_DL, 1.1, "mg/dL", "2026-06-01"),
        observation(MG_DL, 4.0, "mg/dL", "2026-11-01", status=status),
    )
    assert c.creatinine == SerumCreatinine(value=1.1, unit="mg/dL")


@pytest.mark.parametrize("status", ["amended", "corrected"])
def test_amended_and_corrected_results_are_used(status: str) -> None:
    c = creatinine(observation(MG_DL, 1.4, "mg/dL", "2026-11-01", status=status))
    assert c.creatinine == SerumCreatinine(value=1.4, unit="mg/dL")


def test_result_with_another_loinc_code_is_ignored() -> None:
    c = creatinine(observation("2161-8", 80, "mg/dL", "2026-11-01"))  # urine creatinine
    assert c.creatinine is None
    assert c.notes == ()


def test_implausible_creatinine_is_not_used() -> None:
    c = creatinine(observation(MG_DL, 40, "mg/dL", "2026-11-01"))
    assert c.creatinine is None
    assert c.notes == ("Serum creatinine 40 mg/dL on 2026-11-01 is implausible: not used.",)


def test_latest_creatinine_compares_instants_across_time_zones() -> None:
    c = creatinine(
        observation(MG_DL, 1.0, "mg/dL", "2026-06-02T00:30:00Z", ident="utc"),
        observation(MG_DL, 2.0, "mg/dL", "2026-06-01T20:00:00-05:00", ident="later"),
    )
    assert c.creatinine == SerumCreatinine(value=2.0, unit="mg/dL")


@pytest.mark.parametrize(
    ("value", "unit", "kg"),
    [
        pytest.param(70, "kg", 70.0, id="kg"),
        pytest.param(154, "[lb_av]", 69.9, id="lb_av"),  # 154 x 0.45359237 = 69.85 kg
        pytest.param(154, "lb", 69.9, id="lb"),
        pytest.param(70500, "g", 70.5, id="g"),
    ],
)
def test_weight_in_kg(value: float, unit: str, kg: float) -> None:
    c = chart(weight=bundle(observation(WEIGHT, value, unit, "2026-11-01")))
    assert c.weight_kg == kg
    assert c.facts == (f"Weight {kg:g} kg on 2026-11-01 (LOINC {WEIGHT}).",)


def test_implausible_weight_is_not_used() -> None:
    c = chart(weight=bundle(observation(WEIGHT, 4000, "kg", "2026-11-01")))
    assert c.weight_kg is None
    assert c.notes == ("Body weight 4000 kg on 2026-11-01 is implausible: not used.",)


# --- age and sex -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "age"),
    [
        pytest.param("1948-03-02", 78, id="examples-patient"),
        pytest.param("1950-12-01", 76, id="birthday-today"),
        pytest.param("1950-12-02", 75, id="birthday-tomorrow"),
    ],
)
def test_age_from_birth_date(birth: str, age: float) -> None:
    assert chart(patient=patient(birthDate=birth, gender="male")).age_years == age


def test_partial_birth_date_gives_no_age() -> None:
    c = chart(patient=patient(birthDate="1950", gender="female"))
    assert c.age_years is None
    assert c.notes == ("Birth date is not a full date: age not known.",)


@pytest.mark.parametrize(("gender", "sex"), [("female", "female"), ("male", "male")])
def test_sex_from_gender(gender: str, sex: str) -> None:
    c = chart(patient=patient(gender=gender))
    assert c.sex == sex
    assert c.notes == ()


@pytest.mark.parametrize("gender", ["other", "unknown", None])
def test_other_gender_leaves_sex_unknown_with_a_note(gender: str | None) -> None:
    fields = {"gender": gender} if gender else {}
    c = chart(patient=patient(**fields))
    assert c.sex is None
    assert any("Cockcroft-Gault" in n for n in c.notes), c.notes


def test_no_patient() -> None:
    c = chart()
    assert (c.age_years, c.sex, c.notes) == (None, None, ())


# --- conditions, pregnancy and allergies -----------------------------------------------------------


@pytest.mark.parametrize(
    "cond",
    [
        pytest.param(condition(code=(SNOMED, "77386006")), id="snomed-77386006"),
        pytest.param(
            condition(code=("http://hl7.org/fhir/sid/icd-10-cm", "Z33.1")), id="icd10cm-Z33.1"
        ),
        pytest.param(condition("Pregnancy, 12 weeks"), id="text-pregnancy"),
        pytest.param(condition("Currently pregnant"), id="text-pregnant"),
    ],
)
def test_pregnancy(cond: dict[str, Any]) -> None:
    assert chart(conditions=bundle(cond)).pregnant is True


@pytest.mark.parametrize(
    "cond",
    [
        pytest.param(condition(code=(SNOMED, "77386006"), clinical="resolved"), id="resolved"),
        pytest.param(condition("Pregnancy", clinical="inactive"), id="inactive"),
        pytest.param(condition("Pregnancy", verification="refuted"), id="refuted"),
        pytest.param(condition("Pregnancy", verification="entered-in-error"), id="in-error"),
        pytest.param(condition("Postherpetic neuralgia"), id="other-condition"),
    ],
)
def test_no_pregnancy(cond: dict[str, Any]) -> None:
    # Absence is unknown, never "not pregnant".
    assert chart(conditions=bundle(cond)).pregnant is None


def test_conditions_by_text_active_and_once() -> None:
    c = chart(
        conditions=bundle(
            condition("COPD"),
            condition("COPD"),
            condition("Gout", clinical="resolved"),
            condition("Migraine", verification="refuted"),
            {
                **condition(),
                "code": {"coding": [{"system": SNOMED, "code": "2177002", "display": "PHN"}]},
            },
        )
    )
    assert c.conditions == ("COPD", "PHN")


def test_allergies_by_text() -> None:
    c = chart(allergies=bundle(allergy("Penicillin"), allergy("Codeine", clinical="resolved")))
    assert c.allergies == ("Penicillin",)


def test_only_active_medications_are_kept() -> None:
    c = chart(
        medications=bundle(
            medication_request("a", name="gabapentin", mg=300),
            medication_request("b", name="oxycodone", mg=5, status="completed"),
        )
    )
    assert [m.id for m in c.medications] == ["a"]


# --- orders ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "product", "daily"),
    [
        # RxNorm 310432: gabapentin 400 mg oral capsule (products.toml).
        pytest.param(
            {"rxcui": "310432", "mg": 1, "unit": "{capsule}"}, "gabapentin", 1200, id="310432"
        ),
        # RxNorm 483450: pregabalin 75 mg oral capsule.
        pytest.param(
            {"rxcui": "483450", "mg": 2, "unit": "{capsule}", "times": 2},
            "pregabalin",
            300,
            id="483450",
        ),
        # RxNorm 1988974: pregabalin 165 mg extended-release tablet.
        pytest.param(
            {"rxcui": "1988974", "mg": 1, "unit": "{tablet}", "times": 1},
            "pregabalin-er",
            165,
            id="1988974",
        ),
        # RxNorm 283523: gabapentin 250 mg/5 mL oral solution; 6 mL = 300 mg.
        pytest.param(
            {"rxcui": "283523", "mg": 6, "unit": "mL"}, "gabapentin", 900, id="283523-solution"
        ),
        pytest.param(
            {"name": "Lyrica CR", "mg": 165, "times": 1}, "pregabalin-er", 165, id="Lyrica-CR"
        ),
        pytest.param({"name": "Lyrica", "mg": 75, "times": 2}, "pregabalin", 150, id="Lyrica"),
        pytest.param(
            {"name": "gabapentin enacarbil", "mg": 600, "times": 1}, "horizant", 600, id="enacarbil"
        ),
        pytest.param({"name": "Gralise", "mg": 1800, "times": 1}, "gralise", 1800, id="Gralise"),
        pytest.param({"name": "Neurontin", "mg": 300}, "gabapentin", 900, id="Neurontin"),
        # A name without a brand or release form: the immediate-release product.
        pytest.param(
            {"name": "gabapentin 300 mg", "mg": 300}, "gabapentin", 900, id="gabapentin-300-mg"
        ),
        pytest.param(
            {"name": "pregabalin", "mg": 75, "times": 2}, "pregabalin", 150, id="pregabalin"
        ),
    ],
)
def test_order_product(fields: dict[str, Any], product: str, daily: float) -> None:
    o = order(**fields)
    assert o.product is not None
    assert o.product.id == product
    assert o.dosage.daily_mg == daily
    assert not o.stops


def test_order_named_extended_release_pregabalin_is_not_immediate_release() -> None:
    o = order(name="24 HR pregabalin 165 MG Extended Release Oral Tablet", mg=165, times=1)
    assert o.product is None or o.product.id == "pregabalin-er"


def test_order_by_name_without_strength_cannot_count_capsules() -> None:
    # "300 mg" in a name is not a product code: capsules cannot be counted.
    o = order(name="Gabapentin 300 mg capsule", mg=1, unit="{capsule}")
    assert o.product is not None
    assert o.product.id == "gabapentin"
    assert o.dosage.problems == (
        "dosageInstruction[0].doseAndRate[0].doseQuantity: a dose in '{capsule}' needs the "
        "product's strength (an RxNorm product code)",
    )


def test_opioid_tablets_in_mg_by_opioid_strength() -> None:
    # RxNorm 1049214: acetaminophen 325 mg / oxycodone 10 mg tablet: 10 mg oxycodone a tablet.
    o = order(rxcui="1049214", name="Percocet 10/325", mg=1, unit="{tablet}", times=4)
    assert o.product is None
    assert o.rxcui == "1049214"
    assert (o.dosage.dose_mg, o.dosage.times_per_day, o.dosage.daily_mg) == (10, 4, 40)
    med = o.as_medication()
    assert (med.name, med.rxcui, med.dose_mg, med.times_per_day) == (
        "Percocet 10/325",
        "1049214",
        10,
        4,
    )


def test_other_medicine_is_not_a_product() -> None:
    o = order(name="amoxicillin 500 mg", mg=500)
    assert o.product is None
    assert o.dosage.daily_mg == 1500


@pytest.mark.parametrize(
    ("fields", "stops"),
    [
        pytest.param({"status": "stopped"}, True, id="stopped"),
        pytest.param({"status": "cancelled"}, True, id="cancelled"),
        pytest.param({"doNotPerform": True}, True, id="doNotPerform"),
        pytest.param({"status": "draft"}, False, id="draft"),
        pytest.param({"status": "active", "doNotPerform": False}, False, id="active"),
    ],
)
def test_order_stops(fields: dict[str, Any], stops: bool) -> None:
    assert order(rxcui="310432", mg=1, unit="{capsule}", **fields).stops is stops


def test_order_key() -> None:
    assert order(name="gabapentin", mg=300).key == "MedicationRequest/m1"
    data = medication_request(None, name="gabapentin", mg=300)
    first = read_order(K, MedicationRequest.model_validate(data))
    again = read_order(K, MedicationRequest.model_validate(data))
    assert first.key.startswith("sha256:")
    assert first.key == again.key


def test_order_by_contained_medication() -> None:
    data = medication_request("m1", mg=1, unit="{capsule}")
    del data["medicationCodeableConcept"]
    data["medicationReference"] = {"reference": "#med"}
    data["contained"] = [
        {
            "resourceType": "Medication",
            "id": "med",
            "code": {
                "coding": [
                    {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "310432"}
                ]
            },
        }
    ]
    o = read_order(K, MedicationRequest.model_validate(data))
    assert o.product is not None
    assert o.product.id == "gabapentin"
    assert o.dosage.daily_mg == 1200
