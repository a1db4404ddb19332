"""The audit's HTML report: one self-contained page (charts as inline SVG, no scripts, no network)
with the rates per rule, by age band, by kidney-function band and by month, and the table of the
definitions used with their sources."""

from __future__ import annotations

from html import escape
from typing import Any

import altair as alt
import vl_convert as vlc

from gabaguide.audit.definitions import AuditDefinitions
from gabaguide.knowledge.schema import Source

_WIDTH = 640
Spec = dict[str, Any]


def render_report(summary: dict[str, Any], defs: AuditDefinitions) -> str:
    """The report page for an audit summary (as run.py writes it)."""
    rules = summary["rules"]
    titles = {rid: r["title"] for rid, r in rules.items()}
    pop = summary["population"]
    inp = summary["input"]
    sections = [
        f"<h1>Gabapentinoid prescribing audit</h1>"
        f"<p class=note>Data: <code>{escape(inp['folder'])}</code>, as of {escape(inp['as_of'])}; "
        f"{inp['patients']:,} patients, {inp['prescriptions']:,} prescriptions, "
        f"{inp['labs']:,} lab results; backend {escape(summary['backend'])}. "
        f"{pop['gabapentinoid_prescriptions']:,} gabapentinoid prescriptions for "
        f"{pop['gabapentinoid_patients']:,} patients were assessed. The audit finds prescriptions "
        "to review; each decision about a patient is the prescriber's.</p>",
        "<h2>Flagged, per rule</h2>",
        _rules_table(rules, pop),
        _svg(_rate_chart(rules)),
        "<h2>By age band</h2>",
        _svg(_dimension_chart(summary["by_age_band"], "age_band", "Age at start", titles)),
        "<h2>By kidney-function band</h2>",
        "<p class=note>The renal table row of the prescription's product for the CrCl "
        "(Cockcroft-Gault) from the latest creatinine on or before the start.</p>",
        _svg(_dimension_chart(summary["by_kidney_band"], "kidney_band", "Kidney band", titles)),
        "<h2>By month of start</h2>",
        _svg(_month_chart(summary["by_month"], titles)),
        "<h2>Definitions and sources</h2>",
        _definitions_table(defs),
    ]
    return _PAGE.format(body="\n".join(sections))


def _rules_table(rules: dict[str, Any], pop: dict[str, int]) -> str:
    rows = []
    for rid, r in rules.items():
        rate = "n/a" if r["rate"] is None else f"{100 * r['rate']:.2f}%"
        rows.append(
            f"<tr><td><code>{escape(rid)}</code></td><td>{escape(r['title'])}</td>"
            f"<td class=n>{r['flagged_patients']:,}</td><td class=n>{r['flagged_prescriptions']:,}"
            f"</td><td class=n>{rate}</td><td>{escape(r['denominator'].replace('_', ' '))} "
            f"({pop[r['denominator']]:,})</td></tr>"
        )
    return (
        "<table><tr><th>Rule</th><th>What</th><th>Patients</th><th>Prescriptions</th>"
        "<th>Rate</th><th>Of</th></tr>" + "".join(rows) + "</table>"
    )


def _rate_chart(rules: dict[str, Any]) -> Spec:
    data = [
        {"rule": rid, "rate": 100 * (r["rate"] or 0.0), "title": r["title"]}
        for rid, r in rules.items()
    ]
    chart = (
        alt.Chart(alt.InlineData(values=data))
        .mark_bar()
        .encode(
            y=alt.Y("rule:N", sort=None, title=None),
            x=alt.X("rate:Q", title="Flagged prescriptions (% of the rule's denominator)"),
            tooltip=["title:N", alt.Tooltip("rate:Q", format=".2f")],
        )
        .properties(width=_WIDTH - 200, title="Rate per rule")
    )
    return dict(chart.to_dict())


def _long(rows: list[dict[str, Any]], dim: str, titles: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        total = r["prescriptions"] or 1
        for rid in titles:
            out.append({dim: r[dim] or "unknown", "rule": rid, "rate": 100 * r[rid] / total})
    return out


def _dimension_chart(
    rows: list[dict[str, Any]], dim: str, label: str, titles: dict[str, str]
) -> Spec:
    chart = (
        alt.Chart(alt.InlineData(values=_long(rows, dim, titles)))
        .mark_bar()
        .encode(
            x=alt.X(f"{dim}:N", title=label, sort=None),
            y=alt.Y("rate:Q", title="% of gabapentinoid prescriptions"),
            color=alt.Color(f"{dim}:N", legend=None),
            column=alt.Column("rule:N", title=None, sort=list(titles)),
        )
        .properties(width=90, height=140)
    )
    return dict(chart.to_dict())


def _month_chart(rows: list[dict[str, Any]], titles: dict[str, str]) -> Spec:
    chart = (
        alt.Chart(alt.InlineData(values=_long(rows, "month", titles)))
        .mark_line(point=True)
        .encode(
            x=alt.X("month:T", title="Month of start"),
            y=alt.Y("rate:Q", title="% of prescriptions started that month"),
            color=alt.Color("rule:N", title="Rule", sort=list(titles)),
        )
        .properties(width=_WIDTH, height=260)
    )
    return dict(chart.to_dict())


def _svg(spec: Spec) -> str:
    return f"<figure>{vlc.vegalite_to_svg(spec)}</figure>"


def _definitions_table(defs: AuditDefinitions) -> str:
    rows = []
    sources = defs.k.source_by_id
    for d in defs.definitions():
        cites = "<br>".join(_cite(sources[c.source], c.locator) for c in d.citations)
        rows.append(
            f"<tr><td><code>{escape(d.id)}</code><br>{escape(d.title)}</td>"
            f"<td>{escape(d.definition)}</td><td class=cite>{cites}</td></tr>"
        )
    return (
        "<table><tr><th>Rule</th><th>Definition</th><th>Sources</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _cite(source: Source, locator: str) -> str:
    title = escape(source.title)
    if source.url:
        title = f'<a href="{escape(source.url)}">{title}</a>'
    return f"{title}: {escape(locator)}"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gabaguide population audit</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border-bottom: 1px solid #ccc; padding: .35rem .6rem; text-align: left; vertical-align: top; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.cite {{ font-size: 13px; }}
.note {{ color: #444; }}
figure {{ margin: 1rem 0; overflow-x: auto; }}
</style></head>
<body>
{body}
</body></html>
"""
