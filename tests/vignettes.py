"""The label vignettes (``tests/cases/label/*.json``): each a patient in words, what the label says
(with its section), the patient JSON and the expected answer, typed from the label tables.

``check`` compares gabaguide's answer with the expectation; ``python -m tests.vignettes`` writes
``docs/validation.md`` (a test keeps it current), the table a reviewing pharmacist reads.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gabaguide import assess
from gabaguide.domain import Assessment, parse_patient
from gabaguide.errors import InputError
from gabaguide.knowledge import Knowledge, load_knowledge

CASES = Path(__file__).parent / "cases" / "label"


@dataclass(frozen=True)
class Vignette:
    id: str
    words: str
    label: str
    source: str
    patient: dict[str, Any]
    expect: dict[str, Any]


def vignettes() -> list[Vignette]:
    return [Vignette(**json.loads(p.read_text())) for p in sorted(CASES.glob("*.json"))]


def answer(k: Knowledge, v: Vignette) -> Assessment | InputError:
    try:
        return assess(parse_patient(v.patient), k)
    except InputError as exc:
        return exc


def regimen(doses: Any) -> tuple[float, int] | None:
    mgs = [d.mg for d in doses]
    return (mgs[0], len(mgs)) if mgs and len(set(mgs)) == 1 else None


def check(v: Vignette, got: Assessment | InputError) -> list[str]:
    """What differs from the expectation (empty = pass)."""
    e = v.expect
    if "error" in e:
        if not isinstance(got, InputError):
            return ["expected an input error"]
        named = any(e["error"] in p for p in got.problems)
        return [] if named else [f"the error does not name {e['error']}: {got.problems}"]
    if isinstance(got, InputError):
        return [f"unexpected input error: {got.problems}"]
    out: list[str] = []
    plan = got.plan
    if "plan_status" in e and got.plan_status != e["plan_status"]:
        out.append(f"plan_status {got.plan_status}, expected {e['plan_status']}")
    for key, value in e.get("renal", {}).items():
        if getattr(got.renal, key) != value:
            out.append(f"renal.{key} {getattr(got.renal, key)}, expected {value}")
    if "start" in e:
        first = regimen(plan.titration[0].doses) if plan and plan.titration else None
        if first != tuple(e["start"]):
            out.append(f"day 1 {first}, expected {tuple(e['start'])}")
    if "maintenance" in e:
        kept = regimen(plan.maintenance.doses) if plan and plan.maintenance else None
        if kept != tuple(e["maintenance"]):
            out.append(f"maintenance {kept}, expected {tuple(e['maintenance'])}")
    if "max_daily_mg" in e and (plan is None or plan.max_daily_mg != e["max_daily_mg"]):
        out.append(f"max {plan.max_daily_mg if plan else None}, expected {e['max_daily_mg']}")
    if "switch_daily_mg" in e:
        sw = plan.switch.daily_mg if plan and plan.switch else None
        if sw != e["switch_daily_mg"]:
            out.append(f"pregabalin {sw} mg/day, expected {e['switch_daily_mg']}")
    if "supplement_mg" in e:
        s = plan.dialysis_supplement.mg if plan and plan.dialysis_supplement else None
        if s != e["supplement_mg"]:
            out.append(f"supplement {s}, expected {e['supplement_mg']}")
    if "supplement_scheduled" in e:
        timed = [d for d in got.schedule if d.phase == "dialysis-supplement"]
        dispensed = [d for d in got.dispensing if d.phase == "dialysis-supplement"]
        if bool(timed) != e["supplement_scheduled"] or bool(dispensed) != bool(timed):
            out.append(f"supplement timed {len(timed)}x, dispensed {bool(dispensed)}")
    if "taper_min_days" in e:
        days = len(plan.taper) if plan else 0
        if days < e["taper_min_days"]:
            out.append(f"taper {days} days, expected at least {e['taper_min_days']}")
    if e.get("no_schedule") and (got.schedule or got.dispensing):
        out.append("dose times or dispensing given although nothing may be planned")
    codes = {f.code for f in got.findings}
    missing = [c for c in e.get("findings", []) if c not in codes]
    if missing:
        out.append("missing findings " + ", ".join(missing))
    return out


def said(got: Assessment | InputError) -> str:
    """gabaguide's answer in a few words."""
    if isinstance(got, InputError):
        return "Input error: " + "; ".join(got.problems)
    parts = [got.plan_status]
    plan = got.plan
    if plan is not None:
        if plan.switch is not None:
            parts.append(
                f"pregabalin {plan.switch.daily_mg:g} mg/day in {plan.switch.doses_per_day} doses"
            )
        elif plan.taper:
            parts.append(f"taper {len(plan.taper)} days from {plan.taper[0].daily_mg:g} mg/day")
        else:
            first = regimen(plan.titration[0].doses) if plan.titration else None
            kept = regimen(plan.maintenance.doses) if plan.maintenance else None
            if first:
                parts.append(f"day 1 {first[0]:g} mg x{first[1]}")
            if kept:
                parts.append(f"then {kept[0]:g} mg x{kept[1]}")
            if plan.max_daily_mg is not None:
                parts.append(f"max {plan.max_daily_mg:g} mg/day")
        if plan.dialysis_supplement is not None:
            timed = sum(1 for d in got.schedule if d.phase == "dialysis-supplement")
            parts.append(f"+{plan.dialysis_supplement.mg:g} mg after dialysis ({timed} timed)")
    top = [f.code for f in got.findings if f.severity in ("warning", "contraindicated")][:3]
    if top:
        parts.append("warnings: " + ", ".join(top))
    return "; ".join(parts)


def document(k: Knowledge) -> str:
    rows = []
    passed = 0
    for v in vignettes():
        got = answer(k, v)
        problems = check(v, got)
        passed += not problems
        verdict = "pass" if not problems else "FAIL: " + "; ".join(problems)
        rows.append(
            f"| {v.id} | {v.words} | {v.label} ({v.source}) | {said(got)} | {verdict} |".replace(
                "\n", " "
            )
        )
    head = [
        "# Clinical validation: label vignettes",
        "",
        "Generated by `python -m tests.vignettes > docs/validation.md` from `tests/cases/label/`; "
        "`tests/test_vignettes.py` fails when this file is out of date or a row fails. Each row: "
        "the patient in words, what the label says (with its section), what gabaguide answers "
        "(`gabaguide assess` on the row's JSON), and the verdict. Expectations were typed from "
        "the label tables, not from gabaguide's output. Conventions: `target_daily_mg` is the "
        "regimen meant at normal kidney function (the label's column); `x2` = two equal doses a "
        "day. Decisions where the label is silent: `docs/decisions.md` (D1 band gaps, D1b "
        "columns, D19 the planning gate, D20 plausibility).",
        "",
        f"**{passed} of {len(rows)} rows pass.**",
        "",
        "| id | patient | the label says | gabaguide answers | verdict |",
        "|---|---|---|---|---|",
    ]
    return "\n".join([*head, *rows]) + "\n"


if __name__ == "__main__":
    sys.stdout.write(document(load_knowledge()))
