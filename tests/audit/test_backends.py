"""DuckDB and Spark compile the same Ibis rules: the same summary and the same flagged rows.

Spark (local mode) starts in about 10 s and a run takes tens of seconds, so the suite runs it twice
in all: on a generated population and on the hand-built one of test_rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gabaguide.audit.run import AuditResult, run_audit
from gabaguide.audit.synth import synthesise
from gabaguide.knowledge import Knowledge
from tests.audit.conftest import AS_OF, RULES, expected, flagged_rows, flagged_set, write_population

Run = tuple[AuditResult, list[dict[str, Any]]]

# Third-party warnings on the Spark path, not the audit's: pyspark 4.0's toPandas and ibis's pandas
# conversion use options pandas 3 deprecates (`copy=`, `future.infer_string`); py4j leaves its
# gateway sockets to the garbage collector.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]


def _comparable(summary: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in summary.items() if k not in ("backend", "outputs")}
    out["input"] = {k: v for k, v in summary["input"].items() if k != "folder"}
    return out


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["rule"], str(r["patient_id"]), str(r["rx_id"])))


@pytest.fixture(scope="module")
def spark_session() -> Iterator[None]:
    """Stop the local Spark session at the end of the module if this module started it."""
    from pyspark.sql import SparkSession

    had = SparkSession.getActiveSession() is not None
    yield
    active = SparkSession.getActiveSession()
    if active is not None and not had:
        active.stop()


@pytest.fixture(scope="module")
def generated(
    k: Knowledge, tmp_path_factory: pytest.TempPathFactory, spark_session: None
) -> tuple[Run, Run]:
    """1500 generated patients in three part files, audited by DuckDB and by Spark."""
    base = tmp_path_factory.mktemp("backends")
    synthesise(k, 1500, 20240630, base / "in", chunk=500)
    duck = run_audit(k, base / "in", base / "duckdb", backend="duckdb")
    spark = run_audit(k, base / "in", base / "spark", backend="spark")
    return (duck, flagged_rows(duck)), (spark, flagged_rows(spark))


@pytest.fixture(scope="module")
def hand_built_spark(
    k: Knowledge, tmp_path_factory: pytest.TempPathFactory, spark_session: None
) -> Run:
    base = tmp_path_factory.mktemp("hand-built-spark")
    result = run_audit(k, write_population(base / "in"), base / "out", backend="spark", as_of=AS_OF)
    return result, flagged_rows(result)


def test_generated_population_same_summary(generated: tuple[Run, Run]) -> None:
    (duck, _), (spark, _) = generated
    assert duck.summary["backend"] == "duckdb"
    assert spark.summary["backend"] == "spark"
    assert _comparable(spark.summary) == _comparable(duck.summary)


def test_generated_population_same_flagged_rows(generated: tuple[Run, Run]) -> None:
    (_, duck_rows), (spark, spark_rows) = generated
    assert spark.flagged_path.is_dir()  # Spark writes a folder of parts
    assert len(duck_rows) > 100
    assert {r["rule"] for r in duck_rows} == set(RULES)
    assert _sorted(spark_rows) == _sorted(duck_rows)


def test_hand_built_population_same_on_spark(population_duckdb: Run, hand_built_spark: Run) -> None:
    duck, duck_rows = population_duckdb
    spark, spark_rows = hand_built_spark
    for rule in RULES:
        assert flagged_set(spark_rows, rule) == expected(rule), rule
    assert _sorted(spark_rows) == _sorted(duck_rows)
    assert _comparable(spark.summary) == _comparable(duck.summary)


def test_spark_writes_the_outputs(hand_built_spark: Run) -> None:
    result, _ = hand_built_spark
    out = Path(result.summary["outputs"]["flagged"]).parent
    assert (out / "summary.json").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.")]
