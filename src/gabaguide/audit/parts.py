"""A large population is audited part by part: ranges of patient ids, each small enough for memory.

Every rule reads one patient's rows only, so the parts' results added together are the whole
population's (counts of patients too: no patient is in two parts). Ranges rather than hashes let
DuckDB skip the Parquet row groups whose patient ids lie outside a part: data written in patient
order (as extracts often are, and as ``audit synth`` writes them) is read about once in all; other
data is read once per part, which is slower but gives the same result. Spark is given the whole
population at once: it partitions and spills on its own.
"""

from __future__ import annotations

import math
import os
from itertools import pairwise

import ibis.expr.types as ir

from gabaguide.audit.contract import Inputs

ROWS_PER_PART = 4_000_000
"""Prescription rows per part unless ``GABAGUIDE_AUDIT_PART_ROWS`` says otherwise: about 2 GiB
peak for the 5 M-row sample in 2 parts, 3.3 GiB over 100 M rows (the README's audit benchmark)."""


def rows_per_part() -> int:
    value = os.environ.get("GABAGUIDE_AUDIT_PART_ROWS", "")
    return int(value) if value.isdigit() and int(value) > 0 else ROWS_PER_PART


def split(inp: Inputs, rows: int) -> list[Inputs]:
    """The population as parts of about ``rows`` prescriptions each (patients' id quantiles)."""
    total = inp.prescriptions.count().to_pyarrow().as_py()
    n = max(1, math.ceil(total / rows))
    if n == 1:
        return [inp]
    ids = inp.patients.patient_id
    cuts = ids.quantile([i / n for i in range(1, n)]).to_pyarrow().as_py()
    if ids.type().is_integer():  # an integer bound keeps the Parquet row-group filter usable
        cuts = [math.ceil(c) for c in cuts]
    bounds = [None, *sorted(set(cuts)), None]
    return [_between(inp, lo, hi) for lo, hi in pairwise(bounds)]


def _between(inp: Inputs, lo: object, hi: object) -> Inputs:
    def keep(t: ir.Table) -> ir.Table:
        if lo is not None:
            t = t.filter(t.patient_id >= lo)
        if hi is not None:
            t = t.filter(t.patient_id < hi)
        return t

    return Inputs(keep(inp.patients), keep(inp.prescriptions), keep(inp.labs))
