"""The diary as charts: pain on the diary scale by day with red-flag days marked, and the plan's daily dose by
day. Vega-Lite specs built with Altair, drawn by the same page script as the other charts."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt

from gabaguide.interop.pkplot import COLOURS, WIDTH, Spec
from gabaguide.records import DiaryEntry, PlannedDay

# Diary days are calendar dates: parsed and shown in UTC, so a browser west of UTC does not label a
# day with the day before.
DAY = "utcyearmonthdate(date):T"
DAY_FORMAT = "%b %-d, %Y"
"""How the charts name a diary day ("Dec 5, 2026", d3-time-format as Vega reads it): the month in
words, so the date cannot be read day-first or month-first, and the day not zero-padded (Vega-Lite's
default for a date, "%b %d, %Y", gives "Dec 05, 2026"). Set on the axis and the tooltip; the marks'
accessible labels follow them."""


def pain_chart(entries: Sequence[DiaryEntry], scale_min: int, scale_max: int) -> Spec | None:
    """Pain by day (points joined by a line); red-flag days drawn as red diamonds."""
    if not entries:
        return None
    rows = [
        {"date": e.day, "pain": e.pain, "red_flag": "red flag" if e.red_flags else "no red flag"}
        for e in entries
    ]
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        x=alt.X(DAY, title="Date", axis=alt.Axis(format=DAY_FORMAT)),
        y=alt.Y(
            "pain:Q",
            title=f"Pain ({scale_min}-{scale_max})",
            scale=alt.Scale(domain=[scale_min, scale_max]),
        ),
        tooltip=[alt.Tooltip(DAY, title="date", format=DAY_FORMAT), "pain:Q", "red_flag:N"],
    )
    line = base.mark_line(color=COLOURS[0])
    points = base.mark_point(filled=True, size=70).encode(
        shape=alt.Shape(
            "red_flag:N",
            scale=alt.Scale(domain=["no red flag", "red flag"], range=["circle", "diamond"]),
            title=None,
        ),
        color=alt.Color(
            "red_flag:N",
            scale=alt.Scale(domain=["no red flag", "red flag"], range=[COLOURS[0], "#b00020"]),
            title=None,
        ),
    )
    chart = (line + points).properties(width=WIDTH, height=180, title="Pain by day")
    return dict(chart.to_dict())


def dose_chart(days: Sequence[PlannedDay]) -> Spec | None:
    """The plan's daily dose (mg/day) by day, as a step line."""
    rows = [{"date": d.date, "mg_per_day": d.daily_mg} for d in days if d.phase != "before"]
    if not rows:
        return None
    chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_line(interpolate="step-after", color=COLOURS[1])
        .encode(
            x=alt.X(DAY, title="Date", axis=alt.Axis(format=DAY_FORMAT)),
            y=alt.Y("mg_per_day:Q", title="Planned dose (mg/day)"),
            tooltip=[alt.Tooltip(DAY, title="date", format=DAY_FORMAT), "mg_per_day:Q"],
        )
        .properties(width=WIDTH, height=140, title="Planned daily dose")
    )
    return dict(chart.to_dict())
