"""The command line: JSON and JSON Lines in, assessments out; bad input exits 2 without a trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gabaguide.cli import app
from tests.strategies import patient_dicts

runner = CliRunner()


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it (a wide terminal so tables do not wrap)."""
    return subprocess.run(
        [sys.executable, "-m", "gabaguide", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )


def test_single_object_in_one_assessment_out() -> None:
    r = cli(
        "assess", "-", stdin=json.dumps({"age_years": 60, "crcl_ml_min": 45, "indication": "PHN"})
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["renal"]["band"] == ">30 to 59"
    assert set(out) >= {"renal", "plan", "findings", "alternatives", "schedule"}


def test_json_lines_in_json_lines_out(tmp_path: Path) -> None:
    src = tmp_path / "p.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"patient_id": f"p{i}", "age_years": 50, "crcl_ml_min": 20 + i})
            for i in range(5)
        )
        + "\n"
    )
    r = cli("assess", str(src))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["patient_id"] for x in lines] == [f"p{i}" for i in range(5)]


def test_bad_input_exit_2_one_line_per_problem_nothing_written() -> None:
    bad = {
        "age_years": -3,
        "weight_kg": "x",
        "foo": 1,
        "sex": "f",
        "serum_creatinine": {"value": 500, "unit": "mg/dL"},
    }
    r = cli("assess", "-", stdin=json.dumps(bad))
    assert r.returncode == 2
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [
        "error: age_years must be between 0 and 120 years; got -3",
        "error: sex must be one of 'female' or 'male'; got 'f'",
        "error: weight_kg must be a number; got 'x'",
        "error: serum_creatinine value must be between 0.1 and 25 mg/dL; got 500",
        "error: foo is not a known field",
    ]


def test_bad_line_in_json_lines_names_the_line_and_writes_nothing() -> None:
    text = '{"age_years": 40}\nnot json\n{"age_years": 40, "goal": "maybe"}\n'
    r = cli("assess", "-", stdin=text)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("error: line 2: not valid JSON")
    assert (
        "error: line 3: goal must be one of 'start', 'review', 'stop' or 'switch'; got 'maybe'"
        in r.stderr
    )


def test_unknown_product_is_an_input_error() -> None:
    r = cli(
        "assess",
        "-",
        stdin='{"current_regimen": {"product": "aspirin", "dose_mg": 100, "times_per_day": 1}}',
    )
    assert r.returncode == 2
    assert "current_regimen.product must be one of" in r.stderr


def test_missing_file() -> None:
    r = cli("assess", "/nonexistent/patients.json")
    assert r.returncode == 2
    assert "FILE must be a readable file" in r.stderr


def test_table_format() -> None:
    r = cli(
        "assess",
        "--format",
        "table",
        "-",
        stdin='{"age_years": 60, "crcl_ml_min": 25, "indication": "PHN"}',
    )
    assert r.returncode == 0, r.stderr
    assert "Titration" in r.stdout
    assert ">15 to 29" in r.stdout
    assert "never change your dose yourself" in r.stdout


@pytest.mark.parametrize("name", ["patient", "assessment"])
def test_schema(name: str) -> None:
    r = cli("schema", name)
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    assert schema["type"] == "object"
    if name == "patient":
        assert schema["additionalProperties"] is False
        age = schema["properties"]["age_years"]["anyOf"][0]
        assert (age["minimum"], age["maximum"]) == (0, 120)


def test_kb_search_shows_sources() -> None:
    r = cli("kb", "hemodialysis", "--json")
    assert r.returncode == 0
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert rows
    assert all(row["citations"] for row in rows if row["kind"] != "finding-code")
    assert any("after each 4 h of dialysis" in row["text"] for row in rows)


def test_kb_sources() -> None:
    r = cli("kb", "--sources")
    assert r.returncode == 0
    assert "NEU48" in r.stdout


def test_demo_runs() -> None:
    r = cli("demo")
    assert r.returncode == 0, r.stderr
    assert "demo-1-phn-ckd3" in r.stdout


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, patient_dicts(), patient_dicts().map(lambda d: {**d, "extra": 1})))
def test_cli_never_prints_a_traceback(value: object) -> None:
    result = runner.invoke(app, ["assess", "-"], input=json.dumps(value))
    assert result.exit_code in (0, 2), (value, result.output, result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stdout == ""
        assert result.stderr.strip()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_cli_survives_any_text(text: str) -> None:
    result = runner.invoke(app, ["assess", "-"], input=text)
    assert result.exit_code in (0, 2)
    assert "Traceback" not in result.output
