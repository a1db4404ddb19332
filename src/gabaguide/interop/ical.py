"""The dose schedule as an iCalendar file (RFC 5545) the patient's calendar app can import.

Written with the ``icalendar`` library, never by hand. Each dose is one event at a *floating* local
time (no time zone): the dose is taken at that clock time wherever the patient is. Event UIDs are a
hash of the dose, so writing the same schedule twice gives the same events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from icalendar import (
    Alarm,
    Calendar,
    Event,
)

from gabaguide.domain import ScheduledDose, Unit

PRODID = "-//gabaguide//Medication schedule//EN"
CALENDAR_NAME = "Medication schedule"
EVENT_MINUTES = 5
CAUTION = "Follow your prescriber's instructions; do not change the dose yourself."


def calendar_ics(
    doses: Sequence[ScheduledDose],
    product_names: Mapping[str, str],
    reminder_minutes_before: int,
    stamp: datetime,
    uid_domain: str = "gabaguide",
) -> bytes:
    """One VCALENDAR with one VEVENT (and a reminder) per dose.

    ``product_names`` maps product ids to the names shown (the id when missing); ``stamp`` is the
    DTSTAMP of every event (a naive stamp is taken as UTC). Raises ValueError when a dose has no
    date: the schedule needs a start date to be put on a calendar.
    """
    undated = [d for d in doses if d.date is None]
    if undated:
        raise ValueError(
            f"{len(undated)} doses have no date; give the routine's start date to write a calendar"
        )
    if reminder_minutes_before < 0:
        raise ValueError(
            f"reminder_minutes_before must be 0 or more minutes; got {reminder_minutes_before}"
        )
    stamp_utc = stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", CALENDAR_NAME)
    for index, dose in enumerate(doses):
        name = product_names.get(dose.product, dose.product)
        cal.add_component(_event(dose, index, name, reminder_minutes_before, stamp_utc, uid_domain))
    return bytes(cal.to_ical())


def _event(
    dose: ScheduledDose,
    index: int,
    name: str,
    reminder_minutes_before: int,
    stamp: datetime,
    uid_domain: str,
) -> Event:
    summary = f"{name} {dose.mg:g} mg ({dose.phase})"
    description = _description(dose)
    event = Event()
    event.add("uid", f"{_uid(dose, index)}@{uid_domain}")
    event.add("dtstamp", stamp)
    event.add("dtstart", start_of(dose))
    event.add("duration", timedelta(minutes=EVENT_MINUTES))
    event.add("summary", summary)
    event.add("description", description)
    event.add("categories", ["medication"])
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", summary)
    alarm.add("trigger", timedelta(minutes=-reminder_minutes_before))
    event.add_component(alarm)
    return event


def start_of(dose: ScheduledDose) -> datetime:
    """The dose's floating local date and time (ValueError without a date)."""
    if dose.date is None:
        raise ValueError("a dose without a date has no start; give the routine's start date")
    return datetime.combine(date.fromisoformat(dose.date), time.fromisoformat(dose.time))


def _uid(dose: ScheduledDose, index: int) -> str:
    key = f"{dose.date}|{dose.time}|{dose.phase}|{dose.product}|{dose.mg:g}|{index}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _description(dose: ScheduledDose) -> str:
    lines = [f"Take {' + '.join(_unit(u) for u in dose.units)} ({dose.mg:g} mg)."]
    if dose.note:
        lines.append(dose.note[0].upper() + dose.note[1:] + ".")
    lines.append(CAUTION)
    return "\n".join(lines)


def _unit(u: Unit) -> str:
    if u.measure == "mL":
        return f"{u.count:g} mL of {u.form}"
    return f"{u.count:g} x {u.form}"
