"""The plan as a chart: milligrams a day over the days of the plan, one colour (and one pattern in
the legend's words) per phase: titration, maintenance, taper, switch, and the dose after dialysis
stacked on its day. A Vega-Lite spec built with Altair from the assessment's own schedule, so the
chart shows exactly the doses that were planned.
"""

from __future__ import annotations

from collections import defaultdict

import altair as alt

from gabaguide.domain import Assessment
from gabaguide.interop.pkplot import COLOURS, WIDTH, Spec

PHASES = ("titration", "maintenance", "taper", "switch", "dialysis-supplement")
PHASE_NAMES = {
    "titration": "Titration (building up)",
    "maintenance": "Maintenance",
    "taper": "Taper (coming off)",
    "switch": "Switch",
    "dialysis-supplement": "After dialysis",
}


def plan_chart(a: Assessment) -> Spec | None:
    """Daily milligrams by plan day and phase; None when nothing is scheduled."""
    totals: dict[tuple[int, str, str], float] = defaultdict(float)
    for dose in a.schedule:
        totals[(dose.day, dose.phase, dose.product)] += dose.mg
    if not totals:
        return None
    rows = [
        {"day": day, "phase": PHASE_NAMES[phase], "product": product, "mg_per_day": round(mg, 3)}
        for (day, phase, product), mg in sorted(totals.items())
    ]
    present = [PHASE_NAMES[p] for p in PHASES if any(r["phase"] == PHASE_NAMES[p] for r in rows)]
    colour = alt.Scale(domain=present, range=list(COLOURS[: len(present)]))
    chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("day:Q", title="Day of the plan", scale=alt.Scale(nice=False)),
            # a day holds one phase, plus the dose after a dialysis session stacked on top
            y=alt.Y("mg_per_day:Q", title="mg per day", stack="zero"),
            color=alt.Color("phase:N", scale=colour, legend=alt.Legend(title=None, orient="top")),
            tooltip=[
                alt.Tooltip("day:Q", title="Day"),
                alt.Tooltip("phase:N", title="Phase"),
                alt.Tooltip("product:N", title="Product"),
                alt.Tooltip("mg_per_day:Q", title="mg/day"),
            ],
        )
        .properties(width=WIDTH, height=220, title="Daily dose over the plan")
    )
    spec: Spec = chart.to_dict()
    return spec
