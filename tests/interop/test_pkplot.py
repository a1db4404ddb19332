"""Concentration-time charts: a valid, self-contained Vega-Lite spec, rendered to PNG, SVG, HTML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import altair as alt
import pytest
import vl_convert as vlc

from gabaguide.errors import InputError
from gabaguide.interop.pkplot import CAUTION, MAX_POINTS, concentration_chart, render
from gabaguide.knowledge import Knowledge
from gabaguide.pk.models import Covariates
from gabaguide.pk.regimen import parse_regimen
from gabaguide.pk.simulate import Scenario, Simulation, simulate

TID = parse_regimen("400 mg TID")


@pytest.fixture(scope="module")
def normal(k: Knowledge) -> Simulation:
    return simulate(k, Scenario("gabapentin", TID, Covariates(90), days=3, n=300, seed=1))


@pytest.fixture(scope="module")
def renal(k: Knowledge) -> Simulation:
    return simulate(k, Scenario("gabapentin", TID, Covariates(25), days=3, n=300, seed=1))


@pytest.fixture(scope="module")
def typical(k: Knowledge) -> Simulation:
    return simulate(k, Scenario("gabapentin", TID, Covariates(60), days=3))


@pytest.fixture(scope="module")
def dialysis(k: Knowledge) -> Simulation:
    scenario = Scenario(
        "gabapentin",
        parse_regimen("300 mg QD"),
        Covariates(5),
        days=3,
        n=200,
        seed=1,
        dialysis_days=(0, 2),
        after_dialysis_mg=300,
    )
    return simulate(k, scenario)


@pytest.fixture(scope="module")
def pair(normal: Simulation, renal: Simulation) -> dict[str, Any]:
    return concentration_chart([("CrCl 90 mL/min", normal), ("CrCl 25 mL/min", renal)])


def _layers(spec: dict[str, Any], mark: str) -> list[dict[str, Any]]:
    def kind(layer: dict[str, Any]) -> str:
        m = layer["mark"]
        return str(m["type"] if isinstance(m, dict) else m)

    return [layer for layer in spec["layer"] if kind(layer) == mark]


def _rows(spec: dict[str, Any], layer: dict[str, Any]) -> list[dict[str, Any]]:
    data = layer["data"]
    rows = data["values"] if "values" in data else spec["datasets"][data["name"]]
    assert isinstance(rows, list)
    return rows


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def test_the_spec_is_valid_self_contained_vega_lite(pair: dict[str, Any]) -> None:
    assert pair["$schema"].startswith("https://vega.github.io/schema/vega-lite/v")
    alt.LayerChart.from_dict(pair)  # raises if the spec breaks the schema
    assert vlc.vegalite_to_vega(pair)["marks"]  # and Vega-Lite compiles it
    assert "url" not in set(_keys(pair))
    assert all(_rows(pair, layer) for layer in pair["layer"])
    json.dumps(pair, allow_nan=False)


def test_one_labelled_line_per_simulation_differing_in_colour_and_dash(
    pair: dict[str, Any], normal: Simulation
) -> None:
    [line] = _layers(pair, "line")
    labels = ["CrCl 90 mL/min", "CrCl 25 mL/min"]
    assert list(dict.fromkeys(r["series"] for r in _rows(pair, line))) == labels
    colour, dash = line["encoding"]["color"], line["encoding"]["strokeDash"]
    assert colour["scale"]["domain"] == dash["scale"]["domain"] == labels
    assert len({str(d) for d in dash["scale"]["range"]}) == 2
    assert len(set(colour["scale"]["range"])) == 2
    assert line["encoding"]["y"]["title"] == "Gabapentin plasma concentration (mg/L)"
    assert line["encoding"]["x"]["title"] == "Time since first dose (h)"
    median_90 = [r["p50"] for r in _rows(pair, line) if r["series"] == labels[0]]
    assert max(median_90) == pytest.approx(float(normal.percentiles[50].max()), rel=1e-3)


def test_title_names_the_regimen_and_subtitle_the_model_population_and_caution(
    pair: dict[str, Any], normal: Simulation
) -> None:
    title = pair["title"]
    assert title["text"] == "Gabapentin 400 mg TID"
    subtitle = "\n".join(title["subtitle"])
    assert normal.model.name in subtitle
    assert "shaded: 5th\u201395th percentile of 300 virtual patients" in subtitle
    assert "dialysis" not in subtitle
    assert title["subtitle"][-1] == CAUTION


def test_band_only_for_populations(
    normal: Simulation, typical: Simulation, pair: dict[str, Any]
) -> None:
    [band] = _layers(pair, "area")
    assert {r["series"] for r in _rows(pair, band)} == {"CrCl 90 mL/min", "CrCl 25 mL/min"}
    assert all(r["p5"] <= r["p50"] <= r["p95"] for r in _rows(pair, band))
    mixed = concentration_chart([("population", normal), ("typical", typical)])
    [band] = _layers(mixed, "area")
    assert {r["series"] for r in _rows(mixed, band)} == {"population"}
    alone = concentration_chart([("typical", typical)])
    assert _layers(alone, "area") == []
    assert "percentile" not in "\n".join(alone["title"]["subtitle"])


def test_dose_ticks_shared_when_the_doses_are_the_same(
    pair: dict[str, Any], normal: Simulation
) -> None:
    [ticks] = _layers(pair, "tick")
    rows = _rows(pair, ticks)
    assert len(rows) == len(normal.doses) == 9
    assert [r["time_h"] for r in rows] == [d.time_h for d in normal.doses]


def test_dose_ticks_per_series_when_the_doses_differ(
    normal: Simulation, dialysis: Simulation
) -> None:
    spec = concentration_chart([("CrCl 90 mL/min", normal), ("Haemodialysis", dialysis)])
    ticks = _layers(spec, "tick")
    counts = {_rows(spec, t)[0]["series"]: len(_rows(spec, t)) for t in ticks}
    assert counts == {"CrCl 90 mL/min": len(normal.doses), "Haemodialysis": len(dialysis.doses)}
    assert all("field" in t["encoding"]["color"] for t in ticks)  # in the series' colour


def test_dialysis_sessions_are_shaded(dialysis: Simulation, pair: dict[str, Any]) -> None:
    spec = concentration_chart([("Haemodialysis", dialysis)])
    [rects] = _layers(spec, "rect")
    rows = _rows(spec, rects)
    assert [(r["time_h"], r["end_h"]) for r in rows] == list(dialysis.dialysis_h)
    assert len(rows) == 2
    assert "haemodialysis" in "\n".join(spec["title"]["subtitle"])
    assert _layers(pair, "rect") == []
    alt.LayerChart.from_dict(spec)


def test_long_fine_grids_are_thinned(k: Knowledge) -> None:
    sim = simulate(k, Scenario("gabapentin", TID, Covariates(90), days=3, grid_minutes=1))
    assert sim.times_h.shape[0] > 2 * MAX_POINTS
    spec = concentration_chart([("fine", sim)])
    [line] = _layers(spec, "line")
    times = [r["time_h"] for r in _rows(spec, line)]
    assert len(times) <= MAX_POINTS + 1
    assert times[0] == 0
    assert times[-1] == pytest.approx(72)


@pytest.mark.parametrize(
    ("sims", "message"),
    [
        ([], "at least one simulation"),
        ([("same", None), ("same", None)], "labels must be different"),
    ],
)
def test_bad_series_are_input_errors(sims: list[Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        concentration_chart(sims)


def test_render_png(pair: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "curves.png"
    render(pair, path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_render_svg(pair: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "curves.SVG"
    render(pair, path)
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "CrCl 25 mL/min" in path.read_text(encoding="utf-8")


def test_render_html_works_offline(pair: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "curves.html"
    render(pair, path)
    html = path.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "https://cdn" not in html
    assert '<script src="http' not in html.replace("'", '"')
    assert "vegaEmbed" in html
    assert "CrCl 25 mL/min" in html


def test_render_refuses_other_formats(pair: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "x.pdf"
    with pytest.raises(InputError) as caught:
        render(pair, path)
    assert caught.value.problems == ("--plot must end in .png, .svg or .html; got 'x.pdf'",)
    assert not path.exists()
