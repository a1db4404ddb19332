"""Connections to the audit's backends: DuckDB embedded (default) and Spark (local or a cluster)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

import ibis

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Backend = Literal["duckdb", "spark"]
BACKENDS: tuple[Backend, ...] = ("duckdb", "spark")


def connect(backend: Backend) -> ibis.BaseBackend:
    """A connection. DuckDB: in memory, spilling to a temporary folder beyond
    ``GABAGUIDE_DUCKDB_MEMORY`` (default: DuckDB's, 80% of RAM). Spark: the session spark-submit made, else a local
    one (``GABAGUIDE_SPARK_MASTER``, default local[*])."""
    if backend == "duckdb":
        con = ibis.duckdb.connect()
        limit = os.environ.get("GABAGUIDE_DUCKDB_MEMORY")
        if limit:  # else DuckDB's default, 80% of RAM (3GB ran out at 1M patients: see README)
            con.raw_sql(f"SET memory_limit = '{limit}'")
        con.raw_sql("SET preserve_insertion_order = false")
        return con
    return ibis.pyspark.connect(spark_session())


def spark_session() -> SparkSession:
    """The active Spark session, or a local one with UTC dates and a quiet log."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = (
        SparkSession.builder.appName("gabaguide-audit")
        .master(os.environ.get("GABAGUIDE_SPARK_MASTER", "local[*]"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("GABAGUIDE_SPARK_PARTITIONS", "8"))
        .config("spark.driver.memory", os.environ.get("GABAGUIDE_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.ansi.enabled", "false")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
