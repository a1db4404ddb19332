"""``read_dosage``: a FHIR R4 ``dosageInstruction`` as mg per dose and doses a day (decision D17).

One table of regimens gabaguide reads exactly, one of regimens it must refuse to guess. The dose
and timing elements are those of the FHIR R4 Dosage and Timing data types; the timing codes are HL7
v3 GTSAbbreviation codes.
"""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.dosage import Dosage

from gabaguide.interop.fhirdosage import Strength, read_dosage
from tests.interop.cdscases import dose, every, quantity

CAPSULE_300 = Strength(300, "capsule")
TABLET_600 = Strength(600, "tablet")
SOLUTION_50 = Strength(50, "mL")  # 250 mg/5 mL oral solution: 50 mg per mL
GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"


def dosage(*parts: dict[str, Any], **extra: Any) -> Dosage:
    data: dict[str, Any] = {}
    for part in parts:
        data |= part
    return Dosage.model_validate(data | extra)


def repeat(**elements: Any) -> dict[str, Any]:
    return {"timing": {"repeat": elements}}


def code(value: str) -> dict[str, Any]:
    return {"timing": {"code": {"coding": [{"system": GTS, "code": value}]}}}


def dose_range(low: float | None, high: float | None) -> dict[str, Any]:
    bounds = {}
    if low is not None:
        bounds["low"] = quantity(low, "mg")
    if high is not None:
        bounds["high"] = quantity(high, "mg")
    return {"doseAndRate": [{"doseRange": bounds}]}


def at_most(mg: float, days: float = 1) -> dict[str, Any]:
    """``maxDosePerPeriod``: ``mg`` per ``days`` days."""
    return {
        "maxDosePerPeriod": {"numerator": quantity(mg, "mg"), "denominator": quantity(days, "d")}
    }


# (dosageInstruction entries, product strength, (mg per dose, doses a day, mg a day, as needed))
READABLE = [
    # Mass units: UCUM mg, g and mcg.
    pytest.param([dosage(dose(300), every(3))], None, (300, 3, 900, False), id="mg-3-per-1d"),
    pytest.param(
        [dosage(dose(0.6, "g"), every(1, 8, "h"))], None, (600, 3, 1800, False), id="g-1-per-8h"
    ),
    pytest.param(
        [dosage(dose(300_000, "mcg"), every(1, 12, "h"))],
        None,
        (300, 2, 600, False),
        id="mcg-1-per-12h",
    ),
    pytest.param([dosage(dose(400), every(2))], None, (400, 2, 800, False), id="mg-2-per-1d"),
    # Pieces times the RxNorm product's strength (products.toml).
    pytest.param(
        [dosage(dose(2, "{capsule}"), every(3))], CAPSULE_300, (600, 3, 1800, False), id="capsules"
    ),
    pytest.param(
        [dosage(dose(1, "{tablet}"), every(2))], TABLET_600, (600, 2, 1200, False), id="tablet"
    ),
    pytest.param(
        [dosage(dose(1, "TAB"), code("TID"))], TABLET_600, (600, 3, 1800, False), id="TAB"
    ),
    # Millilitres of the 250 mg/5 mL solution.
    pytest.param([dosage(dose(6, "mL"), every(3))], SOLUTION_50, (300, 3, 900, False), id="mL"),
    # doseRange: checked at the high end; with only a low end, at the low end.
    pytest.param(
        [dosage(dose_range(300, 600), every(3))], None, (600, 3, 1800, False), id="range-high"
    ),
    pytest.param(
        [dosage(dose_range(300, None), every(3))], None, (300, 3, 900, False), id="range-low-only"
    ),
    # frequencyMax: 1-3 times a day is checked at 3.
    pytest.param(
        [dosage(dose(300), repeat(frequency=1, frequencyMax=3, period=1, periodUnit="d"))],
        None,
        (300, 3, 900, False),
        id="frequencyMax",
    ),
    pytest.param(
        [dosage(dose(300), every(14, 1, "wk"))], None, (300, 2, 600, False), id="14-per-1wk"
    ),
    pytest.param([dosage(dose(300), every(1, 6, "h"))], None, (300, 4, 1200, False), id="1-per-6h"),
    # One dose per timeOfDay or when entry when no frequency is given.
    pytest.param(
        [dosage(dose(300), repeat(timeOfDay=["08:00:00", "14:00:00", "22:00:00"]))],
        None,
        (300, 3, 900, False),
        id="timeOfDay",
    ),
    pytest.param(
        [dosage(dose(300), repeat(when=["MORN", "HS"]))], None, (300, 2, 600, False), id="when"
    ),
    pytest.param([dosage(dose(300), code("BID"))], None, (300, 2, 600, False), id="code-BID"),
    pytest.param([dosage(dose(300), code("TID"))], None, (300, 3, 900, False), id="code-TID"),
    pytest.param([dosage(dose(300), code("QID"))], None, (300, 4, 1200, False), id="code-QID"),
    pytest.param(
        [dosage(dose(300), {"timing": {"code": {"text": "tid"}}})],
        None,
        (300, 3, 900, False),
        id="code-text-only",
    ),
    # As needed: checked at the most the order allows.
    pytest.param(
        [dosage(dose(300), every(1, 8, "h"), asNeededBoolean=True)],
        None,
        (300, 3, 900, True),
        id="prn-boolean",
    ),
    pytest.param(
        [dosage(dose(300), every(1, 6, "h"), asNeededCodeableConcept={"text": "pain"})],
        None,
        (300, 4, 1200, True),
        id="prn-concept",
    ),
    pytest.param(
        [dosage(dose(300), every(1, 8, "h"), at_most(1200), asNeededBoolean=True)],
        None,
        (300, 3, 900, True),
        id="prn-cap-not-reached",
    ),
    pytest.param(
        [dosage(dose(300), every(1, 6, "h"), at_most(900), asNeededBoolean=True)],
        None,
        (300, 3, 900, True),
        id="prn-boolean-capped",
    ),
    pytest.param(
        [
            dosage(
                dose(1, "{capsule}"),
                every(1, 6, "h"),
                {
                    "maxDosePerPeriod": {
                        "numerator": quantity(2, "{capsule}"),
                        "denominator": quantity(1, "d"),
                    }
                },
                asNeededCodeableConcept={"text": "pain"},
            )
        ],
        CAPSULE_300,
        (300, 2, 600, True),
        id="prn-concept-capped-in-pieces",
    ),
    # Several Dosage entries add up: 300 mg in the morning and 600 mg at night.
    pytest.param(
        [dosage(dose(300), repeat(when=["MORN"])), dosage(dose(600), repeat(when=["HS"]))],
        None,
        (450, 2, 900, False),
        id="morning-and-night",
    ),
    pytest.param(
        [dosage(dose(300), every(2)), dosage(dose(1, "{capsule}"), repeat(when=["HS"]))],
        CAPSULE_300,
        (300, 3, 900, False),
        id="twice-a-day-plus-bedtime-capsule",
    ),
]


@pytest.mark.parametrize(("entries", "strength", "expected"), READABLE)
def test_readable_dosage(
    entries: list[Dosage], strength: Strength | None, expected: tuple[float, int, float, bool]
) -> None:
    read = read_dosage(entries, strength)
    assert read.problems == ()
    assert read.readable
    assert (read.dose_mg, read.times_per_day, read.daily_mg, read.as_needed) == expected


# (dosageInstruction entries, product strength, what the problem names)
UNREADABLE = [
    pytest.param(None, None, "no dosageInstruction", id="no-dosageInstruction"),
    pytest.param([], None, "no dosageInstruction", id="empty-dosageInstruction"),
    pytest.param([dosage(every(3))], None, "dosageInstruction[0] gives no dose", id="no-dose"),
    pytest.param(
        [dosage(dose(5, "mmol"), every(3))],
        None,
        "dosageInstruction[0].doseAndRate[0].doseQuantity: unit 'mmol'",
        id="unknown-unit",
    ),
    pytest.param(
        [dosage(dose(0), every(3))],
        None,
        "dosageInstruction[0].doseAndRate[0].doseQuantity.value must be more than 0",
        id="zero-dose",
    ),
    pytest.param(
        [dosage({"doseAndRate": [{"doseRange": {}}]}, every(3))],
        None,
        "dosageInstruction[0].doseAndRate[0].doseRange has neither low nor high",
        id="empty-range",
    ),
    # Every other day is not a whole number of doses every day.
    pytest.param(
        [dosage(dose(300), every(1, 2, "d"))], None, "0.5 doses a day", id="every-other-day"
    ),
    pytest.param(
        [dosage(dose(300), repeat(frequency=3))],
        None,
        "dosageInstruction[0].timing.repeat gives a frequency without period",
        id="frequency-without-period",
    ),
    pytest.param([dosage(dose(300))], None, "dosageInstruction[0] has no timing", id="no-timing"),
    pytest.param(
        [dosage(dose(300), code("Q3D"))],
        None,
        "dosageInstruction[0].timing gives no frequency",
        id="unknown-timing-code",
    ),
    # Pieces need the product's strength; a volume needs a solution.
    pytest.param(
        [dosage(dose(1, "{capsule}"), every(3))],
        None,
        "'{capsule}' needs the product's strength",
        id="capsule-without-strength",
    ),
    pytest.param(
        [dosage(dose(1, "TAB"), every(3))],
        None,
        "'TAB' needs the product's strength",
        id="TAB-without-strength",
    ),
    pytest.param(
        [dosage(dose(6, "mL"), every(3))],
        CAPSULE_300,
        "'mL' does not fit a product measured in capsule",
        id="mL-of-a-capsule",
    ),
    # One unreadable entry makes the whole order unreadable, named by its index.
    pytest.param(
        [dosage(dose(300), every(2)), dosage(dose(1, "puff"), repeat(when=["HS"]))],
        None,
        "dosageInstruction[1].doseAndRate[0].doseQuantity: unit 'puff'",
        id="second-entry-unreadable",
    ),
]


@pytest.mark.parametrize(("entries", "strength", "named"), UNREADABLE)
def test_unreadable_dosage(
    entries: list[Dosage] | None, strength: Strength | None, named: str
) -> None:
    read = read_dosage(entries, strength)
    assert not read.readable
    assert any(named in problem for problem in read.problems), read.problems
    assert (read.dose_mg, read.times_per_day, read.daily_mg, read.as_needed) == (
        None,
        None,
        None,
        False,
    )
    assert read.describe() == "dose not readable"


@pytest.mark.parametrize(
    ("entries", "note"),
    [
        pytest.param(
            [dosage(dose_range(300, 600), every(3))], "checked at its high end", id="range"
        ),
        pytest.param([dosage(dose_range(300, None), every(3))], "checked at its low end", id="low"),
        pytest.param(
            [dosage(dose(300), repeat(frequency=1, frequencyMax=3, period=1, periodUnit="d"))],
            "1-3 times, checked at the most",
            id="frequencyMax",
        ),
        pytest.param(
            [dosage(dose(300), every(1, 6, "h"), asNeededBoolean=True)],
            "as needed, checked at the most the order allows",
            id="prn",
        ),
        pytest.param(
            [dosage(dose(300), every(1, 6, "h"), at_most(900), asNeededBoolean=True)],
            "maxDosePerPeriod (900 mg/day) allows 3 dose(s) a day",
            id="prn-cap",
        ),
    ],
)
def test_choices_are_noted(entries: list[Dosage], note: str) -> None:
    read = read_dosage(entries, None)
    assert any(note in n for n in read.notes), read.notes


def test_as_needed_cap_limits_the_daily_dose() -> None:
    # 300 mg every 6 hours as needed, at most 900 mg a day: checked at 900 mg/day, not 1200.
    read = read_dosage(
        [dosage(dose(300), every(1, 6, "h"), at_most(900), asNeededBoolean=True)], None
    )
    assert read.daily_mg == 900
    assert read.as_needed


def test_describe() -> None:
    assert (
        read_dosage([dosage(dose(400), every(3))], None).describe()
        == "400 mg 3 times a day = 1200 mg/day"
    )
    assert (
        read_dosage([dosage(dose(300), every(1))], None).describe()
        == "300 mg once a day = 300 mg/day"
    )
    prn = read_dosage([dosage(dose(300), every(1, 8, "h"), asNeededBoolean=True)], None)
    assert prn.describe() == "300 mg 3 times a day as needed (at most) = 900 mg/day"


def test_sequential_steps_are_not_added_up() -> None:
    # A titration: 300 mg once a day for a day, then twice a day for a day, then three times a day.
    steps = [
        dosage(
            dose(300),
            repeat(frequency=n, period=1, periodUnit="d", boundsDuration=quantity(1, "d")),
            sequence=n,
        )
        for n in (1, 2)
    ] + [dosage(dose(300), every(3), sequence=3)]
    read = read_dosage(steps, None)
    # Either the highest step (900 mg/day in 3 doses) or "not read": never 1800 mg/day in 6 doses.
    assert read.problems or (read.daily_mg, read.times_per_day) == (900, 3)
