"""Every fact in the knowledge base as one flat list: what ``gabaguide kb`` searches, the API's
knowledge look-ups return and the education pages are built from."""

from __future__ import annotations

from dataclasses import dataclass

from gabaguide.domain import Citation
from gabaguide.knowledge.model import Knowledge


@dataclass(frozen=True)
class Fact:
    """One knowledge-base entry as the ``kb`` command lists it."""

    kind: str
    id: str
    text: str
    citations: tuple[Citation, ...]


def facts(k: Knowledge) -> list[Fact]:
    """Every fact in the knowledge base, flattened for listing and searching."""
    out: list[Fact] = []
    for p in k.products:
        strengths = ", ".join(f.label for f in p.forms)
        out.append(
            Fact("product", p.id, f"{p.name}: {strengths}. {' '.join(p.instructions)}", p.cite)
        )
    for i in k.indications:
        out.append(
            Fact("indication", i.id, f"{i.name} [{i.gabapentin_status}]: {i.evidence}", i.cite)
        )
    for s in k.dosing.schemes:
        steps = "; ".join(
            f"day {x.from_day}: {x.daily:g} {s.unit} in {x.doses_per_day}" for x in s.steps
        )
        out.append(
            Fact(
                "dosing",
                s.id,
                f"{s.product}, {s.indication}: {steps}; target {s.target_daily:g}, maintenance "
                f"{s.maintenance_min_daily:g}-{s.maintenance_max_daily:g}, max {s.max_daily:g} {s.unit}",
                s.cite,
            )
        )
    for b in k.renal.bands:
        dose = (
            f"{b.daily_min_mg:g}-{b.daily_max_mg:g} mg/day in {b.doses_per_day}"
            if b.action == "dose"
            else "do not use"
        )
        out.append(
            Fact(
                "renal",
                b.id,
                f"{b.product} CrCl {b.label}: {dose}. {b.instruction or ''}".strip(),
                b.cite,
            )
        )
    for h in k.renal.hemodialysis_supplements:
        out.append(
            Fact(
                "renal",
                f"hd-{h.product}-{h.maintenance_mg:g}",
                f"{h.product} on hemodialysis: maintenance {h.maintenance_mg:g} mg -> "
                f"{h.supplement_mg:g} mg after each {h.after_hours_of_dialysis:g} h of dialysis",
                h.cite,
            )
        )
    out.extend(Fact(s.topic, s.id, s.text, s.cite) for s in k.statements)
    for r in k.adverse_reactions:
        placebo = "" if r.placebo_pct is None else f" vs {r.placebo_pct:g}% placebo"
        out.append(
            Fact(
                "adverse-reaction",
                r.id,
                f"{r.reaction}: {r.drug_pct:g}%{placebo} ({r.study})",
                r.cite,
            )
        )
    for q in k.pk_parameters:
        rng = f" ({q.low:g}-{q.high:g})" if q.low is not None and q.high is not None else ""
        out.append(
            Fact(
                "pk",
                q.id,
                f"{q.drug} {q.model}: {q.name} = {q.value:g} {q.unit}{rng}. {q.context}",
                q.cite,
            )
        )
    for f in k.finding_kinds:
        out.append(Fact("finding-code", f.code, f"[{f.severity}] {f.title}: {f.description}", ()))
    out += _rule_facts(k)
    return out


def _rule_facts(k: Knowledge) -> list[Fact]:
    """Interactions, screens, alternatives, the gabapentin-pregabalin comparison and the switch."""
    out = [
        Fact(
            "interaction",
            r.id,
            f"{r.effect} Mechanism: {r.mechanism} What to do: {r.action}"
            + "".join(f" [{t.label}: {t.severity}]" for t in r.mme_tiers),
            r.cite,
        )
        for r in k.interactions.rules
    ]
    out += [
        Fact("screen", sc.id, f"{sc.summary} What to do: {sc.action}", sc.cite)
        for sc in k.screens.screens
    ]
    for a in k.alternatives.alternatives:
        out.append(
            Fact("alternative", a.id, f"{a.name}: {a.line_of_therapy} {a.usual_dose}", a.cite)
        )
    for row in k.alternatives.comparison:
        article = f" Article: {row.article_says}" if row.article_says else ""
        out.append(
            Fact(
                "comparison",
                f"{row.alternative}-{row.feature.lower().replace(' ', '-')}",
                f"{row.feature}: gabapentin {row.gabapentin} {row.alternative}: {row.other}{article}",
                row.cite,
            )
        )
    conv = k.switch.conversion
    table = "; ".join(f"{r.label} -> {r.pregabalin_mg:g} mg/day" for r in conv.rows)
    out.append(Fact("switch", "gabapentin-to-pregabalin", f"{table}. {conv.caveat}", conv.cite))
    out += [
        Fact(
            "mme",
            m.ingredient,
            f"{m.ingredient}: {m.factor:g} MME {m.unit_note}",
            (k.citation("CDC-MME", "conversion factors"),),
        )
        for m in k.mme_factors
    ]
    return out


def search(k: Knowledge, query: str | None = None, kind: str | None = None) -> list[Fact]:
    """The facts of ``kind`` (any when None) whose kind, id or text contain every word of ``query``
    (case-insensitive): what ``gabaguide kb`` and the API's fact look-up return."""
    words = (query or "").lower().split()
    return [
        f
        for f in facts(k)
        if (kind is None or f.kind == kind)
        and all(w in f"{f.kind} {f.id} {f.text}".lower() for w in words)
    ]
