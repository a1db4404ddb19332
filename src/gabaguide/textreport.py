"""Rich renderings of an Assessment and of knowledge look-ups, for people at a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gabaguide.domain import (
    Alternative,
    Assessment,
    Citation,
    DispenseLine,
    Dose,
    Finding,
    PlanDay,
    ScheduledDose,
    Unit,
)
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.catalogue import Fact
from gabaguide.pk.simulate import METRIC_UNITS, Simulation

SEVERITY_STYLE = {
    "contraindicated": "bold white on red",
    "warning": "bold red",
    "caution": "yellow",
    "info": "cyan",
}

DISCLAIMER = (
    "Decision support for clinicians: check every recommendation against the cited source and "
    "the patient. Patients: follow your prescriber and never change your dose yourself."
)


def cite_text(citations: Iterable[Citation]) -> str:
    return "; ".join(f"{c.source} {c.locator}" for c in citations)


def _dose_text(doses: Iterable[Dose]) -> str:
    parts = [f"{d.time} {d.mg:g} mg ({_units_text(d.units)})" for d in doses]
    return "\n".join(parts) or "no dose"


def _days_table(title: str, days: Iterable[PlanDay]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("day", justify="right")
    table.add_column("mg/day", justify="right")
    table.add_column("doses")
    for day in days:
        table.add_row(str(day.day), f"{day.daily_mg:g}", _dose_text(day.doses))
    return table


def assessment_view(a: Assessment) -> RenderableType:
    """One patient's assessment as panels and tables."""
    r = a.renal
    crcl = "unknown" if r.crcl_ml_min is None else f"{r.crcl_ml_min:g} mL/min ({r.method})"
    renal = Text.assemble(("Kidney function: ", "bold"), crcl)
    if r.band and r.daily_min_mg is not None and r.daily_max_mg is not None:
        renal.append(
            f"\nLabel band {r.band}: {r.daily_min_mg:g}-{r.daily_max_mg:g} mg/day, "
            f"{r.doses_per_day} dose(s) a day"
        )
    elif r.band:
        renal.append(f"\nLabel band {r.band}: the product is not to be used (see findings)")
    if r.hemodialysis_supplement_mg:
        renal.append(f"\nAfter each 4 h of hemodialysis: {r.hemodialysis_supplement_mg:g} mg")
    status = {
        "planned": "plan made",
        "held": "held start only, until kidney function is known",
        "not-planned": "no plan (see the warnings)",
        "not-asked": "review of the current regimen",
    }[a.plan_status]
    answer = Text.assemble(("Answer: ", "bold"), status)
    for f in [f for f in a.findings if f.severity in ("contraindicated", "warning")][:3]:
        answer.append(f"\n  - {f.summary}")
    used = Text.assemble(
        ("Inputs used: ", "bold"), "; ".join(f"{i.field} {i.value}" for i in a.inputs)
    )
    parts: list[RenderableType] = [answer, used, renal]
    p = a.plan
    if p is not None:
        head = Text.assemble(("Plan: ", "bold"), p.product)
        if p.scheme:
            head.append(f" (scheme {p.scheme})")
        if p.target_daily_mg is not None:
            head.append(f", target {p.target_daily_mg:g} mg/day")
        if p.max_daily_mg is not None:
            head.append(f", maximum {p.max_daily_mg:g} mg/day")
        if p.renal_column is not None:
            head.append(f"\n{p.renal_column.text}")
        if p.dialysis_supplement is not None:
            days = ", ".join(p.dialysis_supplement.days) or "session days not given"
            head.append(
                f"\nAfter each hemodialysis session ({days}): {p.dialysis_supplement.mg:g} mg"
            )
        parts.append(head)
        if p.titration:
            parts.append(_days_table("Titration", p.titration))
        if p.maintenance:
            every = (
                f" every {p.maintenance.every_n_days} days"
                if p.maintenance.every_n_days > 1
                else ""
            )
            parts.append(
                Text(
                    f"Maintenance {p.maintenance.daily_mg:g} mg/day{every}:\n"
                    + _dose_text(p.maintenance.doses)
                )
            )
        if p.taper:
            parts.append(_days_table("Taper (then stop)", p.taper))
        for line in p.instructions:
            parts.append(Text(f"- {line}"))
        if p.switch:
            parts.append(Text(f"Switch caveat: {p.switch.caveat}", style="italic"))
    if a.mme_daily is not None:
        parts.append(Text(f"Opioids: {a.mme_daily:g} MME/day"))
    parts.append(findings_table(a.findings))
    if a.schedule:
        parts.append(schedule_table(a.schedule, limit=SCHEDULE_ROWS_SHOWN))
    if a.dispensing:
        parts.append(dispensing_table(a.dispensing))
    if a.alternatives:
        parts.append(alternatives_table(a.alternatives))
    parts.append(Text(DISCLAIMER, style="italic"))
    return Panel(Group(*parts), title=f"patient {a.patient_id or '(no id)'}", title_align="left")


SCHEDULE_ROWS_SHOWN = 12  # the assessment view shows the first days; `gabaguide schedule` all


def findings_table(findings: Iterable[Finding]) -> Table:
    table = Table(title="Findings", title_justify="left", show_lines=True)
    table.add_column("severity")
    table.add_column("finding")
    table.add_column("sources")
    for f in findings:
        table.add_row(
            Text(f.severity.upper(), style=SEVERITY_STYLE[f.severity]),
            Text.assemble((f.summary, "bold"), "\n", f.detail, f"\n[{f.code}]"),
            cite_text(f.citations),
        )
    return table


def _units_text(units: Iterable[Unit]) -> str:
    return " + ".join(f"{u.count:g} {u.measure} x {u.form}" for u in units)


def schedule_table(doses: Sequence[ScheduledDose], limit: int | None = None) -> Table:
    shown = doses if limit is None else doses[:limit]
    more = "" if len(shown) == len(doses) else f" (first {len(shown)} of {len(doses)} doses)"
    table = Table(title=f"Dose times{more}", title_justify="left")
    for col in ("day", "date", "time", "phase", "mg", "take"):
        table.add_column(col, justify="right" if col in ("day", "mg") else "left")
    for d in shown:
        table.add_row(str(d.day), d.date or "", d.time, d.phase, f"{d.mg:g}", _units_text(d.units))
    return table


def dispensing_table(lines: Iterable[DispenseLine]) -> Table:
    table = Table(title="To dispense", title_justify="left")
    for col in ("phase", "days", "strength", "form", "quantity"):
        table.add_column(col, justify="right" if col in ("days", "quantity") else "left")
    for line in lines:
        table.add_row(
            line.phase,
            str(line.days),
            f"{line.strength_mg:g} mg",
            line.form,
            f"{line.quantity:g} {line.measure}",
            style="bold" if line.phase == "total" else None,
        )
    return table


def alternatives_table(alternatives: Iterable[Alternative]) -> Table:
    table = Table(title="Alternatives", title_justify="left", show_lines=True)
    table.add_column("alternative")
    table.add_column("place and dose")
    table.add_column("for this patient")
    for a in alternatives:
        cautions = "\n".join(f"{c.severity.upper()}: {c.summary}" for c in a.cautions)
        table.add_row(
            Text(a.name, style="bold"), f"{a.line_of_therapy}\n{a.usual_dose}", cautions or "-"
        )
    return table


def facts_table(rows: Iterable[Fact], k: Knowledge) -> Table:
    table = Table(show_lines=True)
    table.add_column("kind")
    table.add_column("id")
    table.add_column("fact")
    table.add_column("sources")
    for f in rows:
        table.add_row(f.kind, f.id, f.text, cite_text(f.citations))
    return table


METRIC_NAMES = {
    "cmax_mg_l": "Cmax (peak)",
    "cmin_mg_l": "Cmin (trough)",
    "cavg_mg_l": "Cavg (average)",
    "auc_24h_mg_h_l": "AUC over 24 h",
    "bioavailability": "effective bioavailability",
    "half_life_h": "elimination half-life",
    "time_to_steady_state_h": "time to 90% of steady state",
}


def simulation_view(label: str, sim: Simulation) -> RenderableType:
    """Steady-state metrics of one simulation, with what it assumed and the model's sources."""
    s = sim.scenario
    who = "the typical patient" if s.n == 1 else f"{s.n:,} virtual patients (seed {s.seed})"
    table = Table(
        title=f"{s.drug} {s.regimen.text}, {label}: {who}; steady state = hours "
        f"{sim.window_h[0]:g}-{sim.window_h[1]:g}",
        title_justify="left",
    )
    table.add_column("measure")
    table.add_column("median", justify="right")
    if s.n > 1:
        table.add_column("5th-95th percentile", justify="right")
    table.add_column("unit")
    for name, m in sim.metrics.items():
        row = [METRIC_NAMES[name], f"{m.median:.3g}"]
        if s.n > 1:
            row.append(f"{m.p5:.3g}-{m.p95:.3g}")
        table.add_row(*row, METRIC_UNITS[name])
    for t, shares in sim.shares_above.items():
        row = [f"share with Cavg above {t:g} mg/L", f"{shares['average']:.1%}"]
        table.add_row(*row, *([""] if s.n > 1 else []), "of patients")
    parts: list[RenderableType] = [table]
    for note in (*sim.notes, *sim.assumptions):
        parts.append(Text(f"Note: {note}.", style="yellow"))
    parts.append(Text(f"Model: {sim.model.name}. Sources: {cite_text(sim.citations)}", style="dim"))
    return Group(*parts)
