"""The committed RxNorm vocabulary is what scripts/import_vocabulary.py writes, and reads right.

The re-run needs the shared reference data: ``$GABAGUIDE_SHARED`` if set, else ``../shared/data``
next to the repository. Without it that test is skipped; the spot checks read only the committed
files.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "import_vocabulary.py"
VOCABULARY = REPO / "src" / "gabaguide" / "knowledge" / "data" / "vocabulary"
OUTPUTS = ("manifest.toml", "mme.csv", "opioid-strengths.csv", "rxnorm.csv")


def shared_data() -> Path | None:
    """The shared data directory, or None when it is not there."""
    candidates = []
    if os.environ.get("GABAGUIDE_SHARED"):
        env = Path(os.environ["GABAGUIDE_SHARED"])
        candidates += [env, env / "data"]
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data")
    return next((c for c in candidates if (c / "valuesets" / "MANIFEST.json").is_file()), None)


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_vocabulary", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def read_rows(name: str) -> list[dict[str, str]]:
    with (VOCABULARY / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def rxnorm() -> dict[str, dict[str, str]]:
    return {row["rxcui"]: row for row in read_rows("rxnorm.csv")}


# --- the committed files are the script's output ------------------------------------------


def test_rerun_is_byte_identical(tmp_path: Path) -> None:
    shared = shared_data()
    if shared is None:
        pytest.skip("shared reference data not found (set GABAGUIDE_SHARED)")
    for attempt in ("first", "second"):
        out = tmp_path / attempt
        subprocess.run(
            [sys.executable, str(SCRIPT), "--shared", str(shared), "--out", str(out)],
            check=True,
            capture_output=True,
        )
        assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
        for name in OUTPUTS:
            assert (out / name).read_bytes() == (VOCABULARY / name).read_bytes(), name


# --- spot checks of rxnorm.csv -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rxcui", "display_start", "ingredients", "brand", "in_valueset"),
    [
        (
            "857004",
            "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet",
            "acetaminophen;hydrocodone",
            "Norco",
            "opioid-analgesics-with-ambulatory-misuse-potential",
        ),
        (
            "1115012",
            "Once-Daily gabapentin 300 MG Oral Tablet",
            "gabapentin",
            "Gralise",
            "gabapentinoid-products",
        ),
        (
            "1101339",
            "gabapentin enacarbil 600 MG Extended Release Oral Tablet",
            "gabapentin enacarbil",
            "Horizant",
            "gabapentinoid-products",
        ),
        (
            "351266",
            "buprenorphine 2 MG / naloxone 0.5 MG Sublingual Tablet",
            "buprenorphine;naloxone",
            "",
            "buprenorphine-and-methadone-medications",
        ),
        (
            "1010603",
            "buprenorphine 2 MG / naloxone 0.5 MG Sublingual Film",
            "buprenorphine;naloxone",
            "Suboxone",
            "naloxone-medications",
        ),
        (
            "2398512",
            "{9 (Once-Daily gabapentin 300 MG Oral Tablet [Gralise]) / 24 (",
            "gabapentin",
            "Gralise Sample Pack",
            "gabapentinoid-products",
        ),
        (
            "751563",
            "{7 (lamotrigine 100 MG Oral Tablet) / 42 (lamotrigine 25 MG Oral Tablet) } Pack",
            "lamotrigine",
            "",
            "non-opioid-cns-depressant-medications-archived",
        ),
        (
            "1001690",
            "{2 (480 ML) (magnesium sulfate 0.0277 MEQ/ML",
            "magnesium sulfate;potassium sulfate;sodium sulfate",
            "Suprep Bowel Prep Kit",
            "non-opioid-cns-depressant-medications-archived",
        ),
        (
            "197696",
            "72 HR fentanyl 0.075 MG/HR Transdermal System",
            "fentanyl",
            "",
            "fentanyl-type-medications",
        ),
        (
            "801957",
            "0.5 ML diazepam 5 MG/ML Rectal Gel",
            "diazepam",
            "",
            "benzodiazepine-medications",
        ),
        (
            "892582",
            "morphine sulfate 15 MG Oral Tablet",
            "morphine",
            "",
            "opioid-analgesics-with-ambulatory-misuse-potential",
        ),
        (
            "2393794",
            "calcium oxybate 234 MG/ML",
            "calcium oxybate;magnesium oxybate;potassium oxybate;sodium oxybate",
            "Xywav",
            "cns-depressant-medications",
        ),
    ],
)
def test_rxnorm_rows(
    rxnorm: dict[str, dict[str, str]],
    rxcui: str,
    display_start: str,
    ingredients: str,
    brand: str,
    in_valueset: str,
) -> None:
    row = rxnorm[rxcui]
    assert row["display"].startswith(display_start)
    assert row["ingredients"] == ingredients
    assert row["brand"] == brand
    assert in_valueset in row["valuesets"].split(";")


def test_rxnorm_table_shape(rxnorm: dict[str, dict[str, str]]) -> None:
    codes = list(rxnorm)
    assert codes == sorted(codes, key=int)
    gabapentinoids = [r for r in rxnorm.values() if "gabapentinoid-products" in r["valuesets"]]
    assert len(gabapentinoids) == 52
    assert {r["ingredients"] for r in gabapentinoids} == {
        "gabapentin",
        "gabapentin enacarbil",
        "pregabalin",
    }
    for row in rxnorm.values():
        names = row["ingredients"].split(";")
        assert names == sorted(set(names))
        assert all(name and name == name.lower() for name in names)


def test_manifest_matches_rxnorm_membership(rxnorm: dict[str, dict[str, str]]) -> None:
    manifest = tomllib.loads((VOCABULARY / "manifest.toml").read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for row in rxnorm.values():
        for vs in row["valuesets"].split(";"):
            counts[vs] = counts.get(vs, 0) + 1
    assert {vs["id"]: vs["distinct_codes"] for vs in manifest["valuesets"]} == counts
    assert all(vs["code_count"] >= vs["distinct_codes"] for vs in manifest["valuesets"])
    assert "non-opioid-cns-depressant-medications-archived" in counts
    assert all(len(vs["source_commit"]) == 40 for vs in manifest["valuesets"])


# --- spot checks of mme.csv and opioid-strengths.csv ---------------------------------------


def test_mme_factors() -> None:
    rows = {row["ingredient"]: row for row in read_rows("mme.csv")}
    assert rows["fentanyl"] == {
        "ingredient": "fentanyl",
        "ingredient_rxcui": "4337",
        "factor": "2.4",
        "unit_note": "per mcg/h (transdermal)",
    }
    assert {name: row["factor"] for name, row in rows.items() if name != "fentanyl"} == {
        "codeine": "0.15",
        "hydrocodone": "1",
        "hydromorphone": "5",
        "methadone": "4.7",
        "morphine": "1",
        "oxycodone": "1.5",
        "oxymorphone": "3",
        "tapentadol": "0.4",
        "tramadol": "0.2",
    }
    assert all(row["unit_note"] == "per mg" for name, row in rows.items() if name != "fentanyl")


def test_opioid_strengths_only_mme_ingredients() -> None:
    mme = {row["ingredient"] for row in read_rows("mme.csv")}
    rows = read_rows("opioid-strengths.csv")
    assert {row["ingredient"] for row in rows} == mme
    patch = next(row for row in rows if row["rxcui"] == "197696")
    assert patch == {
        "rxcui": "197696",
        "ingredient": "fentanyl",
        "strength_value": "0.075",
        "strength_unit": "MG/HR",
        "dose_form": "Transdermal System",
    }


# --- the display rules, on the examples the script documents -------------------------------


@pytest.mark.parametrize(
    ("display", "ingredients"),
    [
        ("24 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet", ["oxycodone"]),
        ("zolpidem tartrate 5 MG Oral Tablet", ["zolpidem"]),
        ("pentobarbital sodium 50 MG/ML Injectable Solution", ["pentobarbital"]),
        ("24 HR divalproex sodium 500 MG Extended Release Oral Tablet", ["divalproex"]),
        ("clorazepate dipotassium 7.5 MG Oral Tablet", ["clorazepate"]),
        ("sodium oxybate 500 MG/ML Oral Solution [Xyrem]", ["sodium oxybate"]),
        ("potassium chloride 20 MEQ Oral Tablet", ["potassium chloride"]),
        ("ethyl chloride 1000 MG/ML Topical Spray", ["ethyl chloride"]),
        ("nitrous oxide 99 % Gas for Inhalation", ["nitrous oxide"]),
        ("Abuse-Deterrent 12 HR morphine sulfate 15 MG Extended Release Oral Tablet", ["morphine"]),
        (
            "Matrix Delivery 24 HR tramadol hydrochloride 100 MG Extended Release Oral Tablet",
            ["tramadol"],
        ),
    ],
)
def test_ingredient_rules(display: str, ingredients: list[str]) -> None:
    assert load_script().ingredients_of(display) == ingredients


def test_unparsable_display_is_rejected() -> None:
    script = load_script()
    with pytest.raises(script.VocabularyError):
        script.ingredients_of("Gabapentin Oral Tablet")
