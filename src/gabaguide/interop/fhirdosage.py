"""Read a FHIR R4 ``dosageInstruction`` as milligrams per dose and doses per day.

Covered: ``doseAndRate.doseQuantity`` (mg, g, mcg, or pieces/mL of a product of known strength),
``doseRange`` (checked at its high end), ``timing.repeat`` frequency/frequencyMax/period/periodUnit,
``timeOfDay`` and ``when`` (one dose per entry when no frequency is given), ``timing.code``
(BID, TID, ...), ``asNeeded`` (checked at the most the order allows, capped by
``maxDosePerPeriod``), and several ``Dosage`` entries (their doses add up). What cannot be read
exactly is reported, never guessed: a regimen that is not a whole number of doses a day, a dose in
an unknown unit, or no dose at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from fhir.resources.R4B.dosage import Dosage
from fhir.resources.R4B.quantity import Quantity

# Unit arithmetic, not clinical facts: a dose's mass in mg, and a period's length in days.
MG_PER_UNIT = {
    "mg": Fraction(1),
    "g": Fraction(1000),
    "mcg": Fraction(1, 1000),
    "ug": Fraction(1, 1000),
}
_PIECE_UNITS = {
    "1", "{capsule}", "{capsules}", "{cap}", "{tablet}", "{tablets}", "{tbl}", "{tab}",
    "capsule", "capsules", "cap", "caps", "tablet", "tablets", "tab", "tabs", "each", "ea",
}  # fmt: skip
_ML_UNITS = {"ml", "mL"}
DAYS_PER_UNIT = {
    "s": Fraction(1, 86400),
    "min": Fraction(1, 1440),
    "h": Fraction(1, 24),
    "d": Fraction(1),
    "wk": Fraction(7),
    "mo": Fraction("30.4375"),  # UCUM mo: the mean Julian month
    "a": Fraction("365.25"),  # UCUM a: the Julian year
}
# HL7 v3 GTSAbbreviation codes of a regular daily regimen: doses per day.
_TIMING_CODES = {
    "QD": 1, "AM": 1, "PM": 1, "BID": 2, "TID": 3, "QID": 4, "Q4H": 6, "Q6H": 4, "Q8H": 3,
    "Q12H": 2, "Q24H": 1,
}  # fmt: skip


@dataclass(frozen=True)
class Strength:
    """What one piece (or one mL) of the ordered product holds."""

    mg: float
    measure: str  # capsule | tablet | mL


@dataclass(frozen=True)
class DosageRead:
    """An order's dose as gabaguide checks it, or the reasons it cannot be read."""

    dose_mg: float | None
    """Milligrams per dose (the average when the doses of a day differ)."""
    times_per_day: int | None
    daily_mg: float | None
    as_needed: bool
    notes: tuple[str, ...]
    """How the dose was read where a choice was made (a range checked at its high end, ...)."""
    problems: tuple[str, ...]
    """Why the dose could not be read; empty when it was."""

    @property
    def readable(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if not self.readable:
            return "dose not readable"
        assert self.dose_mg is not None
        assert self.times_per_day is not None
        times = "once a day" if self.times_per_day == 1 else f"{self.times_per_day} times a day"
        prn = " as needed (at most)" if self.as_needed else ""
        return f"{self.dose_mg:g} mg {times}{prn} = {self.daily_mg:g} mg/day"


def read_dosage(instructions: Sequence[Dosage] | None, strength: Strength | None) -> DosageRead:
    """The daily regimen of an order's ``dosageInstruction``. Entries without a ``sequence``, or
    with the same one, are taken together (their doses add up); entries with different sequence
    numbers follow each other (a titration), and the step with the highest daily dose is checked."""
    if not instructions:
        return unreadable("the order has no dosageInstruction")
    steps: dict[int | None, list[tuple[int, Dosage]]] = {}
    for i, dosage in enumerate(instructions):
        steps.setdefault(dosage.sequence, []).append((i, dosage))
    reads = [_step(entries, strength) for entries in steps.values()]
    problems = [p for r in reads for p in r.problems]
    if problems:
        return unreadable(*problems)
    worst = max(reads, key=lambda r: r.daily_mg or 0)
    if len(reads) > 1:
        note = "dosage steps follow each other (sequence): the step with the highest daily dose is checked"
        worst = replace(worst, notes=(*worst.notes, note))
    return worst


def _step(entries: Sequence[tuple[int, Dosage]], strength: Strength | None) -> DosageRead:
    total_mg = Fraction(0)
    total_times = Fraction(0)
    notes: list[str] = []
    problems: list[str] = []
    as_needed = False
    for i, dosage in entries:
        where = f"dosageInstruction[{i}]"
        part = _one(dosage, strength, where)
        if isinstance(part, str):
            problems.append(part)
            continue
        mg, times, part_notes, prn = part
        total_mg += mg * times
        total_times += times
        notes += part_notes
        as_needed = as_needed or prn
    if problems:
        return unreadable(*problems)
    if total_times.denominator != 1 or total_times < 1:
        return unreadable(
            f"dosageInstruction: {_num(total_times)} doses a day; gabaguide checks regimens of "
            "whole doses every day"
        )
    count = int(total_times)
    return DosageRead(
        dose_mg=_float(total_mg / count),
        times_per_day=count,
        daily_mg=_float(total_mg),
        as_needed=as_needed,
        notes=tuple(notes),
        problems=(),
    )


def _one(
    dosage: Dosage, strength: Strength | None, where: str
) -> tuple[Fraction, Fraction, list[str], bool] | str:
    notes: list[str] = []
    mg = _dose_mg(dosage, strength, where, notes)
    if isinstance(mg, str):
        return mg
    times = _times_per_day(dosage, where, notes)
    if isinstance(times, str):
        return times
    prn = bool(dosage.asNeededBoolean) or dosage.asNeededCodeableConcept is not None
    if prn:
        notes.append(f"{where}: as needed, checked at the most the order allows")
        cap = _max_per_day_mg(dosage, strength)
        if cap is not None and cap < mg * times:
            fewer = max(1, math.floor(cap / mg))
            notes.append(
                f"{where}: maxDosePerPeriod ({_num(cap)} mg/day) allows {fewer} dose(s) a day"
            )
            return mg, Fraction(fewer), notes, True
    return mg, times, notes, prn


def _dose_mg(
    dosage: Dosage, strength: Strength | None, where: str, notes: list[str]
) -> Fraction | str:
    for i, dr in enumerate(dosage.doseAndRate or ()):
        if dr.doseQuantity is not None:
            return _quantity_mg(dr.doseQuantity, strength, f"{where}.doseAndRate[{i}].doseQuantity")
        if dr.doseRange is not None:
            high = dr.doseRange.high or dr.doseRange.low
            if high is None:
                return f"{where}.doseAndRate[{i}].doseRange has neither low nor high"
            if dr.doseRange.high is None:
                notes.append(f"{where}: dose range without a high end, checked at its low end")
            else:
                notes.append(f"{where}: dose range, checked at its high end")
            return _quantity_mg(high, strength, f"{where}.doseAndRate[{i}].doseRange")
    return f"{where} gives no dose (doseAndRate.doseQuantity or doseRange)"


def _quantity_mg(q: Quantity, strength: Strength | None, where: str) -> Fraction | str:
    if q.value is None:
        return f"{where} has no value"
    value = Fraction(Decimal(q.value))
    if value <= 0:
        return f"{where}.value must be more than 0; got {q.value}"
    unit = (q.code or q.unit or "").strip()
    if unit.lower() in MG_PER_UNIT:
        return value * MG_PER_UNIT[unit.lower()]
    counted = unit in _PIECE_UNITS or unit.lower() in _PIECE_UNITS
    if (counted or unit in _ML_UNITS) and strength is not None:
        if (unit in _ML_UNITS) != (strength.measure == "mL"):
            return (
                f"{where}: a dose in {unit!r} does not fit a product measured in {strength.measure}"
            )
        return value * Fraction(Decimal(str(strength.mg)))
    if counted or unit in _ML_UNITS:
        return f"{where}: a dose in {unit!r} needs the product's strength (an RxNorm product code)"
    return f"{where}: unit {unit!r} is not understood (mg, g, mcg, pieces or mL)"


def _times_per_day(dosage: Dosage, where: str, notes: list[str]) -> Fraction | str:
    timing = dosage.timing
    if timing is None:
        return f"{where} has no timing"
    rep = timing.repeat
    if rep is not None and (rep.frequency is not None or rep.period is not None):
        frequency = rep.frequency if rep.frequency is not None else 1
        if rep.frequencyMax is not None and rep.frequencyMax > frequency:
            notes.append(f"{where}: {frequency}-{rep.frequencyMax} times, checked at the most")
            frequency = rep.frequencyMax
        if rep.period is None or rep.periodUnit is None:
            return f"{where}.timing.repeat gives a frequency without period and periodUnit"
        if rep.periodUnit not in DAYS_PER_UNIT:
            return f"{where}.timing.repeat.periodUnit {rep.periodUnit!r} is not a FHIR unit of time"
        days = Fraction(Decimal(rep.period)) * DAYS_PER_UNIT[rep.periodUnit]
        if days <= 0:
            return f"{where}.timing.repeat.period must be more than 0"
        return Fraction(frequency) / days
    if rep is not None and rep.timeOfDay:
        return Fraction(len(rep.timeOfDay))
    if rep is not None and rep.when:
        return Fraction(len(rep.when))
    code = timing.code
    for coding in (code.coding or ()) if code is not None else ():
        if coding.code in _TIMING_CODES:
            return Fraction(_TIMING_CODES[coding.code])
    if code is not None and code.text and code.text.strip().upper() in _TIMING_CODES:
        return Fraction(_TIMING_CODES[code.text.strip().upper()])
    return f"{where}.timing gives no frequency, timeOfDay, when or known code"


def _max_per_day_mg(dosage: Dosage, strength: Strength | None) -> Fraction | None:
    ratio = dosage.maxDosePerPeriod
    if ratio is not None:
        num, den = ratio.numerator, ratio.denominator
        if num is None or den is None or den.value is None or den.value <= 0:
            return None
        mg = _quantity_mg(num, strength, "maxDosePerPeriod")
        unit = den.code or den.unit or ""
        if isinstance(mg, str) or unit not in DAYS_PER_UNIT:
            return None
        return mg / (Fraction(Decimal(den.value)) * DAYS_PER_UNIT[unit])
    return None


def unreadable(*problems: str) -> DosageRead:
    """A dosage that cannot be checked, with the reasons."""
    return DosageRead(None, None, None, False, (), tuple(problems))


def _float(x: Fraction) -> float:
    return round(float(x), 6)


def _num(x: Fraction) -> str:
    return f"{_float(x):g}"
