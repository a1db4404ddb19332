"""The `interactions` and `schedule` commands: what a user types, what comes back, and the exits.

Bad input exits 2 with one message per problem and no traceback (cli.py docstring; STYLE.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar  # type: ignore[import-untyped, unused-ignore]
from typer.testing import CliRunner

from gabaguide import Knowledge
from gabaguide.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "400"}
PHN_PATIENT: dict[str, Any] = {
    "age_years": 60,
    "crcl_ml_min": 90,
    "indication": "PHN",
    "routine": {"wake": "07:00", "sleep": "22:00"},
}


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it (a wide terminal so tables do not wrap)."""
    return subprocess.run(
        [sys.executable, "-m", "gabaguide", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **WIDE},
    )


def interactions_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["interactions", *args, "--json"], env=WIDE)
    assert result.exit_code == 0, (result.output, result.exception)
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def codes_of(out: dict[str, Any]) -> set[str]:
    return {f["code"] for f in out["findings"]}


def write(tmp_path: Path, data: dict[str, Any], name: str = "patient.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- interactions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drug", "code"),
    [
        pytest.param("oxycodone", "interaction.opioid", id="name"),
        pytest.param("Xanax", "interaction.cns-depressant", id="brand"),
        pytest.param("Norco", "interaction.hydrocodone", id="brand-combination"),
        pytest.param("hydrocodone/acetaminophen 5/325", "interaction.opioid", id="combination"),
        pytest.param("Tylenol with codeine", "interaction.opioid", id="tylenol-codeine"),
        # rxnorm.csv: 1049621 oxycodone hydrochloride 5 MG Oral Tablet
        pytest.param("1049621", "interaction.opioid", id="rxcui-opioid"),
        # rxnorm.csv: 141927 alprazolam 0.25 MG Oral Tablet [Xanax]
        pytest.param("141927", "interaction.cns-depressant", id="rxcui-benzodiazepine"),
        # rxnorm.csv / products.toml: 1115012 Gralise 300 mg
        pytest.param("1115012", "formulation.not-interchangeable", id="rxcui-gralise"),
        pytest.param("Maalox", "interaction.antacid", id="antacid"),
        pytest.param("Lyrica", "duplicate.gabapentinoid", id="lyrica"),
    ],
)
def test_interactions_json_by_name_brand_combination_and_code(
    k: Knowledge, drug: str, code: str
) -> None:
    out = interactions_json(drug)
    assert out["product"] == "gabapentin"
    assert code in codes_of(out)
    for f in out["findings"]:
        assert f["severity"] in {"info", "caution", "warning", "contraindicated"}
        assert f["citations"]
        assert all(c["source"] in k.source_by_id for c in f["citations"])


def test_interactions_json_names_the_code_it_recognised() -> None:
    out = interactions_json("1049621")
    opioid = next(f for f in out["findings"] if f["code"] == "interaction.opioid")
    assert "RxNorm 1049621" in opioid["detail"]


def test_interactions_mme_from_name_at_dose_times(k: Knowledge) -> None:
    # oxycodone@10x3: 10 mg three times a day x CDC factor 1.5 (mme.csv) = 45 MME/day
    out = interactions_json("oxycodone@10x3")
    assert out["mme_daily"] == pytest.approx(
        10 * 3 * k.mme_factor_by_ingredient["oxycodone"].factor
    )
    opioid = next(f for f in out["findings"] if f["code"] == "interaction.opioid")
    tiers = next(r for r in k.interactions.rules if r.id == "opioid").mme_tiers
    assert opioid["severity"] == [t for t in tiers if t.at_least <= 45][-1].severity


def test_interactions_alcohol_flag() -> None:
    assert "interaction.alcohol" in codes_of(interactions_json("naproxen", "--alcohol"))
    assert "interaction.alcohol" not in codes_of(interactions_json("naproxen"))


def test_interactions_unknown_name_is_reported_not_guessed() -> None:
    out = interactions_json("zzfoo")
    assert codes_of(out) == {"interaction.unrecognised"}
    assert "'zzfoo'" in out["findings"][0]["summary"]


def test_interactions_against_pregabalin(k: Knowledge) -> None:
    out = interactions_json("Neurontin", "--product", "Lyrica")
    assert out["product"] == "pregabalin"
    assert "duplicate.gabapentinoid" in codes_of(out)


def test_interactions_table_lists_the_findings_and_mme() -> None:
    result = runner.invoke(
        app,
        ["interactions", "oxycodone@10x3", "Xanax", "Tylenol with codeine", "1049621"],
        env=WIDE,
    )
    assert result.exit_code == 0, result.output
    for code in ("[interaction.opioid]", "[interaction.cns-depressant]"):
        assert code in result.stdout
    assert "MME/day" in result.stdout
    assert "45 MME/day" in result.stdout


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("", id="empty"),
        pytest.param("oxycodone@10x0", id="zero-times"),
        pytest.param("oxycodone@0x3", id="zero-dose"),
        pytest.param("oxycodone@10x7", id="seven-times"),
        pytest.param("@10x3", id="no-name"),
        pytest.param("oxycodone@10", id="dose-without-times"),
    ],
)
def test_bad_drug_argument_exit_2_one_message_no_traceback(bad: str) -> None:
    r = cli("interactions", bad, "--json")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")


def test_bad_product_exit_2() -> None:
    result = runner.invoke(app, ["interactions", "oxycodone", "--product", "aspirin"], env=WIDE)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "product must be one of" in result.stderr


# --- schedule -------------------------------------------------------------------------------------


def test_schedule_writes_a_calendar_with_one_event_per_dose(tmp_path: Path) -> None:
    data = PHN_PATIENT | {"routine": {**PHN_PATIENT["routine"], "start_date": "2026-03-02"}}
    src = write(tmp_path, data)
    ics = tmp_path / "doses.ics"
    result = runner.invoke(app, ["schedule", str(src), "--ics", str(ics), "--json"], env=WIDE)
    assert result.exit_code == 0, (result.output, result.exception)
    out = json.loads(result.stdout)
    assert out["schedule"]
    assert out["schedule"][0]["date"] == "2026-03-02"
    assert out["dispensing"]
    cal = Calendar.from_ical(ics.read_text(encoding="utf-8"))
    events = cal.walk("VEVENT")
    assert len(events) == len(out["schedule"])
    first = min(e.decoded("dtstart") for e in events)
    assert first.date().isoformat() == "2026-03-02"


def test_schedule_start_option_gives_the_dates(tmp_path: Path) -> None:
    src = write(tmp_path, PHN_PATIENT)
    ics = tmp_path / "doses.ics"
    result = runner.invoke(
        app, ["schedule", str(src), "--ics", str(ics), "--start", "2026-04-01", "--json"], env=WIDE
    )
    assert result.exit_code == 0, (result.output, result.exception)
    out = json.loads(result.stdout)
    assert out["schedule"][0]["date"] == "2026-04-01"
    assert len(Calendar.from_ical(ics.read_text(encoding="utf-8")).walk("VEVENT")) == len(
        out["schedule"]
    )


def test_schedule_table_says_the_calendar_was_written(tmp_path: Path) -> None:
    src = write(tmp_path, PHN_PATIENT)
    ics = tmp_path / "doses.ics"
    result = runner.invoke(
        app, ["schedule", str(src), "--ics", str(ics), "--start", "2026-04-01"], env=WIDE
    )
    assert result.exit_code == 0, result.output
    assert f"Calendar written to {ics}" in result.stdout
    assert ics.is_file()


def test_schedule_ics_without_a_date_exit_2_naming_start(tmp_path: Path) -> None:
    src = write(tmp_path, PHN_PATIENT)
    ics = tmp_path / "doses.ics"
    r = cli("schedule", str(src), "--ics", str(ics))
    assert r.returncode == 2
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1
    assert "--start" in lines[0]
    assert not ics.exists()


@pytest.mark.parametrize("bad", ["2026-02-30", "03/02/2026", "tomorrow"])
def test_schedule_bad_start_exit_2(tmp_path: Path, bad: str) -> None:
    src = write(tmp_path, PHN_PATIENT)
    result = runner.invoke(app, ["schedule", str(src), "--start", bad], env=WIDE)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert bad in lines[0]


def test_schedule_bad_start_names_the_option(tmp_path: Path) -> None:
    # the file's own routine.start_date is valid: the message must blame --start, not the file
    data = PHN_PATIENT | {"routine": {**PHN_PATIENT["routine"], "start_date": "2026-03-02"}}
    src = write(tmp_path, data)
    r = cli("schedule", str(src), "--start", "2026-02-30")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "--start" in r.stderr, r.stderr


def test_schedule_rejects_json_lines(tmp_path: Path) -> None:
    src = tmp_path / "many.jsonl"
    src.write_text(json.dumps(PHN_PATIENT) + "\n" + json.dumps(PHN_PATIENT) + "\n")
    result = runner.invoke(app, ["schedule", str(src)], env=WIDE)
    assert result.exit_code == 2
    assert "one patient" in result.stderr
