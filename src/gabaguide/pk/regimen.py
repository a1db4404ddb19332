"""Regimens as people write them: ``"400 mg TID"``, ``"300 mg q8h"``, ``"600 mg BID"``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gabaguide.errors import InputError

# Words for "n times a day" (Latin abbreviations as prescriptions use them).
TIMES_A_DAY = {"QD": 1, "OD": 1, "DAILY": 1, "QHS": 1, "BID": 2, "TID": 3, "QID": 4}
HOURS_PER_DAY = 24.0
# Input sanity, not clinical advice: a single dose beyond this is a typing error.
MAX_SINGLE_DOSE_MG = 10_000.0

_REGIMEN = re.compile(
    r"^\s*(?P<dose>[0-9]+(?:\.[0-9]+)?)\s*mg\s+(?:(?P<word>[A-Za-z]+)|q\s*(?P<every>[0-9]+(?:\.[0-9]+)?)\s*h)\s*$",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"^(?P<h>[01][0-9]|2[0-3]):(?P<m>[0-5][0-9])$")


@dataclass(frozen=True)
class Regimen:
    """A repeating dose: ``dose_mg`` at each of ``times_h`` (hours after midnight) every day."""

    dose_mg: float
    times_h: tuple[float, ...]
    text: str

    @property
    def daily_mg(self) -> float:
        return self.dose_mg * len(self.times_h)


def parse_clock(text: str, field: str) -> float:
    """``"08:30"`` → 8.5 (hours after midnight)."""
    m = _CLOCK.match(text.strip())
    if not m:
        raise InputError([f"{field} must be a time of day HH:MM (00:00 to 23:59); got {text!r}"])
    return int(m["h"]) + int(m["m"]) / 60.0


def parse_regimen(text: str, times: tuple[str, ...] = (), times_field: str = "times") -> Regimen:
    """Parse ``"<dose> mg <QD|BID|TID|QID|qNh>"``; ``times`` (HH:MM) place the doses in the day,
    otherwise the first dose is at 00:00 and the rest evenly spaced."""
    m = _REGIMEN.match(text)
    problems: list[str] = []
    per_day = 0
    if not m:
        raise InputError(
            [f"regimen must look like '400 mg TID' (QD, BID, TID, QID or q<N>h); got {text!r}"]
        )
    dose = float(m["dose"])
    if not 0 < dose <= MAX_SINGLE_DOSE_MG:
        problems.append(
            f"regimen dose must be more than 0 and at most {MAX_SINGLE_DOSE_MG:g} mg; got {dose:g}"
        )
    if m["word"] is not None:
        per_day = TIMES_A_DAY.get(m["word"].upper(), 0)
        if per_day == 0:
            problems.append(
                f"regimen frequency must be QD, BID, TID, QID or q<N>h; got {m['word']!r}"
            )
    else:
        every = float(m["every"])
        if every <= 0 or HOURS_PER_DAY % every != 0:
            problems.append(
                f"regimen q<N>h must divide the day (q4h, q6h, q8h, q12h, q24h); got q{m['every']}h"
            )
        else:
            per_day = int(HOURS_PER_DAY / every)
    if problems:
        raise InputError(problems)
    if times:
        clock = tuple(sorted(parse_clock(t, times_field) for t in times))
        if len(clock) != per_day or len(set(clock)) != per_day:
            raise InputError(
                [
                    f"{times_field} must give {per_day} different times for {text.strip()!r}; got {len(set(clock))}"
                ]
            )
        return Regimen(dose_mg=dose, times_h=clock, text=text.strip())
    spacing = HOURS_PER_DAY / per_day
    return Regimen(
        dose_mg=dose, times_h=tuple(i * spacing for i in range(per_day)), text=text.strip()
    )
