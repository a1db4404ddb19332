"""``gabaguide simulate``: the contract of its JSON, its plots and its errors, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gabaguide", *args], capture_output=True, text=True, check=False
    )


def test_json_compares_kidney_functions_with_cited_model() -> None:
    done = cli(
        "simulate", "--regimen", "400 mg TID", "--crcl", "90", "--crcl", "25", "--days", "3",
        "--n", "200", "--seed", "3", "--above", "4", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["model"]["drug"] == "gabapentin"
    assert doc["model"]["citations"]
    assert doc["model"]["decisions"]
    assert "never change your dose" in doc["disclaimer"]
    normal, impaired = doc["simulations"]
    assert (normal["crcl_ml_min"], impaired["crcl_ml_min"]) == (90, 25)
    assert normal["n"] == 200
    assert normal["seed"] == 3
    for name in ("cmax_mg_l", "cmin_mg_l", "cavg_mg_l", "auc_24h_mg_h_l", "bioavailability",
                 "half_life_h", "time_to_steady_state_h"):  # fmt: skip
        m = normal["metrics"][name]
        assert m["p5"] <= m["median"] <= m["p95"]
    # Less kidney function: longer half-life, more drug in the blood.
    assert (
        impaired["metrics"]["half_life_h"]["median"]
        > 3 * normal["metrics"]["half_life_h"]["median"]
    )
    assert impaired["metrics"]["cavg_mg_l"]["median"] > normal["metrics"]["cavg_mg_l"]["median"]
    assert (
        impaired["shares_above_mg_l"]["4"]["average"] > normal["shares_above_mg_l"]["4"]["average"]
    )
    curve = normal["curve"]
    assert len(curve["time_h"]) == len(curve["p50"]) == 3 * 96 + 1
    assert len(normal["doses"]) == 9


def test_table_output_says_what_was_assumed() -> None:
    done = cli("simulate", "--drug", "pregabalin", "--regimen", "150 mg BID", "--crcl", "80")
    assert done.returncode == 0, done.stderr
    assert "weight not given" in done.stdout
    assert "half-life" in done.stdout
    assert "never change your" in " ".join(done.stdout.split())


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_plot_is_written(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"curve{suffix}"
    done = cli(
        "simulate", "--regimen", "300 mg TID", "--crcl", "60", "--days", "2", "--plot", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--regimen", "400 mg TID"], "--crcl"),
        (["--regimen", "400 mg TID", "--crcl", "-4"], "crcl must be more than 0"),
        (["--regimen", "400 mg TID", "--crcl", "90", "--days", "0"], "days must be between 1"),
        (["--regimen", "400 mg TID", "--crcl", "90", "--n", "200001"], "n must be between 1"),
        (["--regimen", "lots", "--crcl", "90"], "regimen must look like"),
        (["--regimen", "400 mg TID", "--crcl", "90", "--times", "8:00"], "--times must be a time"),
        (["--regimen", "400 mg TID", "--crcl", "90", "--dialysis-days", "x"], "--dialysis-days"),
        (["--regimen", "400 mg TID", "--crcl", "90", "--plot", "x.pdf"], "--plot must end in"),
        (
            ["--regimen", "400 mg TID", "--crcl", "90", "--crcl", "90", "--plot", "x.png"],
            "--crcl values",
        ),
        (
            [
                "--drug",
                "pregabalin",
                "--regimen",
                "75 mg BID",
                "--crcl",
                "9",
                "--dialysis-days",
                "0",
            ],
            "dialysis is not modelled",
        ),
    ],
)
def test_bad_input_is_exit_2_with_the_field_named(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gabaguide", "simulate", *args],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not list(tmp_path.iterdir())  # no plot, no partial output
