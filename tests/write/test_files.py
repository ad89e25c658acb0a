"""The files connector on the local filesystem through Hadoop's FileSystem API: formats,
--partition-by, overwrite and append, failures, measured bytes, and how tables map to paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dvt_connect.config.buckets import LocalBucket
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.connectors.files import FilesConnector
from dvt_connect.console import CaptureConsole
from dvt_connect.errors import ConfigError, SourceError, TransferError, UsageError

from .fixtures import expected_rows, files_connection, normalize, typed_dataframe
from .test_files_roundtrip import data_bytes

pytestmark = [pytest.mark.spark]


def frame(spark: Any, start: int, stop: int) -> Any:
    return spark.sql(f"SELECT CAST(id AS INT) AS id, CAST(id % 3 AS INT) AS part, "
                     f"concat('v', id) AS label FROM range({start}, {stop}, 1, 2)")


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if "__dvt_" in p.name]


def read_back(lake: FilesConnector, table: str, **request: Any) -> list[Any]:
    plan = lake.plan_read(ReadRequest(table=TableRef.parse(table), **request))
    return sorted(lake.load(plan).collect())


@pytest.mark.parametrize("fmt", ["parquet", "orc", "json"])
def test_typed_round_trip_per_format(spark: Any, tmp_path: Path, fmt: str) -> None:
    lake = FilesConnector(spark, files_connection(tmp_path, fmt))
    df = typed_dataframe(spark)

    outcome = lake.write_dataframe(df, WriteRequest(table=TableRef("typed")))

    assert outcome.bytes_written == data_bytes(tmp_path / "typed") > 0
    plan = lake.plan_read(ReadRequest(table=TableRef("typed")))
    back = lake.load(plan)
    if fmt == "json":  # JSON has no types: read it with the schema it was written with
        back = spark.read.schema(df.schema).options(**plan.options).json(plan.source)
    rows = sorted((r.asDict() for r in back.collect()), key=lambda r: r["id"])
    # PySpark returns instants as naive datetimes in the Python process's zone (UTC here)
    assert [normalize(r, instants_as_utc=["tstz"]) for r in rows] \
        == [normalize(r) for r in expected_rows()]


def test_json_and_csv_keep_microseconds_and_nulls(spark: Any, tmp_path: Path) -> None:
    df = spark.sql("SELECT 1 AS id, timestamp'2024-03-10 06:30:00.123456Z' AS tstz, "
                   "timestamp_ntz'2024-03-10 02:30:00.000001' AS ts, CAST(NULL AS STRING) AS n")
    FilesConnector(spark, files_connection(tmp_path, "json")).write_dataframe(
        df, WriteRequest(table=TableRef("j")))
    FilesConnector(spark, files_connection(tmp_path, "csv")).write_dataframe(
        df, WriteRequest(table=TableRef("c")))

    (json_file,) = [p for p in (tmp_path / "j").iterdir() if p.suffix == ".json"]
    assert json.loads(json_file.read_text()) == {
        "id": 1, "tstz": "2024-03-10T06:30:00.123456Z", "ts": "2024-03-10T02:30:00.000001",
        "n": None}
    (csv_file,) = [p for p in (tmp_path / "c").iterdir() if p.suffix == ".csv"]
    assert csv_file.read_text().splitlines() == [
        "id,tstz,ts,n", "1,2024-03-10T06:30:00.123456Z,2024-03-10T02:30:00.000001,"]


def test_csv_refuses_binary_and_nested(spark: Any, tmp_path: Path) -> None:
    lake = FilesConnector(spark, files_connection(tmp_path, "csv"))
    df = spark.sql("SELECT 1 AS id, X'00' AS b, array(1) AS a")
    with pytest.raises(TransferError, match=r"`b` \(binary\), `a` \(array<int>\)"):
        lake.write_dataframe(df, WriteRequest(table=TableRef("x")))
    assert not (tmp_path / "x").exists() and leftovers(tmp_path) == []


def test_partition_by_writes_hive_folders(spark: Any, tmp_path: Path) -> None:
    lake = FilesConnector(spark, files_connection(tmp_path))

    outcome = lake.write_dataframe(frame(spark, 0, 30),
                                   WriteRequest(table=TableRef("p"), partition_by=("part",)))

    assert sorted(p.name for p in (tmp_path / "p").iterdir() if not p.name.startswith((".", "_"))) \
        == ["part=0", "part=1", "part=2"]
    assert outcome.bytes_written == data_bytes(tmp_path / "p")
    rows = read_back(lake, "p", where="part = 1")
    assert [r.id for r in rows] == list(range(1, 30, 3))


def test_partition_by_unknown_column_is_a_usage_error(spark: Any, tmp_path: Path) -> None:
    lake = FilesConnector(spark, files_connection(tmp_path))
    with pytest.raises(UsageError, match="`nope`; columns: id, part, label"):
        lake.write_dataframe(frame(spark, 0, 3),
                             WriteRequest(table=TableRef("p"), partition_by=("nope",)))


def test_overwrite_replaces_and_append_adds(spark: Any, tmp_path: Path) -> None:
    lake = FilesConnector(spark, files_connection(tmp_path))
    lake.write_dataframe(frame(spark, 0, 10), WriteRequest(table=TableRef("t")))
    first = data_bytes(tmp_path / "t")

    appended = lake.write_dataframe(frame(spark, 10, 15),
                                    WriteRequest(table=TableRef("t"), mode="append"))
    assert appended.bytes_written == data_bytes(tmp_path / "t") - first
    assert [r.id for r in read_back(lake, "t")] == list(range(15))

    replaced = lake.write_dataframe(frame(spark, 100, 103), WriteRequest(table=TableRef("t")))
    assert [r.id for r in read_back(lake, "t")] == [100, 101, 102]
    assert replaced.bytes_written == data_bytes(tmp_path / "t")
    assert any(n.startswith("replaced ") for n in replaced.notes)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_failed_job_leaves_folder_unchanged(spark: Any, tmp_path: Path, mode: str) -> None:
    lake = FilesConnector(spark, files_connection(tmp_path))
    lake.write_dataframe(frame(spark, 0, 10),
                         WriteRequest(table=TableRef("t"), partition_by=("part",)))
    before = sorted((str(p.relative_to(tmp_path)), p.stat().st_size)
                    for p in (tmp_path / "t").rglob("*"))
    bad = spark.sql("SELECT CAST(id AS INT) AS id, CAST(id % 3 AS INT) AS part, "
                    "IF(id = 999, raise_error('boom: file row'), 'x') AS label "
                    "FROM range(0, 1000, 1, 4)")

    with pytest.raises(Exception, match="boom: file row"):
        lake.write_dataframe(bad, WriteRequest(table=TableRef("t"), mode=mode,
                                               partition_by=("part",)))

    after = sorted((str(p.relative_to(tmp_path)), p.stat().st_size)
                   for p in (tmp_path / "t").rglob("*"))
    assert after == before
    assert leftovers(tmp_path) == []


def test_write_to_the_path_itself_and_nested_tables(spark: Any, tmp_path: Path) -> None:
    root = tmp_path / "events"
    lake = FilesConnector(spark, files_connection(root))
    lake.write_dataframe(frame(spark, 0, 3), WriteRequest())
    lake_parent = FilesConnector(spark, files_connection(tmp_path))
    lake_parent.write_dataframe(frame(spark, 5, 7), WriteRequest(table=TableRef("t", "raw")))

    # the folder named by the path's last part reads as that table
    assert [r.id for r in read_back(lake, "events")] == [0, 1, 2]
    assert [r.id for r in read_back(lake_parent, "raw.t")] == [5, 6]
    assert (tmp_path / "raw" / "t").is_dir()


def test_read_plan_columns_where_and_single_file(spark: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]}),
                   str(tmp_path / "people.parquet"))
    lake = FilesConnector(spark, files_connection(tmp_path))

    plan = lake.plan_read(ReadRequest(table=TableRef("people"), columns=("name",),
                                      where="id > 1"))

    assert plan.source.endswith("/people.parquet")
    assert plan.sql == f"SELECT name FROM parquet.`{plan.source}` WHERE id > 1"
    assert plan.describe()["connector"] == "files"
    assert sorted(r.name for r in lake.load(plan).collect()) == ["b", "c"]


def test_read_missing_table_lists_what_is_there(spark: Any, tmp_path: Path) -> None:
    lake = FilesConnector(spark, files_connection(tmp_path))
    lake.write_dataframe(frame(spark, 0, 1), WriteRequest(table=TableRef("orders")))
    with pytest.raises(SourceError, match="Tables there: orders"):
        lake.plan_read(ReadRequest(table=TableRef("ordres")))
    with pytest.raises(UsageError, match="--query needs a database"):
        lake.plan_read(ReadRequest(query="SELECT 1"))


def test_csv_read_notes_text_columns_and_options_override(spark: Any, tmp_path: Path) -> None:
    FilesConnector(spark, files_connection(tmp_path, "csv")).write_dataframe(
        frame(spark, 0, 3), WriteRequest(table=TableRef("c")))
    plain = FilesConnector(spark, files_connection(tmp_path, "csv"))
    plan = plain.plan_read(ReadRequest(table=TableRef("c")))
    assert any("read as text" in n for n in plan.notes)
    assert dict(plain.load(plan).dtypes)["id"] == "string"

    typed = FilesConnector(spark, files_connection(tmp_path, "csv",
                                                   options={"inferSchema": True}))
    plan = typed.plan_read(ReadRequest(table=TableRef("c")))
    assert plan.notes == ()
    assert dict(typed.load(plan).dtypes)["id"] == "int"


def test_bucket_path(spark: Any, tmp_path: Path) -> None:
    bucket = LocalBucket(name="lakeb", source_file=Path("buckets.yml"), path=str(tmp_path),
                         prefix="exports")
    conn = files_connection("daily", bucket="lakeb")
    lake = FilesConnector(spark, conn, bucket=bucket)

    outcome = lake.write_dataframe(frame(spark, 0, 2), WriteRequest(table=TableRef("t")))

    assert outcome.location == f"file://{tmp_path}/exports/daily/t"
    assert (tmp_path / "exports" / "daily" / "t").is_dir()
    with pytest.raises(ConfigError, match="names bucket `lakeb`, which was not loaded"):
        FilesConnector(spark, conn).root()


def test_s3_paths_use_s3a(spark: Any) -> None:
    lake = FilesConnector(spark, files_connection("s3://my-bucket/exports/"))
    assert lake.table_path(TableRef("t", "raw")) == "s3a://my-bucket/exports/raw/t"


def test_success_reports_notes_and_no_warnings(spark: Any, tmp_path: Path) -> None:
    console = CaptureConsole()
    lake = FilesConnector(spark, files_connection(tmp_path), console=console)
    outcome = lake.write_dataframe(frame(spark, 0, 2), WriteRequest(table=TableRef("t")))
    assert console.warnings() == []
    assert outcome.notes[0].startswith("created ") and "parquet file(s)" in outcome.notes[0]
    assert outcome.notes[-1].startswith("retry-safe")


def test_local_paths_with_spaces_and_unicode(spark: Any, tmp_path: Path) -> None:
    root = tmp_path / "my lake é"
    lake = FilesConnector(spark, files_connection(root))
    lake.write_dataframe(frame(spark, 0, 3), WriteRequest(table=TableRef("a b")))
    appended = lake.write_dataframe(
        spark.sql("SELECT 7 AS id, 'x y' AS part, 'v' AS label"),
        WriteRequest(table=TableRef("a b"), mode="append", partition_by=("part",)))
    assert (root / "a b" / "part=x y").is_dir()
    assert appended.bytes_written == data_bytes(root / "a b" / "part=x y") > 0
    assert leftovers(root) == []


def _schema_jobs(spark: Any, lake: FilesConnector, plan: Any) -> tuple[Any, list[int]]:
    """``lake.read_schema(plan)`` asked twice and the route's Arrow source made, as planning
    does; (the schema, the Spark jobs that ran for it)."""
    context = spark.sparkContext
    group = f"dvt-schema-{id(plan)}"
    context.setJobGroup(group, "schema")
    try:
        schemas = [lake.read_schema(plan), lake.read_schema(plan)]
        lake.arrow_source(plan)
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    assert schemas[0] == schemas[1]
    return schemas[0], list(context.statusTracker().getJobIdsForGroup(group))


def test_a_parquet_folders_schema_is_read_from_a_footer_as_spark_infers_it(
        spark: Any, tmp_path: Path) -> None:
    """Spark infers a Parquet folder's schema with a job; the connector makes the same schema
    from one footer with Spark's own converter, running none. Compared with Spark's own
    inference of each folder (``spark.read.parquet``)."""
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    def folder(name: str, *tables: Any, **options: Any) -> Path:
        (tmp_path / name).mkdir()
        for i, table in enumerate(tables):
            pq.write_table(table, tmp_path / name / f"part-{i}.parquet", **options)
        return tmp_path / name

    folder("typed", pa.table({
        "i8": pa.array([1], pa.int8()), "u32": pa.array([1], pa.uint32()),
        "u64": pa.array([1], pa.uint64()), "f32": pa.array([1.5], pa.float32()),
        "s": ["x"], "b": [b"x"], "dec": pa.array([decimal.Decimal("1.23")], pa.decimal128(5, 2)),
        "d": [datetime.date(2020, 1, 1)], "ts": pa.array([1], pa.timestamp("us", tz="UTC")),
        "wall": pa.array([1], pa.timestamp("us")), "ms": pa.array([1], pa.timestamp("ms")),
        "list": [[1, 2]], "struct": [{"a": 1, "b": "x"}],
        "map": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
        "dict": pa.array(["a"]).dictionary_encode(), "flag": [True]}))
    folder("int96", pa.table({"ts": pa.array([1], pa.timestamp("us"))}),
           use_deprecated_int96_timestamps=True)
    folder("required", pa.Table.from_arrays(
        [pa.array([1]), pa.array([[1]])], schema=pa.schema(
            [pa.field("id", pa.int64(), nullable=False),
             pa.field("l", pa.list_(pa.field("item", pa.int64(), nullable=False)))])))
    folder("two", *[pa.table({"id": [i], "label": ["a"]}) for i in range(2)])
    spark.sql("SELECT timestamp_ntz'2024-03-10 02:30:00' AS ntz, CAST('ab' AS VARCHAR(5)) AS v, "
              "array(named_struct('x', 1.5D)) AS nested, CAST(1 AS DECIMAL(30, 4)) AS big"
              ).write.parquet(str(tmp_path / "by_spark"))
    lake = FilesConnector(spark, files_connection(tmp_path))
    for name in ("typed", "int96", "required", "two", "by_spark"):
        plan = lake.plan_read(ReadRequest(table=TableRef(name)))
        schema, jobs = _schema_jobs(spark, lake, plan)
        assert jobs == [], name
        assert schema == spark.read.parquet(f"file://{tmp_path / name}").schema, name
    plan = lake.plan_read(ReadRequest(table=TableRef("typed"), columns=("s", "i8")))
    schema, jobs = _schema_jobs(spark, lake, plan)
    assert (schema.names, jobs) == (["s", "i8"], [])


def test_a_footer_holding_sparks_schema_is_read_in_python(
        spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a footer holds Spark's schema (written by Spark, or by the Arrow route's Parquet
    sink, which now puts it there as Spark's writer does), the connector takes it as Spark's
    inference does (the key's schema, made nullable), with no call into the JVM; a key Python
    cannot read goes to the JVM's reader as before. Compared with ``spark.read.parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import types as t

    from dvt_connect.connectors import files as files_module
    from dvt_connect.connectors.arrow_bulk.columns import arrow_schema_of
    from dvt_connect.connectors.arrow_bulk.direct import SPARK_ROW_KEY, ParquetSink

    jvm_reads: list[str] = []
    jvm_reader = files_module._spark_footer_schema

    def counted(spark: Any, uri: str) -> Any:
        jvm_reads.append(uri)
        return jvm_reader(spark, uri)

    monkeypatch.setattr(files_module, "_spark_footer_schema", counted)
    spark.sql("SELECT CAST('ab' AS VARCHAR(5)) AS v, timestamp_ntz'2024-03-10 02:30:00' AS ntz, "
              "map('k', array(1.5D)) AS m").write.parquet(str(tmp_path / "by_spark"))
    planned = t.StructType([
        t.StructField("id", t.LongType(), False, {"jdbcClientType": "int8", "scale": 0}),
        t.StructField("note", t.StringType(), True,
                      {"__CHAR_VARCHAR_TYPE_STRING": "varchar(64)"}),
        t.StructField("amount", t.DecimalType(12, 2), True),
        t.StructField("at", t.TimestampType(), True),
        t.StructField("wall", t.TimestampNTZType(), True),
        t.StructField("tags", t.ArrayType(t.StringType(), False), False),
        t.StructField("pair", t.StructType([t.StructField("x", t.IntegerType(), False)]), True),
        t.StructField("scores", t.MapType(t.StringType(), t.DoubleType(), False), True)])
    target = arrow_schema_of(planned)
    batch = pa.RecordBatch.from_pylist([{"id": 1, "tags": ["a"]}], schema=target)
    (tmp_path / "by_dvt").mkdir()
    ParquetSink(str(tmp_path / "by_dvt"), "run1", planned.json()).write(0, iter([batch]), target)
    (tmp_path / "garbled").mkdir()
    table = pa.table({"id": [1]})
    pq.write_table(table.replace_schema_metadata({SPARK_ROW_KEY: b"StructType(garbled"}),
                   tmp_path / "garbled" / "a.parquet")

    lake = FilesConnector(spark, files_connection(tmp_path))
    for name, jvm in (("by_spark", 0), ("by_dvt", 0), ("garbled", 1)):
        jvm_reads.clear()
        schema, jobs = _schema_jobs(spark, lake, lake.plan_read(
            ReadRequest(table=TableRef(name))))
        inferred = spark.read.parquet(f"file://{tmp_path / name}").schema
        assert (schema, jobs, len(jvm_reads)) == (inferred, [], jvm), name
        assert [f.metadata for f in schema.fields] == [f.metadata for f in inferred.fields]
    written = pq.read_metadata(next((tmp_path / "by_dvt").glob("*.parquet"))).metadata
    assert json.loads(written[SPARK_ROW_KEY]) == json.loads(planned.json())
    assert spark.read.parquet(str(tmp_path / "by_dvt")).schema == files_module._as_nullable(
        planned)
    assert spark.read.parquet(str(tmp_path / "by_dvt")).schema.fields[1].metadata == {
        "__CHAR_VARCHAR_TYPE_STRING": "varchar(64)"}


def test_a_parquet_folders_schema_falls_back_to_sparks_inference_once(
        spark: Any, tmp_path: Path) -> None:
    """Where one footer cannot stand for the folder (files of other schemas, a summary file,
    reader options), Spark infers the schema, with its job, once per transfer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "mixed").mkdir()
    pq.write_table(pa.table({"id": pa.array([1], pa.int64())}), tmp_path / "mixed" / "a.parquet")
    pq.write_table(pa.table({"id": pa.array([2], pa.int64()), "extra": ["x"]}),
                   tmp_path / "mixed" / "b.parquet")
    (tmp_path / "summary").mkdir()
    pq.write_table(pa.table({"id": [1]}), tmp_path / "summary" / "a.parquet")
    pq.write_metadata(pa.schema([("id", pa.int64())]), tmp_path / "summary" / "_common_metadata")
    lake = FilesConnector(spark, files_connection(tmp_path))
    for name in ("mixed", "summary"):
        plan = lake.plan_read(ReadRequest(table=TableRef(name)))
        schema, jobs = _schema_jobs(spark, lake, plan)
        assert len(jobs) == 1, (name, jobs)
        assert schema == spark.read.parquet(f"file://{tmp_path / name}").schema
    merged = FilesConnector(spark, files_connection(tmp_path, options={"mergeSchema": "true"}))
    schema, jobs = _schema_jobs(spark, merged, merged.plan_read(
        ReadRequest(table=TableRef("mixed"))))
    assert schema.names == ["id", "extra"] and len(jobs) == 1
