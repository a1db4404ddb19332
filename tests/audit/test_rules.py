"""Each audit rule on a hand-built population (tests/audit/conftest.py) whose flags are known
exactly: every prescription names the rules it must be flagged for; the near misses name none.

The numbers are the knowledge base's [audit.toml; D18]: gabapentin label maximum 3600 mg/day and
pregabalin 600 [NEU48 §2.1, LYR-HL]; the renal rows of NEU48 §2.3 Table 1 with CrCl by
Cockcroft-Gault; the elderly screen's 65 years; MME tiers 50 and 90 [CDC2022]; the 7-day taper
[dosing.toml]; stop levels gabapentin 900 and pregabalin 150 mg/day; elderly levels gabapentin 1800
and pregabalin 300 mg/day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gabaguide.audit.run import FLAGGED_COLUMNS, AuditResult, run_audit
from gabaguide.knowledge import Knowledge
from tests.audit.conftest import (
    AS_OF,
    CRCL_70_70_09,
    CRCL_80_60_06,
    CRCL_80_60_14,
    PRESCRIPTIONS,
    RULES,
    expected,
    flagged_rows,
    flagged_set,
    pt,
    rx,
    scr,
    write_population,
    write_tables,
)

Population = tuple[AuditResult, list[dict[str, Any]]]


def _row(rows: list[dict[str, Any]], rule: str, rx_id: str) -> dict[str, Any]:
    found = [r for r in rows if r["rule"] == rule and r["rx_id"] == rx_id]
    assert len(found) == 1, (rule, rx_id, found)
    return found[0]


@pytest.mark.parametrize("rule", RULES, ids=RULES)
def test_rule_flags_exactly_the_expected_prescriptions(
    population_duckdb: Population, rule: str
) -> None:
    _, rows = population_duckdb
    assert expected(rule), "every rule has at least one flagged scenario"
    assert flagged_set(rows, rule) == expected(rule)


def test_every_scenario_prescription_id_is_unique() -> None:
    ids = [r["rx_id"] for r in PRESCRIPTIONS]
    assert len(ids) == len(set(ids))


def test_flagged_file_has_the_documented_columns(population_duckdb: Population) -> None:
    result, rows = population_duckdb
    assert result.flagged_path.name == "flagged.parquet"
    assert rows
    assert list(rows[0]) == list(FLAGGED_COLUMNS)


def test_summary_counts_equal_the_flagged_rows(population_duckdb: Population) -> None:
    result, rows = population_duckdb
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_rule[r["rule"]].append(r)
    assert set(result.summary["rules"]) == set(RULES)
    for rule in RULES:
        counts = result.summary["rules"][rule]
        assert counts["flagged_prescriptions"] == len(by_rule[rule]), rule
        assert counts["flagged_patients"] == len({r["patient_id"] for r in by_rule[rule]}), rule
    # patients and prescriptions are counted apart: one patient has two flagged prescriptions
    for rule in ("renal.above-band", "duplicate.gabapentinoid"):
        counts = result.summary["rules"][rule]
        assert counts["flagged_patients"] < counts["flagged_prescriptions"]


def test_summary_population_and_as_of(population_duckdb: Population) -> None:
    result, _ = population_duckdb
    gaba = [r for r in PRESCRIPTIONS if _is_gabapentinoid(r)]
    pop = result.summary["population"]
    assert pop["gabapentinoid_prescriptions"] == len(gaba)
    assert pop["gabapentinoid_patients"] == len({r["patient_id"] for r in gaba})
    assert result.summary["input"]["as_of"] == AS_OF.isoformat()
    assert result.summary["rules"]["renal.no-creatinine"]["denominator"] == (
        "elderly_prescriptions"
    )


def _is_gabapentinoid(row: dict[str, Any]) -> bool:
    words = ("gabapentin", "pregabalin", "lyrica", "gralise", "horizant")
    return any(w in row["drug_name"].lower() for w in words) or row["rxcui"] == "310431"


# --- renal.above-band -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rx_id", "crcl", "scr_mg_dl", "scr_date", "band", "max_mg", "max_doses"),
    [
        # female 80 y, 60 kg, 1.4 mg/dL: ((140-80) x 60 / (72 x 1.4)) x 0.85 = 30.36 [NEU48 §2.3]
        pytest.param(
            "renal-tid", CRCL_80_60_14, 1.4, date(2024, 2, 1), ">30 to 59", 1400, 2, id="tid-in-bid"
        ),
        pytest.param(
            "renal-1600", CRCL_80_60_14, 1.4, date(2024, 2, 1), ">30 to 59", 1400, 2, id="1600"
        ),
        # the creatinine drawn on the start day, not the older 0.6 mg/dL
        pytest.param(
            "sameday-tid", CRCL_80_60_14, 1.4, date(2024, 3, 1), ">30 to 59", 1400, 2, id="same-day"
        ),
        pytest.param(
            "tie-tid", CRCL_80_60_14, 1.4, date(2024, 2, 1), ">30 to 59", 1400, 2, id="same-day-tie"
        ),
        # 123.76 umol/L / 88.4 = 1.4 mg/dL [SI-CREATININE]
        pytest.param(
            "umol-tid", CRCL_80_60_14, 1.4, date(2024, 2, 1), ">30 to 59", 1400, 2, id="umol"
        ),
        pytest.param(
            "male-tid", 60 * 60 / (72 * 1.4), 1.4, date(2024, 2, 1), ">30 to 59", 1400, 2, id="male"
        ),
        # CrCl exactly 30: between the printed rows, the lower-function row [D1]
        pytest.param("gap30-bid", 30.0, 1.0, date(2024, 2, 1), ">15 to 29", 700, 1, id="gap-30"),
        # below 15: the 15 mL/min row (300 mg/day) in proportion, 300 x 10.625 / 15
        pytest.param("prop-250", 10.625, 4.0, date(2024, 2, 1), "<15", 212.5, 1, id="proportional"),
        # Horizant below 15: 300 mg every other day = 150 mg/day, half a dose a day [HORIZ]
        pytest.param("horizant-qd", 10.625, 4.0, date(2024, 2, 1), "<15", 150, 0.5, id="horizant"),
    ],
)
def test_renal_row_used(
    population_duckdb: Population,
    rx_id: str,
    crcl: float,
    scr_mg_dl: float,
    scr_date: date,
    band: str,
    max_mg: float,
    max_doses: float,
) -> None:
    r = _row(population_duckdb[1], "renal.above-band", rx_id)
    assert r["crcl_ml_min"] == pytest.approx(crcl)
    assert r["scr_mg_dl"] == pytest.approx(scr_mg_dl)
    assert r["scr_date"] == scr_date
    assert r["kidney_band"] == band
    assert r["renal_max_mg"] == pytest.approx(max_mg)
    assert r["renal_max_doses"] == pytest.approx(max_doses)


def test_crcl_by_hand_is_in_the_30_to_59_row() -> None:
    assert pytest.approx(30.357, abs=1e-3) == CRCL_80_60_14
    assert pytest.approx(70.833, abs=1e-3) == CRCL_80_60_06
    assert pytest.approx(64.275, abs=1e-3) == CRCL_70_70_09


def test_gralise_below_30_is_flagged_as_avoid(population_duckdb: Population) -> None:
    r = _row(population_duckdb[1], "renal.above-band", "gralise-avoid")
    assert r["kidney_band"] == "<30"
    assert r["renal_max_mg"] is None
    assert r["crcl_ml_min"] == pytest.approx((140 - 80) * 60 / (72 * 2.0) * 0.85)


@pytest.mark.parametrize(
    ("rx_id", "scr_mg_dl", "crcl", "band"),
    [
        # 53.04 umol/L = 0.6 mg/dL: row >=60 (2400 mg/day TID is within it)
        pytest.param("umol-low-2400", 0.6, CRCL_80_60_06, ">=60", id="umol-converted"),
        # no weight: creatinine on record but CrCl not computable, never guessed [D18]
        pytest.param("noweight-2400", 1.4, None, "not computable", id="no-weight"),
        pytest.param("old-2400", 0.9, CRCL_70_70_09, ">=60", id="normal"),
        # pregabalin has no renal table in the knowledge base
        pytest.param("old-preg-350", 0.9, CRCL_70_70_09, "no renal table", id="pregabalin"),
    ],
)
def test_kidney_band_of_rows_flagged_for_other_rules(
    population_duckdb: Population, rx_id: str, scr_mg_dl: float, crcl: float | None, band: str
) -> None:
    r = _row(population_duckdb[1], "elderly.high-dose", rx_id)
    assert r["scr_mg_dl"] == pytest.approx(scr_mg_dl)
    assert r["crcl_ml_min"] == (pytest.approx(crcl) if crcl is not None else None)
    assert r["kidney_band"] == band


def test_no_creatinine_rows_carry_no_creatinine(population_duckdb: Population) -> None:
    rows = [r for r in population_duckdb[1] if r["rule"] == "renal.no-creatinine"]
    assert {r["kidney_band"] for r in rows} == {"no creatinine"}
    assert all(r["scr_mg_dl"] is None and r["age_years"] >= 65 for r in rows)
    # 65 on the start day counts; the day before the 65th birthday does not
    assert _row(population_duckdb[1], "renal.no-creatinine", "noscr-65")["age_years"] == 65


# --- overlap.opioid / overlap.cns-depressant / duplicate.gabapentinoid -----------------------------


@pytest.mark.parametrize(
    ("rx_id", "days", "peak", "tier"),
    [
        # oxycodone 10 mg x 4 = 40 mg x 1.5 = 60 MME/day, Jan 10-20 [CDC-MME]
        pytest.param("opi-60-gaba", 11, 60, "50+ MME/day", id="oxycodone-60"),
        # oxycodone Jan 10-20 (60) and morphine 15 mg x 2 Jan 15-25 (30): union Jan 10-25 = 16
        # days (not 11 + 11); both on Jan 15-20: 90 MME/day, the 90 tier
        pytest.param("opi-union-gaba", 16, 90, "90+ MME/day", id="union-and-peak"),
        # started before the gabapentin (Dec 20 - Jan 5): Jan 1-5; 10 x 3 x 1.5 = 45
        pytest.param("opi-before-gaba", 5, 45, "below 50 MME/day", id="opioid-first"),
        # two oxycodone courses that never overlap each other: the peak is 60, not 120
        pytest.param("opi-seq-gaba", 12, 60, "50+ MME/day", id="sequential"),
        # a fentanyl patch has no per-mg factor: MME not computed, not guessed [D18]
        pytest.param("opi-fent-gaba", 22, None, "MME not computable", id="fentanyl"),
        # the opioid starts on the gabapentin's last day: one shared day
        pytest.param("opi-lastday-gaba", 1, 60, "50+ MME/day", id="last-day"),
        # both open-ended: they run to the as-of date (June 21-30)
        pytest.param("opi-open-gaba", 10, 15, "below 50 MME/day", id="open-ended"),
    ],
)
def test_opioid_overlap_days_and_peak_mme(
    population_duckdb: Population, rx_id: str, days: int, peak: float | None, tier: str
) -> None:
    r = _row(population_duckdb[1], "overlap.opioid", rx_id)
    assert r["opioid_days"] == days
    assert r["peak_mme"] == (pytest.approx(peak) if peak is not None else None)
    assert r["mme_tier"] == tier


def test_mme_tier_counts_in_the_summary(population_duckdb: Population) -> None:
    result, rows = population_duckdb
    tiers: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["rule"] == "overlap.opioid":
            tiers[r["mme_tier"]] += 1
    assert result.summary["mme_tiers"] == dict(tiers)


def test_cns_and_duplicate_overlap_days(population_duckdb: Population) -> None:
    rows = population_duckdb[1]
    # lorazepam Jan 20 - Feb 10 against gabapentin in January: Jan 20-31
    assert _row(rows, "overlap.cns-depressant", "cns-gaba")["cns_days"] == 12
    # pregabalin Jan 20 - Feb 20 against gabapentin in January: both flagged, 12 days each
    assert _row(rows, "duplicate.gabapentinoid", "dup-gaba")["dup_days"] == 12
    assert _row(rows, "duplicate.gabapentinoid", "dup-preg")["dup_days"] == 12


# --- stop.abrupt -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rx_id", "taper_days"),
    [
        pytest.param("abrupt", 0, id="nothing-after"),
        pytest.param("short-from", 3, id="3-day-taper"),
        pytest.param("late-from", 0, id="renewal-8-days-later"),
    ],
)
def test_abrupt_stop_taper_days(population_duckdb: Population, rx_id: str, taper_days: int) -> None:
    assert _row(population_duckdb[1], "stop.abrupt", rx_id)["taper_days"] == taper_days


def _stop_case(
    tmp_path: Path, k: Knowledge, *prescriptions: dict[str, Any], as_of: date = AS_OF
) -> set[str]:
    write_tables(tmp_path / "in", [pt("p")], list(prescriptions), [])
    result = run_audit(k, tmp_path / "in", tmp_path / "out", as_of=as_of)
    return flagged_set(flagged_rows(result), "stop.abrupt")


def test_taper_reaching_seven_days_past_the_end_after_a_gap(tmp_path: Path, k: Knowledge) -> None:
    # D18: a taper is lower doses of the same product "reaching at least 7 days past the end".
    flagged = _stop_case(
        tmp_path,
        k,
        rx("p", "from", start="2024-01-01", end="2024-01-31", dose=600, per_day=3),
        rx("p", "step", start="2024-02-03", end="2024-02-07", dose=300, per_day=2),
    )
    assert flagged == set()


def test_a_higher_dose_with_an_end_is_a_continuation_then_judged_itself(
    tmp_path: Path, k: Knowledge
) -> None:
    flagged = _stop_case(
        tmp_path,
        k,
        rx("p", "from", start="2024-01-01", end="2024-01-31", dose=600, per_day=3),
        rx("p", "up", start="2024-02-01", end="2024-02-29", dose=800, per_day=3),
    )
    assert flagged == {"up"}


def test_as_of_decides_what_is_judged(tmp_path: Path, k: Knowledge) -> None:
    course = rx("p", "c", start="2024-01-01", end="2024-01-31", dose=600, per_day=3)
    assert _stop_case(tmp_path / "a", k, course, as_of=date(2024, 2, 7)) == {"c"}
    assert _stop_case(tmp_path / "b", k, course, as_of=date(2024, 2, 6)) == set()


def test_default_as_of_is_the_latest_date_in_the_data(tmp_path: Path, k: Knowledge) -> None:
    # The latest start or end date of the population is 2024-06-25 ("near-asof" ends then).
    result = run_audit(k, write_population(tmp_path / "in"), tmp_path / "out")
    assert result.summary["input"]["as_of"] == "2024-06-25"
    rows = flagged_rows(result)
    # "judged" ends 2024-06-23: within 7 days of 2024-06-25, so not judged yet
    assert flagged_set(rows, "stop.abrupt") == expected("stop.abrupt") - {"judged"}
    # open-ended prescriptions now run to June 25: June 21-25
    assert _row(rows, "overlap.opioid", "opi-open-gaba")["opioid_days"] == 5


# --- small single-rule populations -----------------------------------------------------------------


def test_ids_may_be_integers_in_parquet(tmp_path: Path, k: Knowledge) -> None:
    patients = [{"patient_id": 1, "birth_date": date(1954, 1, 1), "sex": "male", "weight_kg": 80.0}]
    prescriptions = [
        {
            "patient_id": 1,
            "rx_id": 10,
            "drug_name": "gabapentin",
            "rxcui": None,
            "dose_mg": 800.0,
            "doses_per_day": 3.0,
            "start_date": date(2024, 3, 1),
            "end_date": None,
        }
    ]
    labs = [
        {
            "patient_id": 1,
            "date": date(2024, 2, 1),
            "loinc": "2160-0",
            "value": 1.0,
            "unit": "mg/dL",
        }
    ]
    write_tables(tmp_path / "in", patients, prescriptions, labs, fmt="parquet")
    result = run_audit(k, tmp_path / "in", tmp_path / "out", as_of=AS_OF)
    rows = flagged_rows(result)
    assert [(r["rule"], r["patient_id"], r["rx_id"]) for r in rows] == [
        ("elderly.high-dose", 1, 10)
    ]
    # male, 70 y, 80 kg, 1.0 mg/dL: (140 - 70) x 80 / 72 = 77.8 mL/min
    assert rows[0]["crcl_ml_min"] == pytest.approx(70 * 80 / 72)


def test_unrelated_medicines_alone_flag_nothing(tmp_path: Path, k: Knowledge) -> None:
    write_tables(
        tmp_path / "in",
        [pt("p", "1944-01-01")],
        [rx("p", "x", "lisinopril 10 mg tablet", 10, 1), rx("p", "y", "oxycodone", 10, 4)],
        [scr("p", "2024-01-01", 0.9)],
    )
    result = run_audit(k, tmp_path / "in", tmp_path / "out", as_of=AS_OF)
    assert flagged_rows(result) == []
    assert result.summary["population"]["gabapentinoid_prescriptions"] == 0
    assert all(r["flagged_prescriptions"] == 0 for r in result.summary["rules"].values())
