#!/usr/bin/env python3
"""Copy the RxNorm vocabulary gabaguide needs out of the shared reference data.

gabaguide must never read ``../shared`` at run time. This developer script reads the read-only
reference data (default ``../shared/data`` next to the repository, or ``--shared DIR``) and writes
the package's own copy (default ``src/gabaguide/knowledge/data/vocabulary``, or ``--out DIR``).
Run it again after the shared data changes and commit what it writes; the test
``tests/knowledge/test_vocabulary_import.py`` checks the committed files are what it writes.

Provenance (licence CC0, per ``shared/data/README.md``)
-------------------------------------------------------
- ``valuesets/*.json``: FHIR ValueSet expansions from ``cqframework/opioid-cds-r4``;
  ``valuesets/MANIFEST.json`` gives each one's URL, title, date, code count and source commit.
- ``rxnorm/gabapentinoid-products.csv``: 52 gabapentinoid products (RxNorm 2023-03) taken from
  the archived ``non-opioid-cns-depressant-medications`` value set; its columns name the source.
- ``mme/mme-conversion-factors.csv`` and ``mme/codesystem-CDCMMEClinicalConversionFactors.json``:
  the 2022 CDC morphine-milligram-equivalent factors (``cqframework/opioid-mme-r4``).
- ``mme/omtk-drug-ingredients-2020-10-20.csv``: opioid products with ingredient, strength and dose
  form, from the opioid MME toolkit.

Outputs
-------
``rxnorm.csv`` (``rxcui,display,ingredients,brand,valuesets``)
    One row per distinct RxNorm code in the value sets and the gabapentinoid CSV, sorted by rxcui
    as a number. ``valuesets`` lists, sorted and ``;``-separated, the short id of every value set
    holding the code: the file stem, except that ``ARCHIVED-<stem>`` becomes ``<stem>-archived``,
    plus ``gabapentinoid-products`` for codes in the gabapentinoid CSV.
``manifest.toml``
    One ``[[valuesets]]`` table per short id, with the provenance above. ``code_count`` is the
    number of expansion entries, as in MANIFEST.json; ``distinct_codes`` is the number of distinct
    codes, which is what rxnorm.csv holds. They differ for the archived CNS-depressant set, whose
    expansion lists many codes two to four times (2812 entries, 2061 codes).
``mme.csv`` (``ingredient,ingredient_rxcui,factor,unit_note``)
    The CDC 2022 factor per opioid ingredient, cross-checked against the CodeSystem supplement.
    Fentanyl's factor, 2.4, is per mcg/h of transdermal patch strength; all others are per mg.
``opioid-strengths.csv`` (``rxcui,ingredient,strength_value,strength_unit,dose_form``)
    The toolkit rows whose ingredient has an MME factor, values copied as printed. A product
    can have two rows for one ingredient (two salts of it, e.g. oxycodone hydrochloride plus
    oxycodone terephthalate); a reader must add them up. Fentanyl rows cover every dose form,
    but the fentanyl factor in ``mme.csv`` is only for transdermal systems (dose form
    ``Transdermal System``, strength in MG/HR: multiply by 1000 for mcg/h). The CodeSystem's
    general fentanyl ``conversion-factor`` (0.0576) is not a CDC 2022 table value in the CSV and
    is not imported.

How a display is read (RxNorm SCD/SBD/GPCK/BPCK names)
------------------------------------------------------
- Brand: the text in the final square brackets, e.g. ``[Norco]``. For a pack that is the pack's
  own brand (``[Gralise Sample Pack]``), not a component's. The gabapentinoid CSV's ``brand``
  column wins when it is not empty.
- Pack: ``{N (component) / M (QTY UNIT) (component) } Pack [Brand]``. Every top-level bracketed
  group is a component display, read recursively, except a quantity such as ``(480 ML)``.
- Otherwise the display is ``[qualifiers] ingredient strength / ingredient strength dose form``.
  Leading qualifiers are dropped: capitalised words (``Once-Daily``, ``Abuse-Deterrent``,
  ``Matrix Delivery``, ``Sensor``) and quantity factors (``24 HR``, ``1 ML``, ``80 ACTUAT``). The
  rest is split at `` / ``; each part's ingredient is the text before its first strength (a number,
  a space, then an upper-case unit or ``%``, e.g. ``5 MG``, ``0.075 MG/HR``, ``99 %``).

Ingredient base names
---------------------
Each ingredient is lower-cased and trailing salt, ester or hydrate words (``SALT_WORDS``) are
removed one at a time, so ``oxycodone hydrochloride`` -> ``oxycodone``, ``divalproex sodium`` ->
``divalproex``, ``clorazepate dipotassium`` -> ``clorazepate``, ``bacitracin zinc`` ->
``bacitracin`` and ``hydrocortisone acetate`` -> ``hydrocortisone``. Only a trailing word is
removed, so ``sodium oxybate``, ``calcium oxybate`` and ``sodium ascorbate`` keep their cation.
A word is not removed when what would remain is only a cation, an inorganic counter-word or an
alkyl group (``NON_BASE_WORDS``): there the salt is the drug, so ``magnesium sulfate``,
``potassium chloride``, ``sodium chloride``, ``zinc acetate``, ``ferrous fumarate``,
``ammonium lactate``, ``ethyl chloride`` and ``monobasic potassium phosphate`` stay whole, and
``sodium phosphate dihydrate`` becomes ``sodium phosphate``. ``gabapentin enacarbil`` keeps
``enacarbil`` (it is a prodrug moiety, not a salt). A trailing pharmacopoeia tag is dropped:
``compound benzoin tincture (USP)`` -> ``compound benzoin tincture``. Words not in
``SALT_WORDS``, such as ``carbonate``, ``oxide``, ``hydrate``, ``salicylate`` and ``oxybate``, are
never removed.

The script checks what it can and stops with a message rather than write doubtful data: every
display must parse; a code must have one display everywhere; value-set code counts and URLs must
match MANIFEST.json; each gabapentinoid CSV row's ``ingredient`` must be what its display parses
to, and the code must be in the archived value set it names; each CSV MME factor must match the
CodeSystem supplement; and each toolkit row's ingredient must be among the parsed ingredients of
its code where the code is in rxnorm.csv. Output is deterministic: sorted rows, ``\\n`` line
ends, UTF-8.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "src" / "gabaguide" / "knowledge" / "data" / "vocabulary"

GABAPENTINOID_ID = "gabapentinoid-products"
ARCHIVED_PREFIX = "ARCHIVED-"
RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
TRANSDERMAL_SYSTEM = "316987"  # RxNorm dose form "Transdermal System"

SALT_WORDS = frozenset(
    {
        "acetate",
        "besylate",
        "bitartrate",
        "bromide",
        "chloride",
        "citrate",
        "decanoate",
        "dihydrate",
        "dipotassium",
        "embonate",
        "fumarate",
        "gluconate",
        "hcl",
        "hydrobromide",
        "hydrochloride",
        "lactate",
        "magnesium",
        "maleate",
        "mesylate",
        "monohydrate",
        "mononitrate",
        "napsylate",
        "nitrate",
        "pamoate",
        "phosphate",
        "polistirex",
        "potassium",
        "resin",
        "sodium",
        "succinate",
        "sulfate",
        "tartrate",
        "terephthalate",
        "tosylate",
        "trihydrate",
        "xinafoate",
        "zinc",
    }
)
NON_BASE_WORDS = frozenset(
    {
        "aluminum",
        "ammonium",
        "benzyl",
        "calcium",
        "copper",
        "dibasic",
        "ethyl",
        "ferric",
        "ferrous",
        "hydrogen",
        "isopropyl",
        "lithium",
        "magnesium",
        "manganese",
        "methyl",
        "monobasic",
        "potassium",
        "sodium",
        "tribasic",
        "zinc",
    }
)

BRAND_RE = re.compile(r"\s\[([^\[\]]+)\]$")
PACK_RE = re.compile(r"^\{(?P<body>.*)\}\s*Pack$")
QUANTITY_RE = re.compile(r"^(?:\d+(?:\.\d+)?|\.\d+) [A-Z]+$")
QUALIFIERS_RE = re.compile(
    r"^(?:(?:[A-Z][A-Za-z]*(?:-[A-Z][A-Za-z]*)*|(?:\d+(?:\.\d+)?|\.\d+) [A-Z]+)\s+)+"
)
STRENGTH_RE = re.compile(r"\s(?:\d+(?:\.\d+)?|\.\d+)\s(?:[A-Z]+|%)(?:/[A-Z]+)?(?=\s|$)")
PHARMACOPOEIA_RE = re.compile(r"\s*\((?:usp|nf|bp)\)$")
FIRST_NUMBER_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)")


class VocabularyError(Exception):
    """The shared data is not what this script expects."""


@dataclass
class Concept:
    """One RxNorm code and the value sets it was found in."""

    rxcui: str
    display: str
    brand: str = ""
    valuesets: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ValueSetInfo:
    """Provenance of one value set, as written to manifest.toml."""

    id: str
    title: str
    url: str
    date: str
    code_count: int
    distinct_codes: int
    source_repo: str
    source_path: str
    source_commit: str
    rxnorm_version: str = ""
    derived_from: str = ""


# --- reading displays ---------------------------------------------------------------------


def brand_of(display: str) -> str:
    """The text in the display's final square brackets, or ''."""
    match = BRAND_RE.search(display)
    return match.group(1) if match else ""


def without_brand(display: str) -> str:
    return BRAND_RE.sub("", display).strip()


def top_level_groups(text: str) -> list[str]:
    """The contents of each top-level (...) group in text."""
    groups: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(text):
        if char == "(":
            if depth == 0:
                start = i + 1
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise VocabularyError(f"unbalanced ')' in {text!r}")
            if depth == 0:
                groups.append(text[start:i])
    if depth != 0:
        raise VocabularyError(f"unbalanced '(' in {text!r}")
    return groups


def component_names(display: str) -> list[str]:
    """The ingredient names, as printed, of a product or of every component of a pack."""
    core = without_brand(display)
    pack = PACK_RE.match(core)
    if pack:
        parts = [g for g in top_level_groups(pack.group("body")) if not QUANTITY_RE.match(g)]
        if not parts:
            raise VocabularyError(f"pack with no components: {display!r}")
        return [name for part in parts for name in component_names(part)]
    if "[" in core or "{" in core:
        raise VocabularyError(f"unexpected bracket in {display!r}")
    return [ingredient_before_strength(part, display) for part in _drop_qualifiers(core)]


def _drop_qualifiers(core: str) -> list[str]:
    return QUALIFIERS_RE.sub("", core).split(" / ")


def ingredient_before_strength(part: str, display: str) -> str:
    match = STRENGTH_RE.search(" " + part)
    name = (" " + part)[: match.start()].strip() if match else ""
    if not name or not (name[0].islower() or name[0].isdigit()):
        raise VocabularyError(f"cannot find an ingredient in {part!r} of {display!r}")
    return name


def base_name(name: str) -> str:
    """The lower-case ingredient with trailing salt words removed (see the module docstring)."""
    words = PHARMACOPOEIA_RE.sub("", name.lower()).split()
    while len(words) > 1 and words[-1] in SALT_WORDS:
        rest = words[:-1]
        if all(word in NON_BASE_WORDS for word in rest):
            break
        words = rest
    return " ".join(words)


def ingredients_of(display: str) -> list[str]:
    return sorted({base_name(name) for name in component_names(display)})


# --- reading the shared data --------------------------------------------------------------


def short_id(stem: str) -> str:
    if stem.startswith(ARCHIVED_PREFIX):
        return stem.removeprefix(ARCHIVED_PREFIX) + "-archived"
    return stem


def read_json(path: Path) -> object:
    with path.open(encoding="utf-8") as f:
        return json.load(f, parse_float=Decimal)


def read_object(path: Path) -> dict[str, object]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise VocabularyError(f"{path.name}: expected a JSON object")
    return data


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _as_list(value: object, what: str) -> list[dict[str, object]]:
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise VocabularyError(f"{what}: expected a list of objects")
    return value


def expansion_entries(valueset: dict[str, object], where: str) -> list[tuple[str, str]]:
    """(code, display) of every entry in a ValueSet expansion, checking the system and total."""
    expansion = valueset.get("expansion")
    if not isinstance(expansion, dict):
        raise VocabularyError(f"{where}: no expansion")
    entries = _as_list(expansion.get("contains"), f"{where} expansion.contains")
    if expansion.get("total") not in (None, len(entries)):
        raise VocabularyError(f"{where}: expansion.total disagrees with the entries")
    out = []
    for entry in entries:
        code, display = str(entry["code"]), str(entry["display"])
        if entry.get("system") != RXNORM_SYSTEM or not code.isdigit():
            raise VocabularyError(f"{where}: {code!r} is not an RxNorm code")
        out.append((code, display))
    return out


def expansion_version(valueset: dict[str, object]) -> str:
    expansion = valueset.get("expansion")
    params = expansion.get("parameter") if isinstance(expansion, dict) else None
    for param in params if isinstance(params, list) else []:
        if isinstance(param, dict) and param.get("name") == "version":
            return str(param.get("valueString", ""))
    return ""


def add_concept(concepts: dict[str, Concept], code: str, display: str, valueset: str) -> None:
    concept = concepts.setdefault(code, Concept(code, display, brand_of(display)))
    if concept.display != display:
        raise VocabularyError(f"{code}: two displays, {concept.display!r} and {display!r}")
    concept.valuesets.add(valueset)


def read_valuesets(shared: Path, concepts: dict[str, Concept]) -> list[ValueSetInfo]:
    manifest = _as_list(read_json(shared / "valuesets" / "MANIFEST.json"), "MANIFEST.json")
    by_name = {Path(str(m["file"])).name: m for m in manifest}
    infos = []
    for path in sorted((shared / "valuesets").glob("*.json")):
        if path.name == "MANIFEST.json":
            continue
        if path.name not in by_name:
            raise VocabularyError(f"{path.name} is not in MANIFEST.json")
        valueset = read_object(path)
        entries = expansion_entries(valueset, path.name)
        info = manifest_info(by_name[path.name], short_id(path.stem), valueset, entries)
        for code, display in entries:
            add_concept(concepts, code, display, info.id)
        infos.append(info)
    return infos


def manifest_info(
    entry: dict[str, object],
    vs_id: str,
    valueset: dict[str, object],
    entries: Sequence[tuple[str, str]],
) -> ValueSetInfo:
    where, count = str(entry["file"]), len(entries)
    if entry["code_count"] != count:
        raise VocabularyError(
            f"{where}: MANIFEST code_count {entry['code_count']} but {count} codes"
        )
    if entry["valueset_url"] != valueset.get("url"):
        raise VocabularyError(f"{where}: MANIFEST url disagrees with the ValueSet")
    return ValueSetInfo(
        id=vs_id,
        title=str(entry["title"]),
        url=str(entry["valueset_url"]),
        date=str(entry["date"]),
        code_count=count,
        distinct_codes=len({code for code, _ in entries}),
        source_repo=str(entry["source_repo"]),
        source_path=str(entry["source_path"]),
        source_commit=str(entry["source_commit"]),
        rxnorm_version=expansion_version(valueset),
    )


def read_gabapentinoids(
    shared: Path, concepts: dict[str, Concept], infos: Sequence[ValueSetInfo]
) -> ValueSetInfo:
    rows = read_csv(shared / "rxnorm" / "gabapentinoid-products.csv")
    for row in rows:
        code, display = row["rxcui"], row["display"]
        if row["system"] != RXNORM_SYSTEM or not code.isdigit():
            raise VocabularyError(f"gabapentinoid-products.csv: {code!r} is not an RxNorm code")
        if ingredients_of(display) != [row["ingredient"]]:
            raise VocabularyError(f"gabapentinoid-products.csv {code}: ingredient disagrees")
        add_concept(concepts, code, display, GABAPENTINOID_ID)
        if row["brand"]:
            concepts[code].brand = row["brand"]
    return gabapentinoid_info(rows, infos)


def single(rows: Sequence[dict[str, str]], column: str) -> str:
    values = {row[column] for row in rows}
    if len(values) != 1:
        raise VocabularyError(f"gabapentinoid-products.csv: {column} is not one value: {values}")
    return values.pop()


def gabapentinoid_info(
    rows: Sequence[dict[str, str]], infos: Sequence[ValueSetInfo]
) -> ValueSetInfo:
    parent_path = single(rows, "source_path")
    parents = [i for i in infos if i.source_path == parent_path]
    if len(parents) != 1:
        raise VocabularyError(f"gabapentinoid-products.csv: no single value set at {parent_path}")
    parent = parents[0]
    return ValueSetInfo(
        id=GABAPENTINOID_ID,
        title=f"Gabapentinoid products (subset of: {parent.title})",
        url=parent.url,
        date=parent.date,
        code_count=len(rows),
        distinct_codes=len({row["rxcui"] for row in rows}),
        source_repo=single(rows, "source_repo"),
        source_path=parent_path,
        source_commit=single(rows, "source_commit"),
        rxnorm_version=single(rows, "rxnorm_version"),
        derived_from=parent.id,
    )


def check_gabapentinoids_in_parent(concepts: dict[str, Concept], parent: str) -> None:
    for concept in concepts.values():
        if GABAPENTINOID_ID in concept.valuesets and parent not in concept.valuesets:
            raise VocabularyError(f"gabapentinoid {concept.rxcui} is not in {parent}")


# --- MME factors and opioid strengths -----------------------------------------------------


def ingredient_key(name: str) -> str:
    """'Fentanyl (transdermal; mcg/hr)' -> 'fentanyl'."""
    return base_name(name.split("(")[0].strip())


def codesystem_factors(shared: Path) -> dict[str, Decimal]:
    """Per-mg factors by ingredient rxcui; fentanyl's is per mcg/h of a transdermal system."""
    codesystem = read_object(shared / "mme" / "codesystem-CDCMMEClinicalConversionFactors.json")
    factors: dict[str, Decimal] = {}
    for concept in _as_list(codesystem.get("concept"), "CodeSystem concept"):
        props = _as_list(concept.get("property"), f"CodeSystem {concept.get('code')}")
        by_code = {str(p["code"]): p for p in props}
        transdermal = by_code.get("dose-form-conversion-factor")
        if transdermal is not None:
            factors[str(concept["code"])] = transdermal_per_mcg_h(str(transdermal["valueString"]))
        else:
            factors[str(concept["code"])] = Decimal(
                str(by_code["conversion-factor"]["valueDecimal"])
            )
    return factors


def transdermal_per_mcg_h(value: str) -> Decimal:
    """'316987:7200@0.33333333' -> 2.4: MME/day per mcg/h for a patch changed every 72 h."""
    match = re.fullmatch(r"(\d+):(\d+(?:\.\d+)?)@(\d+(?:\.\d+)?)", value)
    if not match or match.group(1) != TRANSDERMAL_SYSTEM:
        raise VocabularyError(f"unexpected fentanyl dose-form factor {value!r}")
    per_mg_h = Decimal(match.group(2)) * Decimal(match.group(3))
    return (per_mg_h / 1000).quantize(Decimal("0.01"))


def mme_rows(shared: Path) -> list[list[str]]:
    cs = codesystem_factors(shared)
    rows = []
    for row in read_csv(shared / "mme" / "mme-conversion-factors.csv"):
        factor_cell = next(v for k, v in row.items() if k.startswith("cdc_2022_factor"))
        number = FIRST_NUMBER_RE.match(factor_cell)
        if not number:
            raise VocabularyError(f"mme-conversion-factors.csv: no factor in {factor_cell!r}")
        rxcui, factor = row["ingredient_rxcui"], number.group(1)
        if cs.get(rxcui) != Decimal(factor):
            raise VocabularyError(
                f"MME {row['ingredient']}: CSV {factor} but CodeSystem {cs.get(rxcui)}"
            )
        transdermal = "transdermal" in row["ingredient"].lower()
        note = "per mcg/h (transdermal)" if transdermal else "per mg"
        rows.append([ingredient_key(row["ingredient"]), rxcui, factor, note])
    if len(rows) != len(cs):
        raise VocabularyError(
            "mme-conversion-factors.csv and the CodeSystem list different ingredients"
        )
    return sorted(rows)


def strength_rows(shared: Path, ingredients: Iterable[str]) -> list[list[str]]:
    wanted = set(ingredients)
    rows = []
    for row in read_csv(shared / "mme" / "omtk-drug-ingredients-2020-10-20.csv"):
        name = ingredient_key(row["ingredient_name"])
        if name in wanted:
            rows.append(
                [
                    row["drug_rxcui"],
                    name,
                    row["strength_value"],
                    row["strength_unit"],
                    row["dose_form_name"],
                ]
            )
    return sorted(rows, key=lambda r: (int(r[0]), r[1], Decimal(r[2]), r[3], r[4]))


def check_strengths_agree(strengths: Sequence[Sequence[str]], concepts: dict[str, Concept]) -> None:
    for rxcui, ingredient, *_ in strengths:
        concept = concepts.get(rxcui)
        if concept is not None and ingredient not in ingredients_of(concept.display):
            raise VocabularyError(f"{rxcui}: toolkit ingredient {ingredient!r} not in the display")


# --- writing ------------------------------------------------------------------------------


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def rxnorm_rows(concepts: dict[str, Concept]) -> list[list[str]]:
    return [
        [
            c.rxcui,
            c.display,
            ";".join(ingredients_of(c.display)),
            c.brand,
            ";".join(sorted(c.valuesets)),
        ]
        for c in sorted(concepts.values(), key=lambda c: int(c.rxcui))
    ]


def toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ch >= " " else f"\\u{ord(ch):04x}" for ch in escaped) + '"'


def manifest_text(infos: Sequence[ValueSetInfo]) -> str:
    lines = [
        "# Generated by scripts/import_vocabulary.py from ../shared/data; do not edit by hand.",
        "# Licence: CC0 1.0 (per shared/data/README.md). Upstream: cqframework/opioid-cds-r4",
        "# value sets; MME factors (mme.csv) from cqframework/opioid-mme-r4; opioid strengths",
        "# (opioid-strengths.csv) from the opioid MME toolkit drug-ingredient table of 2020-10-20.",
        "# The codes and their value-set membership are in rxnorm.csv next to this file.",
        "# RxNorm version, where the expansion states it:",
        *(
            f"#   {i.id}: {i.rxnorm_version}"
            for i in sorted(infos, key=lambda i: i.id)
            if i.rxnorm_version
        ),
        "# The other expansions state no RxNorm version; their date is in their table below.",
    ]
    for info in sorted(infos, key=lambda i: i.id):
        lines += ["", "[[valuesets]]"]
        lines += [f"{key} = {value}" for key, value in manifest_fields(info)]
    return "\n".join(lines) + "\n"


def manifest_fields(info: ValueSetInfo) -> list[tuple[str, str]]:
    fields = [
        ("id", toml_string(info.id)),
        ("title", toml_string(info.title)),
        ("url", toml_string(info.url)),
        ("date", toml_string(info.date)),
        ("code_count", str(info.code_count)),
        ("distinct_codes", str(info.distinct_codes)),
    ]
    if info.rxnorm_version:
        fields.append(("rxnorm_version", toml_string(info.rxnorm_version)))
    if info.derived_from:
        fields.append(("derived_from", toml_string(info.derived_from)))
    fields += [
        ("source_repo", toml_string(info.source_repo)),
        ("source_path", toml_string(info.source_path)),
        ("source_commit", toml_string(info.source_commit)),
    ]
    return fields


def build(shared: Path) -> dict[str, str]:
    """File name -> file text, for every output."""
    concepts: dict[str, Concept] = {}
    infos = read_valuesets(shared, concepts)
    gabapentinoids = read_gabapentinoids(shared, concepts, infos)
    check_gabapentinoids_in_parent(concepts, gabapentinoids.derived_from)
    mme = mme_rows(shared)
    strengths = strength_rows(shared, (row[0] for row in mme))
    check_strengths_agree(strengths, concepts)
    return {
        "rxnorm.csv": csv_text(
            ["rxcui", "display", "ingredients", "brand", "valuesets"], rxnorm_rows(concepts)
        ),
        "manifest.toml": manifest_text([*infos, gabapentinoids]),
        "mme.csv": csv_text(["ingredient", "ingredient_rxcui", "factor", "unit_note"], mme),
        "opioid-strengths.csv": csv_text(
            ["rxcui", "ingredient", "strength_value", "strength_unit", "dose_form"], strengths
        ),
    }


def write(out: Path, files: dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(files.items()):
        (out / name).write_bytes(text.encode("utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    try:
        files = build(args.shared)
    except (VocabularyError, OSError, KeyError, ValueError) as error:
        print(f"import_vocabulary: {error}", file=sys.stderr)
        return 1
    write(args.out, files)
    for name, text in sorted(files.items()):
        print(f"wrote {args.out / name} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
