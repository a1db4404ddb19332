"""Read and validate the knowledge files; fail loudly on anything that does not check out.

The loader reads TOML with :mod:`tomllib` from a directory (the packaged ``data/`` by default, read
through :mod:`importlib.resources`), validates each file against its model in
:mod:`gabaguide.knowledge.schema`, then checks what no single file can: every citation's source
resolves, ids are unique, and cross-references (products, schemes, bands, indications) exist.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterator
from dataclasses import fields
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gabaguide.domain import Citation, input_problems
from gabaguide.errors import KnowledgeError
from gabaguide.knowledge.auditfile import AuditFile
from gabaguide.knowledge.cdsfile import CdsFile
from gabaguide.knowledge.diaryfile import DiaryFile
from gabaguide.knowledge.model import Knowledge
from gabaguide.knowledge.planningfile import PlanningFile
from gabaguide.knowledge.schema import (
    AlternativesFile,
    DosingFile,
    DrugEntry,
    FactsFile,
    FindingsFile,
    IndicationsFile,
    InteractionsFile,
    MmeFactor,
    OpioidStrength,
    PkVariability,
    Predicate,
    ProductsFile,
    RenalFile,
    ScreensFile,
    SourcesFile,
    SwitchFile,
    ValueSetsManifest,
)

M = TypeVar("M", bound=BaseModel)

FACTS_PREFIX = "facts-"


def packaged_data() -> Traversable:
    """The knowledge files shipped inside the package."""
    return files("gabaguide.knowledge") / "data"


def load_from(directory: Traversable) -> Knowledge:
    """Load and cross-check every knowledge file in ``directory``; raise KnowledgeError if broken."""
    problems: list[str] = []

    def read(name: str, model: type[M]) -> M | None:
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: file is missing")
            return None
        return _validate(name, path.read_text(encoding="utf-8"), model, problems)

    sources = read("sources.toml", SourcesFile)
    products = read("products.toml", ProductsFile)
    indications = read("indications.toml", IndicationsFile)
    dosing = read("dosing.toml", DosingFile)
    renal = read("renal.toml", RenalFile)
    findings = read("findings.toml", FindingsFile)
    screens = read("screens.toml", ScreensFile)
    interactions = read("interactions.toml", InteractionsFile)
    alternatives = read("alternatives.toml", AlternativesFile)
    switch = read("switch.toml", SwitchFile)
    diary = read("diary.toml", DiaryFile)
    cds = read("cds.toml", CdsFile)
    audit = read("audit.toml", AuditFile)
    planning = read("planning.toml", PlanningFile)
    manifest = read("vocabulary/manifest.toml", ValueSetsManifest)
    drugs = _read_csv(directory, "vocabulary/rxnorm.csv", _drug_entry, problems)
    mme = _read_csv(directory, "vocabulary/mme.csv", _mme_factor, problems)
    strengths = _read_csv(directory, "vocabulary/opioid-strengths.csv", _opioid_strength, problems)
    facts: list[FactsFile] = []
    for entry in sorted(directory.iterdir(), key=lambda t: t.name):
        if entry.name.startswith(FACTS_PREFIX) and entry.name.endswith(".toml"):
            parsed = _validate(entry.name, entry.read_text(encoding="utf-8"), FactsFile, problems)
            if parsed is not None:
                facts.append(parsed)
    if problems:
        raise KnowledgeError(problems)
    if not (
        sources
        and products
        and indications
        and dosing
        and renal
        and findings
        and screens
        and interactions
        and alternatives
        and switch
        and diary
        and cds
        and audit
        and planning
        and manifest
    ):
        raise KnowledgeError(["knowledge files missing"])  # pragma: no cover - reported above
    knowledge = Knowledge(
        sources=sources.sources,
        products=products.products,
        indications=indications.indications,
        failed_treatments=indications.failed_treatments,
        dosing=dosing,
        renal=renal,
        finding_kinds=findings.findings,
        screens=screens,
        interactions=interactions,
        alternatives=alternatives,
        switch=switch,
        drugs=drugs,
        mme_factors=mme,
        valuesets=tuple(v.id for v in manifest.valuesets),
        diary=diary,
        cds=cds,
        audit=audit,
        planning=planning,
        opioid_strengths=strengths,
        statements=tuple(s for f in facts for s in f.statements),
        adverse_reactions=tuple(r for f in facts for r in f.adverse_reactions),
        pk_parameters=tuple(p for f in facts for p in f.pk_parameters),
        pk_models=tuple(m for f in facts for m in f.pk_models),
    )
    problems.extend(_cross_check(knowledge))
    if problems:
        raise KnowledgeError(problems)
    return knowledge


def _validate(name: str, text: str, model: type[M], problems: list[str]) -> M | None:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{name}: not valid TOML: {exc}")
        return None
    try:
        return model.model_validate(_tuples(raw))
    except ValidationError as exc:
        problems.extend(f"{name}: {p}" for p in input_problems(exc))
        return None


def _read_csv(directory: Traversable, name: str, row: Any, problems: list[str]) -> tuple[Any, ...]:
    path = directory
    for part in name.split("/"):
        path = path / part
    if not path.is_file():
        problems.append(f"{name}: file is missing")
        return ()
    out = []
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    for n, fields_ in enumerate(reader, 2):
        try:
            out.append(row(fields_))
        except (ValidationError, KeyError, ValueError) as exc:
            problems.append(f"{name} line {n}: {exc}".splitlines()[0])
    return tuple(out)


def _split(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.split(";") if p)


def _drug_entry(r: dict[str, str]) -> DrugEntry:
    return DrugEntry(
        rxcui=r["rxcui"],
        display=r["display"],
        ingredients=_split(r["ingredients"]),
        brand=r["brand"] or None,
        valuesets=_split(r["valuesets"]),
    )


def _opioid_strength(r: dict[str, str]) -> OpioidStrength:
    return OpioidStrength(
        rxcui=r["rxcui"],
        ingredient=r["ingredient"],
        strength_value=float(r["strength_value"]),
        strength_unit=r["strength_unit"],
        dose_form=r["dose_form"],
    )


def _mme_factor(r: dict[str, str]) -> MmeFactor:
    return MmeFactor(
        ingredient=r["ingredient"],
        ingredient_rxcui=r["ingredient_rxcui"],
        factor=float(r["factor"]),
        unit_note=r["unit_note"],
    )


def _tuples(value: Any) -> Any:
    """TOML arrays become tuples so that the strict, frozen models accept them."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _citations(value: object, where: str) -> Iterator[tuple[str, Citation]]:
    if isinstance(value, Citation):
        yield where, value
    elif isinstance(value, Knowledge):
        for f in fields(value):
            yield from _citations(getattr(value, f.name), f.name)
    elif isinstance(value, BaseModel):
        for field in type(value).model_fields:
            yield from _citations(getattr(value, field), f"{where}.{field}" if where else field)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            label = getattr(item, "id", None) or getattr(item, "code", None) or str(i)
            yield from _citations(item, f"{where}[{label}]")


def _duplicates(kind: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    dup = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    return [f"{kind}: id {d!r} is used more than once" for d in dup]


def _cross_check(k: Knowledge) -> list[str]:
    problems: list[str] = []
    source_ids = {s.id for s in k.sources}
    for where, cite in _citations(k, ""):
        if cite.source not in source_ids:
            problems.append(f"{where}: source {cite.source!r} is not in sources.toml")
    problems += _duplicates("sources.toml", [s.id for s in k.sources])
    problems += _duplicates("products.toml", [p.id for p in k.products])
    problems += _duplicates("indications.toml", [i.id for i in k.indications])
    problems += _duplicates("dosing.toml", [s.id for s in k.dosing.schemes])
    problems += _duplicates("renal.toml", [b.id for b in k.renal.bands])
    problems += _duplicates("findings.toml", [f.code for f in k.finding_kinds])
    problems += _duplicates("facts statements", [s.id for s in k.statements])
    problems += _duplicates("facts adverse reactions", [r.id for r in k.adverse_reactions])
    problems += _duplicates("facts pk parameters", [p.id for p in k.pk_parameters])
    problems += _duplicates("facts pk models", [m.id for m in k.pk_models])
    problems += _pk_model_problems(k)

    product_ids = {p.id for p in k.products}
    indication_ids = {i.id for i in k.indications}
    scheme_ids = {s.id for s in k.dosing.schemes}
    band_ids = {b.id for b in k.renal.bands}

    def need(where: str, value: str | None, known: set[str], what: str) -> None:
        if value is not None and value not in known:
            problems.append(f"{where}: {what} {value!r} is not defined")

    for ind in k.indications:
        for pid in ind.approved_products:
            need(f"indications.toml[{ind.id}]", pid, product_ids, "product")
        for sid in ind.schemes:
            need(f"indications.toml[{ind.id}]", sid, scheme_ids, "dosing scheme")
    need("dosing.toml limits", k.dosing.limits.generic_scheme, scheme_ids, "dosing scheme")
    for s in k.dosing.schemes:
        need(f"dosing.toml schemes[{s.id}]", s.product, product_ids, "product")
        need(f"dosing.toml schemes[{s.id}]", s.indication, indication_ids, "indication")
    for r in k.dosing.taper_rules:
        rule_product = None if r.product == "*" else r.product
        need("dosing.toml taper_rules", rule_product, product_ids, "product")
        need("dosing.toml taper_rules", r.indication, indication_ids, "indication")
    for d in k.dosing.dose_times:
        need(
            "dosing.toml dose_times",
            None if d.product == "*" else d.product,
            product_ids,
            "product",
        )
        need("dosing.toml dose_times", d.indication, indication_ids, "indication")
    for b in k.renal.bands:
        need(f"renal.toml bands[{b.id}]", b.product, product_ids, "product")
        need(f"renal.toml bands[{b.id}]", b.indication, indication_ids, "indication")
        need(f"renal.toml bands[{b.id}]", b.scheme, scheme_ids, "dosing scheme")
    for p in k.renal.proportional:
        need("renal.toml proportional", p.product, product_ids, "product")
        need("renal.toml proportional", p.reference_band, band_ids, "band")
    for h in k.renal.hemodialysis_supplements:
        need("renal.toml hemodialysis_supplements", h.product, product_ids, "product")
    problems += _check_rules(k, need)
    problems += _check_diary(k, need)
    problems += _check_cds(k, need)
    problems += _check_audit(k, need)
    if not any(r.product == "*" for r in k.dosing.taper_rules):
        problems.append("dosing.toml taper_rules: a rule for product '*' is required")
    return problems


def _check_diary(k: Knowledge, need: Any) -> list[str]:
    """The diary's checklist and red flags rest on records that exist; its products exist."""
    reactions = {r.id for r in k.adverse_reactions}
    statements = {s.id for s in k.statements}
    for item in k.diary.side_effects:
        for rid in item.reactions:
            need(f"diary.toml side_effects[{item.id}]", rid, reactions, "adverse reaction")
    for flag in k.diary.red_flags:
        for sid in flag.statements:
            need(f"diary.toml red_flags[{flag.id}]", sid, statements, "statement")
    for rule in k.diary.missed_doses:
        for pid in rule.products:
            need("diary.toml missed_doses", pid, {p.id for p in k.products}, "product")
    return [
        *_duplicates("diary.toml side_effects", [s.id for s in k.diary.side_effects]),
        *_duplicates("diary.toml red_flags", [r.id for r in k.diary.red_flags]),
        *_duplicates(
            "diary.toml missed_doses", [p for m in k.diary.missed_doses for p in m.products]
        ),
    ]


def _check_cds(k: Knowledge, need: Any) -> list[str]:
    """The CDS card groups name finding codes that exist, each in at most one group."""
    codes = {f.code for f in k.finding_kinds}
    grouped: list[str] = []
    outside: list[str] = []
    for group in k.cds.cards.groups:
        for code in group.findings:
            need(f"cds.toml cards.groups[{group.id}]", code, codes, "finding code")
        grouped.extend(group.findings)
        outside += [
            f"cds.toml cards.groups[{group.id}]: corrects_dose {code!r} is not one of its findings"
            for code in group.corrects_dose
            if code not in group.findings
        ]
    return [
        *outside,
        *_duplicates("cds.toml cards.groups findings", grouped),
        *_duplicates("cds.toml cards.groups", [g.id for g in k.cds.cards.groups]),
    ]


def _check_audit(k: Knowledge, need: Any) -> list[str]:
    """The audit's rules name findings, interaction rules, products and a screen that exist."""
    codes = {f.code for f in k.finding_kinds}
    products = {p.id for p in k.products}
    rules = {r.id for r in k.interactions.rules}
    screens = {s.id for s in k.screens.screens}
    need("audit.toml population", k.audit.population.elderly_screen, screens, "screen")
    for rule in k.audit.rules:
        need(f"audit.toml rules[{rule.id}]", rule.finding, codes, "finding code")
        if rule.interaction is not None:
            need(f"audit.toml rules[{rule.id}]", rule.interaction, rules, "interaction rule")
        for product in rule.levels_mg:
            need(f"audit.toml rules[{rule.id}] levels_mg", product, products, "product")
    mins = [b.min for b in k.audit.population.age_bands]
    order = [] if mins == sorted(set(mins)) else ["audit.toml population.age_bands: not rising"]
    return [*order, *_duplicates("audit.toml rules", [r.id for r in k.audit.rules])]


def _check_rules(k: Knowledge, need: Any) -> list[str]:
    """Screens, interactions, alternatives and the switch refer to things that must exist."""
    problems: list[str] = []
    codes = {f.code for f in k.finding_kinds}
    groups = {g.id for g in k.screens.groups}
    classes = {c.id for c in k.interactions.classes}
    statements = {s.id for s in k.statements}
    indications = {i.id for i in k.indications}
    problems += _duplicates("screens.toml groups", [g.id for g in k.screens.groups])
    problems += _duplicates("screens.toml screens", [s.id for s in k.screens.screens])
    problems += _duplicates("interactions.toml classes", [c.id for c in k.interactions.classes])
    problems += _duplicates("interactions.toml rules", [r.id for r in k.interactions.rules])
    problems += _duplicates("alternatives.toml", [a.id for a in k.alternatives.alternatives])

    def check_when(where: str, when: tuple[Predicate, ...]) -> None:
        for p in when:
            need(where, p.allergy_group, groups, "term group")
            need(where, p.condition_group, groups, "term group")
            for c in p.drug_classes:
                need(where, c, classes, "drug class")

    for note in k.failed_treatments:
        need("indications.toml failed_treatments", note.group, groups, "term group")
        for ind in note.indications:
            need("indications.toml failed_treatments", ind, indications, "indication")
    for sc in k.screens.screens:
        where = f"screens.toml screens[{sc.id}]"
        need(where, sc.finding, codes, "finding code")
        check_when(where, sc.when)
        for st in sc.statements:
            need(where, st, statements, "statement")
    for c in k.interactions.classes:
        for vs in c.valuesets:
            need(f"interactions.toml classes[{c.id}]", vs, set(k.valuesets), "value set")
    for r in k.interactions.rules:
        need(f"interactions.toml rules[{r.id}]", r.finding, codes, "finding code")
        for cls in r.classes:
            need(f"interactions.toml rules[{r.id}]", cls, classes, "drug class")
    alt_ids = {a.id for a in k.alternatives.alternatives}
    for a in k.alternatives.alternatives:
        where = f"alternatives.toml alternatives[{a.id}]"
        for ind in a.indications:
            need(where, ind, indications, "indication")
        for caution in a.cautions:
            check_when(where, caution.when)
    for row in k.alternatives.comparison:
        need("alternatives.toml comparison", row.alternative, alt_ids, "alternative")
    product_ids = {p.id for p in k.products}
    need("switch.toml conversion", k.switch.conversion.to_product, product_ids, "product")
    for lim in k.switch.pregabalin_limits:
        if lim.indication != "*":
            need("switch.toml pregabalin_limits", lim.indication, indications, "indication")
    if not any(lim.indication == "*" for lim in k.switch.pregabalin_limits):
        problems.append("switch.toml pregabalin_limits: a row for indication '*' is required")
    for d in k.drugs:
        for vs in d.valuesets:
            if vs not in k.valuesets:
                problems.append(f"vocabulary/rxnorm.csv {d.rxcui}: value set {vs!r} is not defined")
                break
    return problems


def _pk_model_problems(k: Knowledge) -> list[str]:
    """Every parameter a PK model names exists, is for the model's drug and has a usable unit."""
    params = {p.id: p for p in k.pk_parameters}
    problems = []
    for m in k.pk_models:
        for role, value in m:
            ref = value.param if isinstance(value, PkVariability) else value
            if not (isinstance(ref, str) and ref.startswith("pk.")):
                continue
            p = params.get(ref)
            if p is None:
                problems.append(
                    f"pk model {m.id}: {role} names {ref!r}, which is not a pk parameter"
                )
            elif p.drug != m.drug:
                problems.append(f"pk model {m.id}: {role} {ref!r} is a {p.drug} parameter")
            elif p.unit not in PK_ROLE_UNITS.get(role, (p.unit,)):
                problems.append(
                    f"pk model {m.id}: {role} {ref!r} has unit {p.unit}; "
                    f"expected {' or '.join(PK_ROLE_UNITS[role])}"
                )
    return problems


# The units each role of a PK model is read in (the pk package converts nothing else).
PK_ROLE_UNITS: dict[str, tuple[str, ...]] = {
    "ka": ("1/h",),
    "lag": ("h",),
    "v": ("L",),
    "cl": ("L/h",),
    "crcl_reference": ("mL/min",),
    "crcl_cap": ("mL/min",),
    "weight_reference": ("kg",),
    "bioavailability_dmax": ("mg",),
    "bioavailability_d50": ("mg",),
    "dialysis_half_life_on": ("h",),
    "dialysis_half_life_off": ("h",),
    "antacid_bioavailability_reduction": ("%",),
    "iiv_cl": ("%", "fraction"),
    "iiv_v": ("%", "fraction"),
    "iiv_ka": ("%", "fraction"),
    "iiv_f": ("%", "fraction"),
}
