"""The schedule as an iCalendar file: written with icalendar, read back event by event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar, Component

from gabaguide import Unit, load_knowledge
from gabaguide.clinical.schedule import schedule_plan
from gabaguide.domain import Routine, ScheduledDose
from gabaguide.interop.ical import CAUTION, calendar_ics, start_of
from tests.conftest import PHN, run

K = load_knowledge()
NAMES = {"gabapentin": "Gabapentin"}
STAMP = datetime(2025, 2, 28, 9, 30, tzinfo=UTC)


def _doses(start_date: str | None = "2025-03-01") -> tuple[ScheduledDose, ...]:
    a = run(**PHN)
    assert a.plan is not None
    routine = Routine(wake="07:00", sleep="22:00", start_date=start_date)
    product = K.product_by_id["gabapentin"]
    return schedule_plan(K, a.plan, product, "postherpetic-neuralgia", routine, (), False).doses


def _dose(units: tuple[Unit, ...], mg: float, note: str | None = None) -> ScheduledDose:
    return ScheduledDose(
        day=1,
        date="2025-03-01",
        time="08:00",
        phase="titration",
        product="gabapentin",
        mg=mg,
        units=units,
        note=note,
    )


def _events(ics: bytes) -> list[Component]:
    return list(Calendar.from_ical(ics).walk("VEVENT"))


def test_calendar_has_one_event_per_scheduled_dose() -> None:
    doses = _doses()
    ics = calendar_ics(doses, NAMES, 15, STAMP)
    cal = Calendar.from_ical(ics)
    assert str(cal["PRODID"]).startswith("-//gabaguide")
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["CALSCALE"]) == "GREGORIAN"
    assert str(cal["X-WR-CALNAME"]) == "Medication schedule"
    events = _events(ics)
    assert len(events) == len(doses)
    for event, dose in zip(events, doses, strict=True):
        start = event.decoded("DTSTART")
        assert start == start_of(dose)
        assert start.tzinfo is None  # floating local time
        assert start.strftime("%Y-%m-%d %H:%M") == f"{dose.date} {dose.time}"
        assert event.decoded("DURATION") == timedelta(minutes=5)
        assert event.decoded("DTSTAMP") == STAMP
        assert f"{dose.mg:g} mg" in str(event["SUMMARY"])
        assert dose.phase in str(event["SUMMARY"])
        assert CAUTION in str(event["DESCRIPTION"])
        alarms = event.walk("VALARM")
        assert len(alarms) == 1
        assert str(alarms[0]["ACTION"]) == "DISPLAY"
        assert alarms[0].decoded("TRIGGER") == timedelta(minutes=-15)
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_same_schedule_gives_the_same_calendar() -> None:
    doses = _doses()
    assert calendar_ics(doses, NAMES, 0, STAMP) == calendar_ics(doses, NAMES, 0, STAMP)


def test_reminder_at_start_when_no_lead_time() -> None:
    (event,) = _events(calendar_ics(_doses()[:1], NAMES, 0, STAMP))
    assert event.walk("VALARM")[0].decoded("TRIGGER") == timedelta(0)


@pytest.mark.parametrize(
    ("unit", "mg", "text"),
    [
        pytest.param(
            Unit(strength_mg=300, form="300 mg capsule", count=1, measure="capsule"),
            300,
            "Take 1 x 300 mg capsule (300 mg).",
            id="capsule",
        ),
        pytest.param(
            Unit(strength_mg=600, form="600 mg scored tablet", count=0.5, measure="tablet"),
            300,
            "Take 0.5 x 600 mg scored tablet (300 mg).",
            id="half-tablet",
        ),
        pytest.param(
            Unit(strength_mg=50, form="250 mg/5 mL oral solution", count=3, measure="mL"),
            150,
            "Take 3 mL of 250 mg/5 mL oral solution (150 mg).",
            id="solution-in-mL",
        ),
    ],
)
def test_description_says_what_to_take(unit: Unit, mg: float, text: str) -> None:
    dose = _dose((unit,), mg, note="with the evening meal")
    (event,) = _events(calendar_ics([dose], NAMES, 0, STAMP))
    description = str(event["DESCRIPTION"])
    assert description.splitlines() == [text, "With the evening meal.", CAUTION]


def test_naive_stamp_is_taken_as_utc() -> None:
    naive = datetime(2025, 2, 28, 9, 30)
    (event,) = _events(calendar_ics(_doses()[:1], NAMES, 0, naive))
    assert event.decoded("DTSTAMP") == STAMP


def test_doses_without_a_date_cannot_be_put_on_a_calendar() -> None:
    with pytest.raises(ValueError, match="start date"):
        calendar_ics(_doses(start_date=None), NAMES, 0, STAMP)


def test_dialysis_supplements_are_events_after_each_session() -> None:
    """On hemodialysis Mon/Wed/Fri ending 13:00 from Monday 7 Dec 2026: the supplement of the
    maintenance dose's column (CrCl 10, 1800 mg/day column -> 200 mg) is an event at 13:00 on
    session days only [NEU48 §2.3 Table 1 footnote b]."""
    a = run(
        age_years=60,
        crcl_ml_min=10,
        dialysis="hemodialysis",
        indication="PHN",
        routine={
            "dialysis_days": ["mon", "wed", "fri"],
            "dialysis_end": "13:00",
            "start_date": "2026-12-07",
        },
    )
    supplements = [
        e
        for e in _events(calendar_ics(a.schedule, NAMES, 0, STAMP))
        if "dialysis" in str(e.get("summary"))
    ]
    assert supplements
    starts = [e.decoded("dtstart") for e in supplements]
    assert all(s.strftime("%a %H:%M") in ("Mon 13:00", "Wed 13:00", "Fri 13:00") for s in starts)
    # the maintenance dose's column gives 200 mg; titration days get their own (lower) column's
    assert "200 mg" in str(supplements[-1].get("summary"))
    assert {str(e.get("summary")).split()[1] for e in supplements} <= {"125", "150", "200"}
    assert len(supplements) == sum(1 for d in a.schedule if d.phase == "dialysis-supplement")
