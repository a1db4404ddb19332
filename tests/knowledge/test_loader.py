"""The knowledge loader accepts the packaged files and rejects each kind of broken file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from gabaguide import Knowledge, KnowledgeError
from gabaguide.knowledge import load_from
from gabaguide.knowledge.loader import packaged_data


def test_packaged_knowledge_loads(k: Knowledge) -> None:
    assert {p.id for p in k.products} >= {"gabapentin", "gralise", "horizant", "pregabalin"}
    assert k.dosing.limits.label_max_daily_mg == 3600
    assert len(k.adverse_reactions) > 40
    assert len(k.pk_parameters) > 20
    assert any(s.topic == "article-correction" for s in k.statements)


def test_every_citation_resolves_and_every_fact_is_cited(k: Knowledge) -> None:
    ids = {s.id for s in k.sources}
    records = [
        *k.products,
        *k.indications,
        *k.dosing.schemes,
        *k.renal.bands,
        *k.statements,
        *k.adverse_reactions,
        *k.pk_parameters,
    ]
    for r in records:
        assert r.cite, r
        assert {c.source for c in r.cite} <= ids


def test_rxnorm_codes_cover_every_strength(k: Knowledge) -> None:
    codes = [c for p in k.products for f in p.forms for c in f.rxcui]
    assert len(codes) == len(set(codes))
    assert all(f.rxcui for p in k.products for f in p.forms)
    assert "310432" in codes  # gabapentin 400 MG Oral Capsule


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    src = Path(str(packaged_data()))
    dst = tmp_path / "data"
    shutil.copytree(src, dst)
    return dst


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BREAKAGES: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "unknown-field",
        lambda d: _edit(d / "renal.toml", 'label = ">=60"', 'label = ">=60"\ncolour = "red"'),
        "colour is not a known field",
    ),
    (
        "bad-unit",
        lambda d: _edit(d / "facts-pk.toml", 'unit = "h"', 'unit = "hours"'),
        "unit must be one of",
    ),
    (
        "bad-dose-unit",
        lambda d: _edit(d / "dosing.toml", 'unit = "mg/kg/day"', 'unit = "mg/lb/day"'),
        "unit must be one of",
    ),
    (
        "unresolved-source",
        lambda d: _edit(
            d / "renal.toml",
            '{ source = "NEU48", locator = "§2.3 Table 1 (bands',
            '{ source = "NOPE99", locator = "§2.3 Table 1 (bands',
        ),
        "source 'NOPE99' is not in sources.toml",
    ),
    (
        "duplicate-id",
        lambda d: _edit(d / "renal.toml", 'id = "gabapentin-30-59"', 'id = "gabapentin-ge-60"'),
        "is used more than once",
    ),
    (
        "dangling-reference",
        lambda d: _edit(d / "renal.toml", 'scheme = "phn-horizant"', 'scheme = "phn-nowhere"'),
        "dosing scheme 'phn-nowhere' is not defined",
    ),
    (
        "wrong-type",
        lambda d: _edit(
            d / "dosing.toml", "label_max_daily_mg = 3600", 'label_max_daily_mg = "3600"'
        ),
        "label_max_daily_mg must be a number",
    ),
    (
        "not-toml",
        lambda d: (d / "findings.toml").write_text("[[findings]\n", encoding="utf-8"),
        "findings.toml: not valid TOML",
    ),
    (
        "missing-file",
        lambda d: (d / "products.toml").unlink(),
        "products.toml: file is missing",
    ),
    (
        "missing-citation",
        lambda d: _edit(
            d / "products.toml",
            'cite = [{ source = "FDA-DSC", locator = "products named: Lyrica CR" }]',
            "cite = []",
        ),
        "cite",
    ),
    (
        "inconsistent-band",
        lambda d: _edit(d / "renal.toml", "daily_min_mg = 400", "daily_min_mg = 4000"),
        "daily_min_mg exceeds daily_max_mg",
    ),
    (
        "rising-taper",
        lambda d: _edit(d / "dosing.toml", "levels = [0.75, 0.5, 0.25]", "levels = [0.5, 0.75]"),
        "levels must be decreasing",
    ),
    (
        "pk-model-unknown-parameter",
        lambda d: _edit(
            d / "facts-pk.toml", 'ka = "pk.gabapentin.tran-2017.ka"', 'ka = "pk.gabapentin.nope.ka"'
        ),
        "ka names 'pk.gabapentin.nope.ka', which is not a pk parameter",
    ),
    (
        "pk-model-other-drug",
        lambda d: _edit(
            d / "facts-pk.toml",
            'lag = "pk.gabapentin.tran-2017.lag"',
            'lag = "pk.pregabalin.chan-2021.lag"',
        ),
        "is a pregabalin parameter",
    ),
    (
        "pk-model-wrong-unit",
        lambda d: _edit(
            d / "facts-pk.toml",
            'v = "pk.gabapentin.tran-2017-stanpumpr.v"',
            'v = "pk.gabapentin.tran-2017.ka"',
        ),
        "has unit 1/h; expected L",
    ),
]


@pytest.mark.parametrize(("name", "breakage", "message"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_loader_rejects(
    data_copy: Path, name: str, breakage: Callable[[Path], None], message: str
) -> None:
    breakage(data_copy)
    with pytest.raises(KnowledgeError) as info:
        load_from(data_copy)  # type: ignore[arg-type]
    assert any(message in p for p in info.value.problems), info.value.problems
