"""The audit's rules, written once as Ibis expressions and compiled for DuckDB or Spark.

``assess_population`` gives one row per gabapentinoid prescription with the patient's age, the
clearance and renal row used, the overlap measures and one boolean column per rule. The numbers
and code lists come from ``AuditDefinitions`` (the knowledge base) as small joined tables
(``RuleTables``, made once per run). Dates are handled as day numbers; an open-ended prescription
runs to the as-of date.

Every rule looks at one patient's rows only, so the rules may run on any split of the patients
(``run.py`` splits a large population into ranges of patient ids). Within one call the shared steps
(the classified medicines, the gabapentinoids with their patient and creatinine) are materialised
once and released at the end: written as one expression tree, Ibis would repeat them in every
rule's sub-query.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import date

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from gabaguide.audit.contract import Inputs, creatinine_mg_dl
from gabaguide.audit.definitions import AuditDefinitions, RenalStretch

RULE_COLUMNS = {
    "dose.above-max": "f_dose_above_max",
    "renal.above-band": "f_renal_above_band",
    "renal.no-creatinine": "f_renal_no_creatinine",
    "overlap.opioid": "f_overlap_opioid",
    "overlap.cns-depressant": "f_overlap_cns_depressant",
    "duplicate.gabapentinoid": "f_duplicate_gabapentinoid",
    "stop.abrupt": "f_stop_abrupt",
    "elderly.high-dose": "f_elderly_high_dose",
}
KEY = ("patient_id", "rx_id")
MEASURE_COLUMNS = (
    "patient_id", "rx_id", "drug_name", "rxcui", "product", "start_date", "end_date", "dose_mg",
    "doses_per_day", "daily_mg", "age_years", "sex", "weight_kg", "scr_mg_dl", "scr_date",
    "crcl_ml_min", "kidney_band", "renal_max_mg", "renal_max_doses", "label_max_mg", "opioid_days",
    "peak_mme", "mme_tier", "cns_days", "dup_days", "taper_days",
)  # fmt: skip
"""The data behind a prescription's flags (the flagged rows' columns after ``rule``)."""

_EPOCH = date(1970, 1, 1)
_PRODUCT_SCHEMA = ibis.schema(
    {
        "product": "string",
        "label_max_mg": "float64",
        "stop_level_mg": "float64",
        "elderly_level_mg": "float64",
    }
)
_DRUG_SCHEMA = ibis.schema(
    {
        "rxcui": "string",
        "drug_name": "string",
        "product": "string",
        "is_opioid": "boolean",
        "is_cns_depressant": "boolean",
        "mme_per_mg": "float64",
    }
)


def day(d: ir.DateValue) -> ir.IntegerValue:
    """Days since 1970-01-01 (both backends agree on integer day numbers)."""
    return d.epoch_days().cast("int64")


def as_of_day(inp: Inputs) -> int:
    """The data's as-of date: its latest start or end date."""
    rx = inp.prescriptions
    latest = rx.aggregate(s=rx.start_date.max(), e=rx.end_date.max()).to_pyarrow().to_pylist()[0]
    dates = [d for d in (latest["s"], latest["e"]) if d is not None]
    return (max(dates) - _EPOCH).days if dates else 0


def lookup(
    con: ibis.BaseBackend,
    name: str,
    rows: Sequence[Mapping[str, object]],
    schema: ibis.Schema | None = None,
) -> ir.Table:
    """A small lookup table made on the backend (a temporary table or view for this run)."""
    data = pa.Table.from_pylist(rows, schema=schema.to_pyarrow() if schema is not None else None)
    view = f"gabaguide_{name}_{uuid.uuid4().hex}"
    if con.name == "pyspark":
        # A named temporary view lives as long as the session (ibis's anonymous in-memory
        # tables can be dropped while a cached result still refers to them).
        session = con._session  # ibis gives no public handle for this
        frame = session.createDataFrame(
            [tuple(r.values()) for r in data.to_pylist()], schema=_spark_schema(data)
        )
        frame.createOrReplaceTempView(view)
        return con.table(view)
    return con.create_table(view, data, temp=True)


def _spark_schema(data: pa.Table) -> str:
    types = {"string": "string", "bool": "boolean", "double": "double", "int64": "bigint"}
    return ", ".join(f"`{f.name}` {types[str(f.type)]}" for f in data.schema)


@dataclass(frozen=True)
class RuleTables:
    """The knowledge base's small tables on the backend: drugs found in the data, products' levels,
    renal stretches."""

    drugs: ir.Table
    products: ir.Table
    stretches: ir.Table


def rule_tables(
    con: ibis.BaseBackend, prescriptions: ir.Table, defs: AuditDefinitions
) -> RuleTables:
    """The lookup tables for a run; the data's distinct (rxcui, drug name) pairs are recognised by
    the core once, whatever the number of rows."""
    rx = _drug_keys(prescriptions)
    pairs = rx.select("rxcui_k", "name_k").distinct().to_pyarrow().to_pylist()
    rows = defs.drug_rows((p["rxcui_k"], p["name_k"]) for p in pairs)
    drugs = lookup(con, "drugs", rows, _DRUG_SCHEMA)
    return RuleTables(
        drugs=drugs.filter(drugs.product.notnull() | drugs.is_opioid | drugs.is_cns_depressant),
        products=lookup(con, "products", defs.product_rows(), _PRODUCT_SCHEMA),
        stretches=lookup(con, "renal", [_closed(s) for s in defs.renal_stretches()]),
    )


def _closed(s: RenalStretch) -> dict[str, object]:
    """A stretch with closed bounds: for floating-point clearance, ``c > lo`` is exactly
    ``c >= nextafter(lo, +inf)``. Plain comparisons keep the join a hash join on the product (an OR
    of bound tests made DuckDB compare every row with every stretch)."""
    row = asdict(s)
    lo, lo_inclusive = row.pop("lo"), row.pop("lo_inclusive")
    hi, hi_inclusive = row.pop("hi"), row.pop("hi_inclusive")
    row["at_least"] = lo if lo_inclusive else math.nextafter(lo, math.inf)
    row["at_most"] = hi if hi_inclusive else math.nextafter(hi, -math.inf)
    return row


def _drug_keys(prescriptions: ir.Table) -> ir.Table:
    return prescriptions.mutate(
        rxcui_k=prescriptions.rxcui.fill_null(""), name_k=prescriptions.drug_name.fill_null("")
    )


def classified(prescriptions: ir.Table, drugs: ir.Table, as_of: int) -> ir.Table:
    """The gabapentinoids, opioids and CNS depressants with their product, classes, MME factor and
    day numbers (an open-ended prescription ends on the as-of day)."""
    rx = _drug_keys(prescriptions)
    joined = rx.join(drugs, [rx.rxcui_k == drugs.rxcui, rx.name_k == drugs.drug_name], how="inner")
    return joined.select(
        "patient_id",
        "rx_id",
        drug_name=rx.drug_name,
        rxcui=rx.rxcui,
        product=drugs.product,
        is_opioid=drugs.is_opioid,
        is_cns_depressant=drugs.is_cns_depressant,
        dose_mg=rx.dose_mg,
        doses_per_day=rx.doses_per_day,
        daily_mg=rx.dose_mg * rx.doses_per_day,
        mme_day=rx.dose_mg * rx.doses_per_day * drugs.mme_per_mg,
        start_date=rx.start_date,
        end_date=rx.end_date,
        sd=day(rx.start_date),
        ed=day(rx.end_date).fill_null(as_of),
    )


@contextmanager
def assess_population(
    inp: Inputs, defs: AuditDefinitions, tables: RuleTables, as_of: int
) -> Iterator[ir.Table]:
    """One row per gabapentinoid prescription: measures and one boolean per rule. A context: the
    result and the shared steps are materialised on the backend and released on leaving it."""
    with ExitStack() as stages:

        def stage(t: ir.Table) -> ir.Table:
            return stages.enter_context(t.cache())

        meds = stage(classified(inp.prescriptions, tables.drugs, as_of))
        gaba = meds.filter(meds.product.notnull())
        g = _with_patient(gaba, inp.patients, tables.products)
        g = stage(_with_renal(g, inp, defs, tables.stretches))
        yield stage(_with_rules(g, meds, defs, as_of))


def _with_rules(g: ir.Table, meds: ir.Table, defs: AuditDefinitions, as_of: int) -> ir.Table:
    gaba = meds.filter(meds.product.notnull())
    opioids = meds.filter(meds.is_opioid)
    opioid = _overlap(g, opioids, "opioid")
    cns = _overlap(g, meds.filter(meds.is_cns_depressant), "cns")
    dup = _overlap(g, gaba, "dup", different_product=True)
    mme = _peak_mme(g, opioids, defs)
    stop = _abrupt_stops(g, defs, as_of)
    for extra in (opioid, cns, dup, mme, stop):
        g = g.left_join(extra, list(KEY)).drop("patient_id_right", "rx_id_right")
    elderly = g.age_years >= defs.elderly_age
    # Only what the outputs read: materialising costs about the same per column as a join.
    return g.select(
        *[c for c in MEASURE_COLUMNS if c not in ("mme_tier", "kidney_band")],
        f_dose_above_max=(g.daily_mg > g.label_max_mg).fill_null(False),
        f_renal_above_band=(
            g.renal_avoid | (g.daily_mg > g.renal_max_mg) | (g.doses_per_day > g.renal_max_doses)
        ).fill_null(False),
        f_renal_no_creatinine=(elderly & g.scr_mg_dl.isnull()).fill_null(False),
        f_overlap_opioid=(g.opioid_days > 0).fill_null(False),
        f_overlap_cns_depressant=(g.cns_days > 0).fill_null(False),
        f_duplicate_gabapentinoid=(g.dup_days > 0).fill_null(False),
        f_stop_abrupt=g.abrupt.fill_null(False),
        f_elderly_high_dose=(elderly & (g.daily_mg > g.elderly_level_mg)).fill_null(False),
        mme_tier=_tier(g, defs),
        age_band=_age_band(g.age_years, defs),
        kidney_band=ibis.cases(
            (g.renal_label.notnull(), g.renal_label),
            (g.scr_mg_dl.isnull(), "no creatinine"),
            (g.crcl_ml_min.isnull(), "not computable"),
            else_="no renal table",
        ),
        month=g.start_date.truncate("M"),
    )


def _with_patient(g: ir.Table, patients: ir.Table, products: ir.Table) -> ir.Table:
    g = g.left_join(products, "product").drop("product_right")
    p = patients.select("patient_id", "birth_date", "sex", "weight_kg")
    g = g.left_join(p, "patient_id").drop("patient_id_right")
    before_birthday = (g.start_date.month() * 100 + g.start_date.day()) < (
        g.birth_date.month() * 100 + g.birth_date.day()
    )
    return g.mutate(
        age_years=(g.start_date.year() - g.birth_date.year() - before_birthday.cast("int64")).cast(
            "float64"
        ),
        sex=g.sex.lower(),
    )


def _with_renal(g: ir.Table, inp: Inputs, defs: AuditDefinitions, stretches: ir.Table) -> ir.Table:
    """The most recent creatinine on or before the start, Cockcroft-Gault, and the renal row."""
    scr = creatinine_mg_dl(inp.labs, defs).mutate(lab_day=lambda t: day(t.date))
    # On a day with several results the highest counts (the more cautious); then one per day.
    daily = scr.group_by("patient_id", "date", "lab_day").aggregate(scr_mg_dl=scr.scr_mg_dl.max())
    key = g.select(*KEY, "sd")
    j = key.join(daily, [key.patient_id == daily.patient_id, daily.lab_day <= key.sd])
    latest = j.group_by(*KEY).aggregate(
        scr_date=j.date.argmax(j.lab_day), scr_mg_dl=j.scr_mg_dl.argmax(j.lab_day)
    )
    g = g.left_join(latest, list(KEY)).drop("patient_id_right", "rx_id_right")
    cg = defs.k.renal.cockcroft_gault
    raw = (cg.age_offset_years - g.age_years) * g.weight_kg / (cg.denominator * g.scr_mg_dl)
    crcl = raw * ibis.ifelse(g.sex == "female", cg.female_factor, 1.0)
    # greatest() skips nulls on both backends: clamp explicitly so a missing input stays null.
    crcl = ibis.ifelse(crcl < 0, 0.0, crcl)
    crcl = ibis.ifelse(g.age_years >= defs.renal_min_age, crcl, None)
    g = g.mutate(crcl_ml_min=crcl)
    st = stretches.rename(st_product="product")
    c = g.crcl_ml_min
    g = g.left_join(st, [g.product == st.st_product, c >= st.at_least, c <= st.at_most])
    renal_max = ibis.ifelse(
        g.proportional_to_crcl.notnull(),
        g.max_mg_per_day * g.crcl_ml_min / g.proportional_to_crcl,
        g.max_mg_per_day,
    )
    return g.mutate(
        renal_label=g.label,
        renal_avoid=g.avoid,
        renal_max_mg=renal_max,
        renal_max_doses=g.max_doses_per_day,
    ).drop(
        "st_product",
        "at_least",
        "at_most",
        "label",
        "avoid",
        "max_mg_per_day",
        "max_doses_per_day",
        "proportional_to_crcl",
    )


def _pairs(g: ir.Table, other: ir.Table, different_product: bool = False) -> ir.Table:
    """(gabapentinoid, other prescription) pairs of a patient that share at least one day."""
    a = g.select(*KEY, "product", g_sd="sd", g_ed="ed")
    b = other.select(
        o_patient="patient_id",
        o_rx="rx_id",
        o_product="product",
        o_sd="sd",
        o_ed="ed",
        o_mme="mme_day",
    )
    preds = [a.patient_id == b.o_patient, b.o_sd <= a.g_ed, b.o_ed >= a.g_sd, a.rx_id != b.o_rx]
    if different_product:
        preds.append(a.product != b.o_product)
    return a.join(b, preds)


def _overlap(g: ir.Table, other: ir.Table, name: str, different_product: bool = False) -> ir.Table:
    """Days the prescription overlaps any of ``other`` (the union of the overlapping days)."""
    p = _pairs(g, other, different_product)
    p = p.mutate(s=ibis.greatest(p.g_sd, p.o_sd), e=ibis.least(p.g_ed, p.o_ed))
    w = ibis.window(group_by=list(KEY), order_by=["s", "e", "o_rx"], rows=(None, -1))
    p = p.mutate(prev_end=p.e.max().over(w))
    start = ibis.greatest(p.s, (p.prev_end + 1).fill_null(p.s))
    p = p.mutate(new_days=ibis.greatest(p.e - start + 1, 0))
    return p.group_by(list(KEY)).aggregate(
        **{f"{name}_days": p.new_days.sum(), f"{name}_count": p.o_rx.nunique()}
    )


def _peak_mme(g: ir.Table, opioids: ir.Table, defs: AuditDefinitions) -> ir.Table:
    """The highest total daily MME of the opioids on any day of the overlap; null when an
    overlapping opioid's dose cannot be converted. The total only rises when an opioid starts,
    so the peak is at the gabapentinoid's start or at an overlapping opioid's start."""
    o = opioids.select("patient_id", "rx_id", "sd", "ed", "mme_day")
    o2 = o.select(p2="patient_id", sd2="sd", ed2="ed", mme2="mme_day")
    at_start = o.join(o2, [o.patient_id == o2.p2, o2.sd2 <= o.sd, o2.ed2 >= o.sd])
    at_start = at_start.group_by(o_rx="rx_id", o_patient="patient_id").aggregate(
        total_at_start=at_start.mme2.sum(),
        unknown_at_start=at_start.mme2.isnull().cast("int64").sum(),
    )
    p = _pairs(g, opioids)
    p = p.left_join(at_start, [p.o_patient == at_start.o_patient, p.o_rx == at_start.o_rx])
    running_at_g = ibis.ifelse(p.o_sd <= p.g_sd, p.o_mme, 0.0)
    later = ibis.ifelse(p.o_sd > p.g_sd, p.total_at_start, None)
    agg = p.group_by(list(KEY)).aggregate(
        at_g=running_at_g.sum(),
        later=later.max(),
        unknown=(
            p.o_mme.isnull().cast("int64").sum()
            + ibis.ifelse(p.o_sd > p.g_sd, p.unknown_at_start, 0).sum()
        ),
    )
    peak = ibis.greatest(agg.at_g, agg.later.fill_null(0.0))
    return agg.select(*KEY, peak_mme=ibis.ifelse(agg.unknown == 0, peak, None))


def _abrupt_stops(g: ir.Table, defs: AuditDefinitions, as_of: int) -> ir.Table:
    """Prescriptions at or above the product's stop level that end with neither a continuation
    nor a taper of at least the taper length; those ending too near the as-of date are not judged."""
    taper = defs.taper_days
    cand = g.filter(
        g.end_date.notnull() & (g.daily_mg >= g.stop_level_mg) & (g.ed + taper <= as_of)
    ).select(*KEY, c_product="product", c_ed="ed", c_daily="daily_mg")
    q = g.select(
        q_patient="patient_id",
        q_rx="rx_id",
        q_product="product",
        q_sd="sd",
        q_end=g.end_date,
        q_ed="ed",
        q_daily="daily_mg",
    )
    # An open-ended prescription's ed is the as-of date, after every judged end: one inequality
    # suffices, and an inner join keeps DuckDB on a hash join (an OR, or an outer join with
    # inequalities, made it a nested loop: quadratic).
    j = cand.join(
        q,
        [
            cand.patient_id == q.q_patient,
            cand.rx_id != q.q_rx,
            q.q_sd <= cand.c_ed + taper,
            q.q_ed > cand.c_ed,
        ],
    )
    # Another product after it is a switch; the same product at a lower dose is a taper.
    continues = (
        j.q_end.isnull()
        | (j.q_product != j.c_product)
        | j.q_daily.isnull()
        | (j.q_daily >= j.c_daily)
    )
    after = j.group_by(list(KEY)).aggregate(
        continued=continues.cast("int64").sum(),
        last_day=j.q_ed.max(),
    )
    agg = cand.left_join(after, list(KEY)).drop("patient_id_right", "rx_id_right")
    taper_days = (agg.last_day - agg.c_ed).fill_null(0)
    agg = agg.mutate(continued=agg.continued.fill_null(0))
    return agg.select(
        *KEY,
        taper_days=taper_days,
        abrupt=(agg.continued == 0) & (taper_days < taper),
    )


def _tier(g: ir.Table, defs: AuditDefinitions) -> ir.StringValue:
    cases = [
        (g.peak_mme >= at_least, f"{at_least:g}+ MME/day")
        for at_least, _ in reversed(defs.mme_tiers)
    ]
    return ibis.cases(
        (g.opioid_days.isnull(), ibis.null(dt.string)),
        (g.peak_mme.isnull(), "MME not computable"),
        *cases,
        else_=f"below {defs.mme_tiers[0][0]:g} MME/day",
    )


def _age_band(age: ir.FloatingValue, defs: AuditDefinitions) -> ir.StringValue:
    bands = defs.population.age_bands
    cases = [(age >= b.min, b.label) for b in reversed(bands)]
    return ibis.cases(*cases, else_="unknown")
