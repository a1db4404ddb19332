"""``advise``: cards for order-select and order-sign calls (decision D17).

The base request is ``examples/cds/order-sign.json``: a 78-year-old man, 70 kg, serum creatinine
1.9 mg/dL (Cockcroft-Gault CrCl about 32 mL/min: the label's >30-59 row, 400-1400 mg/day in two
doses, NEU48 §2.3 Table 1), a draft of gabapentin 800 mg three times a day, and active
oxycodone/acetaminophen 10/325 every 6 hours (60 MME/day) and alprazolam 0.5 mg twice a day.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import assess
from gabaguide.interop.cdsadvice import CardDraft, advise
from gabaguide.interop.cdshooks import SUMMARY_MAX, Card
from gabaguide.interop.fhirchart import read_order
from gabaguide.knowledge import load_knowledge
from tests.interop.cdscases import (
    PATIENT_ID,
    TODAY,
    bundle,
    chart_of,
    condition,
    example,
    medication_request,
    observation,
    request_of,
    with_drafts,
)
from tests.strategies import creatinine

K = load_knowledge()
BASE = example("order-sign.json")
COMEDICATION = ("interaction.", "duplicate.", "formulation.not-interchangeable")
# Active gabapentin 600 mg (RxNorm 310433 tablet) three times a day.
GABAPENTIN_600_TID = medication_request(
    "gaba-1", name="gabapentin 600 MG Oral Tablet", rxcui="310433", mg=1, unit="{tablet}"
)


def cards(
    data: dict[str, Any], min_severity: str = "", **prefetch: dict[str, Any]
) -> list[CardDraft]:
    """The drafts for a request, with some of its prefetch replaced."""
    data = copy.deepcopy(data)
    data["prefetch"].update(prefetch)
    request, context = request_of(data)
    drafts = advise(K, request.hook, context, chart_of(K, data["prefetch"]), min_severity)
    check_invariants(drafts)
    return drafts


def problems(drafts: Sequence[CardDraft]) -> list[str]:
    return [d.problem for d in drafts]


def card(drafts: Sequence[CardDraft], problem: str) -> Card:
    found = [d.card for d in drafts if d.problem == problem]
    assert len(found) == 1, problems(drafts)
    return found[0]


def check_invariants(drafts: Sequence[CardDraft]) -> None:
    """What every card must be: short, cited, one per problem and order, valid as a Card."""
    counts = Counter((d.order_key, d.problem) for d in drafts)
    assert all(n == 1 for n in counts.values()), counts
    for d in drafts:
        c = d.card
        assert len(c.summary) < SUMMARY_MAX
        assert c.indicator in {"info", "warning", "critical"}
        assert c.source.label.strip()
        assert c.detail is not None
        assert "Sources:" in c.detail
        assert Card.model_validate(c.model_dump()) == c
        assert bool(c.suggestions) == (c.selectionBehavior == "at-most-one")


def corrected(c: Card) -> MedicationRequest:
    """The suggested order of a card with one suggestion of one update action."""
    assert len(c.suggestions) == 1
    actions = c.suggestions[0].actions
    assert len(actions) == 1
    assert actions[0].type == "update"
    assert actions[0].resource is not None
    return MedicationRequest.model_validate(actions[0].resource)


def draft(**fields: Any) -> dict[str, Any]:
    return medication_request("draft-1", status="draft", **fields)


# --- the example request ---------------------------------------------------------------------------


def test_example_problems() -> None:
    assert sorted(problems(cards(BASE))) == [
        "dose",
        "interaction.cns-depressant",
        "interaction.opioid",
        "population.elderly",
        "risk.respiratory",
    ]


def test_dose_card_offers_the_same_column_of_the_renal_row() -> None:
    drafts = cards(BASE)
    dose = card(drafts, "dose")
    assert dose.indicator == "warning"
    assert dose.selectionBehavior == "at-most-one"
    assert dose.suggestions[0].isRecommended
    action = dose.suggestions[0].actions[0]
    # 800 mg TID is the 2400 mg/day column at normal function; at CrCl >30-59 that column is
    # 500 mg BID [NEU48 §2.3 Table 1], not the row's maximum (700 mg BID, the 3600 column).
    assert action.description == "Update the order to 500 mg 2 times a day (1000 mg/day)."
    order = read_order(K, corrected(dose))
    assert order.key == "MedicationRequest/gaba-draft-1"  # the draft's id is kept
    assert order.rxcui == "310434"
    assert order.resource.status == "draft"
    assert (order.dosage.dose_mg, order.dosage.times_per_day, order.dosage.daily_mg) == (
        500,
        2,
        1000,
    )
    # The row of the patient as assessed (CrCl about 32 mL/min): 400-1400 mg/day in two doses.
    patient = next(d.patient for d in drafts if d.problem == "dose")
    renal = assess(patient, K).renal
    assert renal.crcl_ml_min == pytest.approx(31.7, abs=0.1)
    assert renal.daily_max_mg == 1400
    assert renal.doses_per_day == 2


def test_corrected_order_keeps_the_route() -> None:
    oral = {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}], "text": "oral"}
    data = copy.deepcopy(BASE)
    entry = data["context"]["draftOrders"]["entry"][0]["resource"]
    entry["dosageInstruction"][0]["route"] = oral
    dosage = corrected(card(cards(data), "dose")).dosageInstruction
    assert dosage is not None
    assert dosage[0].route is not None
    assert dosage[0].route.model_dump(mode="json", exclude_none=True) == oral


def test_opioid_card_gives_the_daily_mme() -> None:
    # Oxycodone 10 mg x 4 a day x 1.5 (CDC 2022 conversion factor) = 60 MME/day.
    opioid = card(cards(BASE), "interaction.opioid")
    assert opioid.indicator == "warning"
    assert opioid.detail is not None
    assert "MME 60" in opioid.detail
    assert not opioid.suggestions


def test_cards_say_what_data_they_used() -> None:
    for d in cards(BASE):
        assert d.card.detail is not None
        assert "Serum creatinine 1.9 mg/dL on 2026-11-10 (LOINC 2160-0)." in d.card.detail
        assert d.order_key == "MedicationRequest/gaba-draft-1"


def test_order_select_checks_the_selected_order() -> None:
    select = cards(example("order-select.json"))
    assert sorted(problems(select)) == sorted(problems(cards(BASE)))


def test_order_select_without_a_selected_gabapentinoid() -> None:
    data = example("order-select.json")
    data["context"]["selections"] = ["MedicationRequest/something-else"]
    assert cards(data) == []


# --- other patients and orders ---------------------------------------------------------------------


def test_pregnancy_card() -> None:
    woman = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "gender": "female",
        "birthDate": "1992-05-01",
    }
    drafts = cards(BASE, patient=woman, conditions=bundle(condition("Pregnancy")))
    assert card(drafts, "population.pregnancy").indicator == "warning"


def test_pregabalin_draft_while_taking_gabapentin() -> None:
    # RxNorm 483450: pregabalin 75 mg capsule; 2 capsules twice a day.
    pregabalin = draft(
        name="pregabalin 75 MG Oral Capsule", rxcui="483450", mg=2, unit="{capsule}", times=2
    )
    drafts = cards(with_drafts(BASE, pregabalin), medications=bundle(GABAPENTIN_600_TID))
    duplicate = card(drafts, "duplicate.gabapentinoid")
    assert duplicate.indicator == "warning"
    assert "gabapentin 600 MG Oral Tablet" in duplicate.summary


def test_stop_order_needs_a_taper() -> None:
    # Stopping gabapentin (the order gives no dose) while 600 mg three times a day is active.
    stop = medication_request("stop-1", name="gabapentin", status="stopped")
    drafts = cards(with_drafts(BASE, stop), medications=bundle(GABAPENTIN_600_TID))
    assert card(drafts, "taper.required").indicator == "warning"
    assert "taper.no-current-regimen" not in problems(drafts)
    assert all(not d.card.suggestions for d in drafts)  # a stop is never "corrected"
    patient = drafts[0].patient
    assert patient.goal == "stop"
    assert patient.current_regimen is not None
    assert (patient.current_regimen.dose_mg, patient.current_regimen.times_per_day) == (600, 3)


def test_stop_order_for_the_same_prescription_needs_a_taper() -> None:
    # The EHR stops the active MedicationRequest itself: same id, status stopped, no dose.
    stop = medication_request(
        "gaba-1", name="gabapentin 600 MG Oral Tablet", rxcui="310433", status="stopped"
    )
    drafts = cards(with_drafts(BASE, stop), medications=bundle(GABAPENTIN_600_TID))
    assert "taper.required" in problems(drafts)
    assert "taper.no-current-regimen" not in problems(drafts)


def test_opioid_draft_while_taking_gabapentin_gives_only_combination_cards() -> None:
    oxycodone = draft(
        name="oxycodone 10 MG / acetaminophen 325 MG",
        rxcui="1049214",
        mg=1,
        unit="{tablet}",
        times=4,
    )
    drafts = cards(with_drafts(BASE, oxycodone), medications=bundle(GABAPENTIN_600_TID))
    assert problems(drafts) == ["interaction.opioid"]
    assert all(d.order_key == "MedicationRequest/draft-1" for d in drafts)
    assert all(p.startswith(COMEDICATION) for p in problems(drafts))


def test_opioid_draft_without_a_gabapentinoid_gives_no_cards() -> None:
    oxycodone = draft(
        name="oxycodone 10 MG / acetaminophen 325 MG",
        rxcui="1049214",
        mg=1,
        unit="{tablet}",
        times=4,
    )
    assert cards(with_drafts(BASE, oxycodone)) == []


def test_no_creatinine_no_renal_band() -> None:
    drafts = cards(BASE, creatinine=bundle())
    assert card(drafts, "renal.not-checked").indicator == "warning"
    assert "dose" not in problems(drafts)
    assert all(not d.card.suggestions for d in drafts)
    renal = assess(drafts[0].patient, K).renal
    assert (renal.crcl_ml_min, renal.band, renal.daily_max_mg) == (None, None, None)


def test_unreadable_dose() -> None:
    unreadable = draft(
        name="gabapentin 800 MG Oral Tablet", rxcui="310434", dosage=[{"text": "as directed"}]
    )
    drafts = cards(with_drafts(BASE, unreadable))
    c = card(drafts, "order.dose-not-readable")
    assert c.detail is not None
    assert "dosageInstruction[0] gives no dose" in c.detail
    assert all(not d.card.suggestions for d in drafts)


def test_min_severity_hides_caution_cards() -> None:
    assert "population.elderly" in problems(cards(BASE))
    shown = cards(BASE, min_severity="warning")
    assert "population.elderly" not in problems(shown)
    assert {d.card.indicator for d in shown} == {"warning"}
    assert "dose" in problems(shown)


def test_no_orders_no_cards() -> None:
    data = copy.deepcopy(BASE)
    data["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": []}
    assert cards(data) == []


# --- property: any gabapentin order ----------------------------------------------------------------


@st.composite
def gabapentin_orders(draw: st.DrawFn) -> tuple[dict[str, Any], float]:
    """A request for gabapentin 100-4800 mg/day in 1-4 doses, and the ordered mg a day."""
    times = draw(st.integers(1, 4))
    per_dose = draw(st.integers(-(-100 // times), 4800 // times))
    scr = draw(creatinine())
    age = draw(st.integers(18, 100))
    prefetch = {
        "patient": {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "gender": draw(st.sampled_from(["female", "male"])),
            "birthDate": f"{TODAY.year - age}-06-01",
        },
        "creatinine": bundle(
            observation(
                "2160-0" if scr["unit"] == "mg/dL" else "14682-9",
                scr["value"],
                scr["unit"],
                "2026-11-01",
            )
        ),
        "weight": bundle(observation("29463-7", draw(st.integers(40, 150)), "kg", "2026-11-01")),
    }
    data = with_drafts(BASE, draft(name="gabapentin", mg=per_dose, times=times))
    data["prefetch"].update(prefetch)
    return data, float(per_dose * times)


@settings(max_examples=60, deadline=None)
@given(gabapentin_orders())
def test_any_gabapentin_order(case: tuple[dict[str, Any], float]) -> None:
    data, ordered_mg = case
    drafts = cards(data)  # checks every card's invariants
    for d in drafts:
        if not d.card.suggestions:
            continue
        order = read_order(K, corrected(d.card))
        assert order.key == "MedicationRequest/draft-1"
        daily = order.dosage.daily_mg
        assert daily is not None
        assert daily <= ordered_mg
        renal_max = assess(d.patient, K).renal.daily_max_mg
        assert renal_max is None or daily <= renal_max
