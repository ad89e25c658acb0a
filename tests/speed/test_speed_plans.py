"""The speed issue's pure decisions: the automatic choice against the target, the Arrow route,
Parquet grouping for tasks, and the JVM's class-data-sharing archive. No Spark, no database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dvt_connect import spark as spark_mod
from dvt_connect.config.profiles import parse_connection
from dvt_connect.connectors.arrow_bulk.direct import ParquetFacts, parquet_tasks
from dvt_connect.connectors.base import ConnectorType, ReadRequest, TableRef, WriteRequest
from dvt_connect.connectors.selection import choose_connector
from dvt_connect.errors import UsageError
from dvt_connect.spark import JAVA_OPTIONS_ENV, QUICK_JIT_ENV
from dvt_connect.transfer.job import (
    TransferOptions,
    arrow_expected,
    read_request,
    write_request,
)
from dvt_connect.transfer.run import ARROW_WHY, Route, choose_route


def conn(kind: str) -> Any:
    data = {"type": kind, "host": "db", "user": "u", "dbname": "d"}
    return parse_connection("src", data, path=Path("profiles.yml"), key="p.outputs.src")


def everything(_: str) -> bool:
    return True


@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_a_target_that_needs_spark_rows_reads_over_jdbc(kind: str) -> None:
    arrow = choose_connector(conn(kind), {}, estimated_rows=5_000_000, installed=everything)
    rows = choose_connector(conn(kind), {}, estimated_rows=5_000_000, installed=everything,
                            rows_target="csv files are written by Spark")

    assert arrow.connector is not ConnectorType.JDBC
    assert rows.connector is ConnectorType.JDBC
    assert "the target takes Spark rows (csv files are written by Spark)" in rows.reason
    # forced native stays native
    forced = choose_connector(conn(kind), {}, mode="native", installed=everything,
                              rows_target="csv files are written by Spark")
    assert forced.connector is not ConnectorType.JDBC


class SourceDouble:
    """A connector double: an Arrow source, or why not (nothing known before the session)."""

    connection = None

    def __init__(self, source: Any) -> None:
        self.source = source

    @classmethod
    def arrow_read_problem(cls, connection: Any, request: Any, master_kind: str) -> str | None:
        return None

    def arrow_source(self, plan: Any) -> Any:
        return self.source


class TargetDouble:
    """A connector double: takes Arrow, or says why not (nothing known before the session)."""

    connection = None

    def __init__(self, problem: str | None) -> None:
        self.problem = problem

    @classmethod
    def arrow_write_problem(cls, connection: Any, request: Any, master_kind: str) -> str | None:
        return None

    def arrow_sink_problem(self, request: Any, schema: Any) -> str | None:
        return self.problem


def route(source: Any, problem: str | None, wanted: str = "auto",
          **write: Any) -> Any:
    return choose_route(SourceDouble(source), ReadRequest(table=TableRef("t")),  # type: ignore[arg-type]
                        None, TargetDouble(problem), WriteRequest(**write),  # type: ignore[arg-type]
                        None, wanted, master_kind="local")  # type: ignore[arg-type]


def test_arrow_end_to_end_only_when_both_ends_can() -> None:
    assert route(object(), None).arrow and route(object(), None).why == ARROW_WHY
    assert route("csv is read by Spark", None).why == "Spark rows: csv is read by Spark"
    assert route(object(), "json files are written by Spark").why == (
        "Spark rows: json files are written by Spark")
    assert not route(object(), None, "rows").arrow
    tie = route(object(), None, primary_key=("id",), tie_breaker="ts", mode="merge")
    assert not tie.arrow and "--tie-breaker" in tie.why


def test_route_arrow_refuses_with_the_reason() -> None:
    with pytest.raises(UsageError, match=r"--route arrow cannot be used here: csv is read"):
        route("csv is read by Spark", None, "arrow")
    with pytest.raises(UsageError, match="unknown route `fast`"):
        route(object(), None, "fast")


def test_parquet_files_are_cut_into_a_task_per_core_by_row_groups() -> None:
    # many files: whole files, runs of about equal rows, in path order
    files = [ParquetFacts(f"/in/part-{i}.parquet", 10, (60_000, 40_000)) for i in range(4)]
    source = parquet_tasks(reversed(files), cores=2)
    assert source.groups == (
        (("/in/part-0.parquet", None), ("/in/part-1.parquet", None)),
        (("/in/part-2.parquet", None), ("/in/part-3.parquet", None)))
    assert source.rows == (200_000, 200_000)
    assert source.describe() == ("part-0.parquet, part-1.parquet (200,000 rows)",
                                 "part-2.parquet, part-3.parquet (200,000 rows)")

    # one large file: read by a task per core, each a run of its row groups
    big = ParquetFacts("/in/data.parquet", 10, (65_536,) * 10)
    source = parquet_tasks([big], cores=4)
    assert source.groups == tuple((("/in/data.parquet", run),) for run in (
        (0, 1, 2), (3, 4), (5, 6, 7), (8, 9)))
    assert sum(source.rows) == 655_360
    assert source.describe()[0] == "data.parquet row groups 0-2 (196,608 rows)"

    # a run across files keeps each file's part; at least 100,000 rows per task
    parts = [ParquetFacts("/in/a.parquet", 1, (90_000, 90_000)),
             ParquetFacts("/in/b.parquet", 1, (30_000,)),
             ParquetFacts("/in/c.parquet", 1, (90_000,) * 3)]
    source = parquet_tasks(parts, cores=3)
    assert source.groups == ((("/in/a.parquet", None),),
                             (("/in/b.parquet", None), ("/in/c.parquet", (0, 1))),
                             (("/in/c.parquet", (2,)),))
    assert source.describe()[2] == "c.parquet row group 2 (90,000 rows)"
    assert parquet_tasks(parts, cores=64).count() == 5  # 480,000 rows: 5 of at least 100,000
    small = [ParquetFacts("/in/a.parquet", 1, (99_999,)), ParquetFacts("/in/b.parquet", 1, (1,))]
    assert parquet_tasks(small, cores=8).groups == (
        (("/in/a.parquet", None), ("/in/b.parquet", None)),)
    many = [ParquetFacts(f"/in/{i}.parquet", 1, (1,)) for i in range(5)]
    assert parquet_tasks(many, cores=2).describe() == (
        "0.parquet, 1.parquet and 3 more file(s) (5 rows)",)


def test_the_jvm_archive_is_written_once_then_mapped(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = spark_mod.class_data_sharing(tmp_path)
    dump = next(o for o in first if o.startswith("-XX:ArchiveClassesAtExit="))
    partial = Path(dump.split("=", 1)[1])
    assert partial.name.endswith(f".{os.getpid()}.partial")

    # while the writing process lives its partial file is left alone
    partial.write_bytes(b"archive")
    assert any(o.startswith("-XX:ArchiveClassesAtExit=")
               for o in spark_mod.class_data_sharing(tmp_path))

    # once it is gone, the next start renames it into place and maps it
    dead = partial.with_name(partial.name.replace(f".{os.getpid()}.", ".999999999."))
    partial.rename(dead)
    mapped = spark_mod.class_data_sharing(tmp_path)
    archive = dead.name.rsplit(".", 2)[0]
    assert f"-XX:SharedArchiveFile={tmp_path / archive}" in mapped
    assert "-Xshare:auto" in mapped

    # a second writer's copy, once its process is gone, is removed: the archive is in place
    late = dead.with_name(dead.name.replace(".999999999.", ".999999998."))
    late.write_bytes(b"archive")
    with open(dead.with_name(dead.name.replace(".999999999.", ".999999997.")), "wb") as held:
        # still held open by a writer (the JVM outlives the Python process it is named after)
        assert f"-XX:SharedArchiveFile={tmp_path / archive}" in spark_mod.class_data_sharing(
            tmp_path)
        assert Path(held.name).exists()
    assert not late.exists()

    monkeypatch.setenv("DVT_CDS", "0")
    assert spark_mod.class_data_sharing(tmp_path) == []


def test_parquet_source_reads_columns_by_name_as_the_target_types(tmp_path: Path) -> None:
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    from dvt_connect.connectors.arrow_bulk.direct import ParquetSink, ParquetSource

    # a legacy INT96 timestamp outside nanoseconds' range, columns in another order
    table = pa.table({"ts": pa.array([datetime.datetime(1000, 1, 1), None], pa.timestamp("us")),
                      "id": pa.array([1, 2], pa.int32())})
    pq.write_table(table, tmp_path / "a.parquet", use_deprecated_int96_timestamps=True)
    target = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC"))])

    batches = list(ParquetSource((((str(tmp_path / "a.parquet"), None),),)).batches(0, target))
    assert [b.schema for b in batches] == [target]
    assert batches[0].to_pylist() == [
        {"id": 1, "ts": datetime.datetime(1000, 1, 1, tzinfo=datetime.timezone.utc)},
        {"id": 2, "ts": None}]

    out = tmp_path / "out"
    out.mkdir()
    rows, size = ParquetSink(str(out), "run1").write(3, iter(batches), target)
    written = sorted(p.name for p in out.iterdir())
    assert (rows, written) == (2, ["part-00003-run1.snappy.parquet"])
    assert size == (out / written[0]).stat().st_size
    assert pq.read_table(out).to_pylist() == batches[0].to_pylist()


def files(path: str, fmt: str = "parquet") -> Any:
    return parse_connection("lake", {"type": "files", "path": path, "format": fmt},
                            path=Path("profiles.yml"), key="p.outputs.lake")


def files_with(path: str, **extra: Any) -> Any:
    return parse_connection("lake", {"type": "files", "path": path, "format": "parquet",
                                     **extra},
                            path=Path("profiles.yml"), key="p.outputs.lake")


def expected(source: Any, target: Any, master_kind: str = "local", **options: Any) -> bool:
    opts = TransferOptions(source="src", table="t", **options)
    return arrow_expected(source, read_request(opts, source), target,
                          write_request(opts, target), connector=opts.connector,
                          route=opts.route, master_kind=master_kind)


@pytest.mark.parametrize(("source", "target", "options", "arrow"), [
    (conn("postgres"), files("/data/lake"), {}, True),
    (files("/data/lake"), conn("mariadb"), {}, True),
    (conn("postgres"), conn("postgres"), {}, True),
    (conn("postgres"), files("/data/lake"), {"connector": "jdbc"}, False),
    (conn("postgres"), files("/data/lake"), {"route": "rows"}, False),
    (conn("postgres"), files("/data/lake"), {"partition_by": ("d",)}, False),
    (conn("postgres"), conn("postgres"), {"tie_breaker": "ts", "primary_key": ("id",),
                                          "mode": "merge"}, False),
    (conn("postgres"), files("/data/lake", "csv"), {}, False),
    (conn("postgres"), files("/data/lake", "delta"), {}, False),
    (conn("postgres"), files("s3a://bucket/lake"), {}, False),
    (conn("postgres"), files("file:///data/lake"), {}, True),
    (files("/data/lake"), conn("postgres"), {"where": "id > 3"}, False),
    (parse_connection("ms", {"type": "sqlserver", "host": "db", "user": "u", "database": "d"},
                      path=Path("profiles.yml"), key="p.outputs.ms"), files("/data/lake"), {},
     False),
])
def test_the_arrow_route_is_expected_before_the_jvm_starts(
        source: Any, target: Any, options: dict[str, Any], arrow: bool) -> None:
    assert expected(source, target, **options) is arrow


def test_the_guess_sees_what_the_route_refuses_writer_options_and_a_cluster() -> None:
    """The JIT guess asks the connectors' own session-free question, so it misses neither a
    files output's writer options nor a cluster master, whose executors do not share the
    driver's disk (both were guessed Arrow, then planned as Spark rows)."""
    compressed = files_with("/data/lake", options={"compression": "zstd"})
    assert not expected(conn("postgres"), compressed)
    assert not expected(compressed, conn("postgres"))

    for kind, arrow in (("local", True), ("connect", True), ("cluster", False)):
        assert expected(conn("postgres"), files("/data/lake"), kind) is arrow
        assert expected(files("/data/lake"), conn("mariadb"), kind) is arrow
    # the bulk paths run in any Spark task, on any master
    assert expected(conn("postgres"), conn("mariadb"), "cluster")


def test_route_and_guess_give_one_reason() -> None:
    """``choose_route`` refuses for the reason the guess was made from, before asking the
    session anything (the doubles' session methods would say Arrow)."""
    from dvt_connect.connectors.files import FilesConnector

    lake = FilesConnector.__new__(FilesConnector)
    lake.connection = files_with("/data/lake", options={"compression": "zstd"})
    source = SourceDouble(object())
    source.connection = conn("postgres")
    why = choose_route(source, ReadRequest(table=TableRef("t")), None,  # type: ignore[arg-type]
                       lake, WriteRequest(table=TableRef("t")), None,  # type: ignore[arg-type]
                       master_kind="local")
    assert why == Route(False, "Spark rows: the output's writer options are Spark's")
    lake.connection = files("/data/lake")
    cluster = choose_route(source, ReadRequest(table=TableRef("t")), None,  # type: ignore[arg-type]
                           lake, WriteRequest(table=TableRef("t")), None,  # type: ignore[arg-type]
                           master_kind="cluster")
    assert not cluster.arrow and "not of the cluster's executors" in cluster.why


def test_the_driver_runs_c1_only_when_its_work_is_short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(JAVA_OPTIONS_ENV, raising=False)
    monkeypatch.delenv(QUICK_JIT_ENV, raising=False)

    def options(quick: bool) -> tuple[str, str]:
        conf = spark_mod.session_spec(quick_jit=quick).conf
        return conf["spark.driver.extraJavaOptions"], conf["spark.executor.extraJavaOptions"]

    quick = " -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmn32m"
    driver, executor = options(True)
    assert driver.endswith(quick) and "Tiered" not in executor and "GC" not in executor
    assert "Tiered" not in options(False)[0] and "GC" not in options(False)[0]
    monkeypatch.setenv(QUICK_JIT_ENV, "0")
    assert "Tiered" not in options(True)[0]
    monkeypatch.setenv(QUICK_JIT_ENV, "1")
    assert options(False)[0].endswith(quick)
    # DVT_JAVA_OPTIONS come after: the JVM takes the last value of a flag
    monkeypatch.delenv(QUICK_JIT_ENV)
    monkeypatch.setenv(JAVA_OPTIONS_ENV, "-XX:TieredStopAtLevel=4 -XX:+UseG1GC")
    assert options(True)[0].endswith(" -XX:TieredStopAtLevel=1 -Xmn32m "
                                     "-XX:TieredStopAtLevel=4 -XX:+UseG1GC")
    # a collector chosen there or in the profile is not contradicted (a JVM given two refuses
    # to start)
    assert "SerialGC" not in options(True)[0]
    monkeypatch.delenv(JAVA_OPTIONS_ENV)
    profile = {"spark.driver.extraJavaOptions": "-XX:+UseParallelGC"}
    driver = spark_mod.session_spec(quick_jit=True, conf=profile).conf[
        "spark.driver.extraJavaOptions"]
    assert "SerialGC" not in driver and "-XX:TieredStopAtLevel=1 -Xmn32m" in driver
    assert driver.endswith(" -XX:+UseParallelGC")
    monkeypatch.setenv(QUICK_JIT_ENV, "yes")
    with pytest.raises(UsageError, match="DVT_QUICK_JIT is 'yes'; valid: 0"):
        options(True)
