"""Concentration-time charts of PK simulations: a Vega-Lite spec, and PNG, SVG or offline HTML.

:func:`concentration_chart` builds one self-contained Vega-Lite spec (data inline, no URLs) with
Altair: per labelled simulation the median curve, the 5th-95th percentile band of a population,
its doses as ticks along the bottom, and dialysis sessions as grey blocks. Series differ by colour
*and* dash pattern, and are named in the legend. :func:`render` writes the spec with vl-convert,
whose bundled JavaScript makes the HTML work without a network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import vl_convert as vlc

from gabaguide.errors import InputError
from gabaguide.pk.simulate import Simulation

Spec = dict[str, Any]

MAX_POINTS = 2000  # per series; the time grid is thinned to at most this many points
WIDTH = 640
HEIGHT = 320
PNG_SCALE = 2.0
CAUTION = "Simulation for education and planning; follow the prescriber."
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ((1, 0), (6, 3), (2, 2), (8, 3, 2, 3), (12, 4), (4, 4, 1, 4), (1, 3))
DOSE_COLOUR = "#444444"
DIALYSIS_COLOUR = "#9E9E9E"
TICK_ROW_PX = 8  # vertical distance between the dose-tick rows of different series


def concentration_chart(sims: Sequence[tuple[str, Simulation]]) -> Spec:
    """A Vega-Lite spec of the labelled simulations' concentrations over time (labels distinct)."""
    labels = [label for label, _ in sims]
    if not sims:
        raise InputError(["a concentration chart needs at least one simulation"])
    if len(set(labels)) != len(labels):
        raise InputError([f"chart series labels must be different; got {labels}"])
    end_h = max(float(sim.times_h[-1]) for _, sim in sims)
    x = alt.X(
        "time_h:Q",
        title="Time since first dose (h)",
        scale=alt.Scale(domain=[0, end_h], nice=False),
        axis=alt.Axis(values=_hour_ticks(end_h)),
    )
    series = alt.Scale(domain=labels, range=list(COLOURS[: len(labels)]))
    dashes = alt.Scale(domain=labels, range=[list(d) for d in DASHES[: len(labels)]])
    legend = alt.Legend(
        title=None,
        orient="top",
        symbolType="stroke",
        symbolStrokeWidth=2.5,
        symbolOpacity=1,
        symbolSize=400,
        labelLimit=320,
    )
    colour = alt.Color("series:N", scale=series, legend=legend)
    curves = [row for label, sim in sims for row in _curve_rows(label, sim)]
    layers: list[alt.LayerChart | alt.Chart] = []
    sessions = _dialysis_rows(sims)
    if sessions:
        layers.append(
            alt.Chart(alt.InlineData(values=sessions))
            .mark_rect(color=DIALYSIS_COLOUR, opacity=0.25)
            .encode(
                x=x,
                x2="end_h:Q",
                tooltip=[
                    alt.Tooltip("what:N", title="Session"),
                    alt.Tooltip("time_h:Q", title="Start (h)", format=".1f"),
                    alt.Tooltip("end_h:Q", title="End (h)", format=".1f"),
                    alt.Tooltip("series:N", title="Scenarios"),
                ],
            )
        )
    bands = [row for row in curves if row["p5"] is not None]
    if bands:
        layers.append(
            alt.Chart(alt.InlineData(values=bands))
            .mark_area(opacity=0.18)
            .encode(x=x, y="p5:Q", y2="p95:Q", color=colour)
        )
    layers.append(
        alt.Chart(alt.InlineData(values=curves))
        .mark_line(strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("p50:Q", title=_y_title(sims), scale=alt.Scale(zero=True)),
            color=colour,
            strokeDash=alt.StrokeDash("series:N", scale=dashes, legend=legend),
            tooltip=[
                alt.Tooltip("series:N", title="Scenario"),
                alt.Tooltip("time_h:Q", title="Time (h)", format=".2f"),
                alt.Tooltip("p50:Q", title="Median (mg/L)", format=".2f"),
                alt.Tooltip("p5:Q", title="5th percentile (mg/L)", format=".2f"),
                alt.Tooltip("p95:Q", title="95th percentile (mg/L)", format=".2f"),
            ],
        )
    )
    layers.extend(_dose_layers(sims, x, colour))
    chart = alt.layer(*layers).properties(
        width=WIDTH,
        height=HEIGHT,
        title=alt.TitleParams(
            _title(sims), subtitle=_subtitle(sims, bool(sessions)), anchor="start"
        ),
    )
    spec: Spec = chart.to_dict()  # validates against the Vega-Lite schema
    return spec


def render(spec: Spec, path: Path) -> None:
    """Write ``spec`` as PNG, SVG or self-contained HTML, chosen by the suffix of ``path``."""
    suffix = path.suffix.lower()
    if suffix == ".png":
        path.write_bytes(vlc.vegalite_to_png(spec, vl_version=_vl_version(spec), scale=PNG_SCALE))
    elif suffix == ".svg":
        path.write_text(vlc.vegalite_to_svg(spec, vl_version=_vl_version(spec)), encoding="utf-8")
    elif suffix == ".html":
        html = vlc.vegalite_to_html(spec, vl_version=_vl_version(spec), bundle=True)
        path.write_text(html, encoding="utf-8")
    else:
        raise InputError([f"--plot must end in .png, .svg or .html; got {path.name!r}"])


def _vl_version(spec: Spec) -> str:
    """The ``"6.4"`` of a ``$schema`` ending in ``v6.4.1.json``; vl-convert's latest otherwise."""
    schema = str(spec.get("$schema", ""))
    version = schema.rsplit("/v", 1)[-1].removesuffix(".json").split(".")
    wanted = ".".join(version[:2])
    return wanted if wanted in vlc.get_vegalite_versions() else vlc.get_vegalite_versions()[-1]


def _stride(points: int) -> int:
    return max(1, math.ceil(points / MAX_POINTS))


def _curve_rows(label: str, sim: Simulation) -> list[dict[str, Any]]:
    """Median (and for a population the 5th/95th percentiles) on every k-th grid point."""
    times = sim.times_h
    keep = np.arange(0, times.shape[0], _stride(times.shape[0]))
    if keep[-1] != times.shape[0] - 1:
        keep = np.append(keep, times.shape[0] - 1)
    if sim.scenario.n > 1:
        p = sim.percentiles
        p5, p50, p95 = (_rounded(p[q][keep]) for q in (5, 50, 95))
    else:
        p50 = _rounded(sim.concentrations[keep, 0])
        p5 = p95 = [None] * keep.shape[0]
    return [
        {"series": label, "time_h": round(float(t), 3), "p5": lo, "p50": mid, "p95": hi}
        for t, lo, mid, hi in zip(times[keep], p5, p50, p95, strict=True)
    ]


def _rounded(values: np.ndarray) -> list[float | None]:
    """Four significant digits: plenty for a chart, and a smaller spec."""
    return [float(f"{float(v):.4g}") for v in values]


def _dose_key(sim: Simulation) -> tuple[tuple[float, float], ...]:
    return tuple((d.time_h, d.amount_mg) for d in sim.doses)


def _dose_layers(
    sims: Sequence[tuple[str, Simulation]], x: alt.X, colour: alt.Color
) -> list[alt.Chart]:
    """Doses as ticks along the bottom: one grey row when every series has the same doses,
    otherwise one row per series in its colour (the first series lowest)."""
    shared = len({_dose_key(sim) for _, sim in sims}) == 1
    groups = [("all", sims[0][1])] if shared else list(sims)
    layers = []
    for row, (label, sim) in enumerate(groups):
        values = [
            {
                "series": label,
                "time_h": round(d.time_h, 3),
                "amount_mg": d.amount_mg,
                "note": "after antacid" if d.after_antacid else "",
            }
            for d in sim.doses
        ]
        layers.append(
            alt.Chart(alt.InlineData(values=values))
            .mark_tick(orient="vertical", thickness=1.5, size=7)
            .encode(
                x=x,
                y=alt.value(HEIGHT - 4 - row * TICK_ROW_PX),
                color=alt.value(DOSE_COLOUR) if shared else colour,
                tooltip=[
                    alt.Tooltip("series:N", title="Dose of"),
                    alt.Tooltip("time_h:Q", title="Time (h)", format=".2f"),
                    alt.Tooltip("amount_mg:Q", title="Dose (mg)"),
                    alt.Tooltip("note:N", title="Note"),
                ],
            )
        )
    return layers


def _dialysis_rows(sims: Sequence[tuple[str, Simulation]]) -> list[dict[str, Any]]:
    """One block per distinct dialysis session, naming the series that have it."""
    owners: dict[tuple[float, float], list[str]] = {}
    for label, sim in sims:
        for session in sim.dialysis_h:
            owners.setdefault(session, []).append(label)
    return [
        {"what": "Haemodialysis", "time_h": start, "end_h": end, "series": ", ".join(names)}
        for (start, end), names in sorted(owners.items())
    ]


def _hour_ticks(end_h: float) -> list[float]:
    """Every 24 h over several days, finer over a short simulation."""
    step = next((s for s in (2, 4, 6, 12, 24, 48, 96) if end_h / s <= 14), 168)
    return [float(t) for t in np.arange(0.0, end_h + 1e-9, step)]


def _distinct(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _y_title(sims: Sequence[tuple[str, Simulation]]) -> str:
    drugs = _distinct([sim.scenario.drug for _, sim in sims])
    drug = drugs[0].capitalize() + " plasma" if len(drugs) == 1 else "Plasma"
    return f"{drug} concentration (mg/L)"


def _title(sims: Sequence[tuple[str, Simulation]]) -> str:
    return " vs ".join(
        _distinct(
            [f"{sim.scenario.drug.capitalize()} {sim.scenario.regimen.text}" for _, sim in sims]
        )
    )


def _subtitle(sims: Sequence[tuple[str, Simulation]], dialysis: bool) -> list[str]:
    ns = _distinct([f"{sim.scenario.n:,}" for _, sim in sims if sim.scenario.n > 1])
    typical = any(sim.scenario.n == 1 for _, sim in sims)
    line = "Lines: median" if ns else "Lines: the typical patient"
    if ns and typical:
        line += " (the typical patient where no band)"
    if ns:
        line += f"; shaded: 5th\u201395th percentile of {' / '.join(ns)} virtual patients"
    marks = "Ticks along the bottom: doses" + (
        "; grey blocks: haemodialysis sessions." if dialysis else "."
    )
    models = ", ".join(_distinct([sim.model.name for _, sim in sims]))
    return [f"Model — {models}.", line + ".", marks, CAUTION]
