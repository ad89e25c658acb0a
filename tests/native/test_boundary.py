"""The native connectors' real code paths, run against doubles at the Spark data-source boundary.

The doubles (tests/native/doubles.py) are registered under the connectors' real format names, so
``load`` and ``write_dataframe`` run unchanged: ``spark.read.format(facts.native.spark_format)``.
Staging goes through a real ``local`` bucket and is deleted through Hadoop's FileSystem API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException

from dvt_connect.adapters import adapter
from dvt_connect.config import Project
from dvt_connect.config.buckets import LocalBucket
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest
from dvt_connect.connectors.bigquery import BigQueryNativeConnector
from dvt_connect.connectors.native import NativeConnector
from dvt_connect.connectors.redshift import RedshiftNativeConnector
from dvt_connect.connectors.snowflake import SnowflakeNativeConnector
from dvt_connect.console import CaptureConsole
from dvt_connect.errors import DvtError

from .conftest import SECRETS
from .doubles import ESTIMATE, FIXTURE_ROWS, records
from .test_plans import assert_no_secret

pytestmark = pytest.mark.spark

ORDERS = ReadRequest(table=TableRef.parse("PUBLIC.ORDERS"))


def build(spark: Any, project: Project, cls: type[NativeConnector], output: str,
          bucket: str | None = None) -> Any:
    return cls(spark, project.connection(output), console=CaptureConsole(),
               bucket=project.bucket(bucket) if bucket else None)


def local_folder(uri: str) -> Path:
    assert uri.startswith("file:///")
    return Path(uri[len("file://"):])


def sent(record: dict[str, Any]) -> dict[str, str]:
    return record["options"]


def lowered(options: dict[str, str]) -> dict[str, str]:
    """Spark hands options to a data source with lower-cased keys; the connectors' option names
    are case-insensitive (spark-snowflake and spark-bigquery lower-case them too)."""
    return {k.lower(): v for k, v in options.items()}


def test_doubles_answer_to_the_real_format_names_and_cannot_shadow_a_jvm_source(spark, record_dir):
    from pyspark.sql.datasource import DataSource

    for name in ("snowflake", "bigquery", "redshift"):
        native = adapter(name).native
        assert native is not None
        rows = spark.read.format(native.spark_format).option("dbtable", "t").load().collect()
        assert [tuple(r) for r in rows] == FIXTURE_ROWS

    class ParquetDouble(DataSource):
        @classmethod
        def name(cls) -> str:
            return "parquet"

    with pytest.raises(PySparkException, match="DATA_SOURCE_ALREADY_EXISTS"):
        spark.dataSource.register(ParquetDouble)


def test_snowflake_load_sends_the_plan_options_plus_the_secret(spark, project, record_dir):
    sf = build(spark, project, SnowflakeNativeConnector, "snow")
    plan = sf.plan_read(ORDERS)
    df = sf.load(plan)
    assert [tuple(r) for r in df.collect()] == FIXTURE_ROWS
    (read,) = records(record_dir, "read")
    assert read["format"] == "net.snowflake.spark.snowflake"
    assert sent(read) == lowered({**plan.options, "sfPassword": SECRETS["DVT_TEST_SF_PASSWORD"]})
    assert all(v not in ("", "None") for v in sent(read).values())


def test_bigquery_load_projects_columns_and_filters_at_the_source(spark, project, record_dir):
    bq = build(spark, project, BigQueryNativeConnector, "bq")
    plan = bq.plan_read(ReadRequest(table=TableRef.parse("orders"), columns=("name",),
                                    where="id > 1"))
    df = bq.load(plan)
    assert df.columns == ["name"]
    assert [r[0] for r in df.collect()] == [name for _, name in FIXTURE_ROWS]
    (read,) = records(record_dir, "read")
    options = sent(read)
    assert read["format"] == "bigquery"
    assert options["path"] == "acme-data.sales.orders"
    assert options["filter"] == "id > 1"
    assert not any(k.startswith("dvt.") for k in options)  # instructions to load, not options
    assert options["credentials"] == bq.secret_values()["credentials"]


def test_redshift_read_stages_in_its_own_folder_and_cleanup_deletes_it(spark, project, record_dir):
    rs = build(spark, project, RedshiftNativeConnector, "rs", bucket="local")
    bucket = project.bucket("local")
    assert isinstance(bucket, LocalBucket)
    plan = rs.plan_read(ORDERS)
    tempdir = plan.options["tempdir"]
    assert tempdir.startswith(bucket.spark_path("dvt") + "/")
    assert [tuple(r) for r in rs.load(plan).collect()] == FIXTURE_ROWS
    (read,) = records(record_dir, "read")
    assert sent(read)["tempdir"] == tempdir
    assert sent(read)["password"] == SECRETS["DVT_TEST_RS_PASSWORD"]
    assert sent(read)["forward_spark_s3_credentials"] == "true"
    assert any(local_folder(tempdir).rglob("part-*"))  # what the UNLOAD left

    assert rs.cleanup() == []
    assert not local_folder(tempdir).exists()
    assert local_folder(bucket.spark_path("dvt")).is_dir()  # only the transfer's own folder
    assert rs.staged_paths == ()


def test_redshift_read_failure_still_leaves_no_staged_files(spark, project, record_dir):
    rs = build(spark, project, RedshiftNativeConnector, "rs", bucket="local")
    plan = rs.plan_read(ReadRequest(table=TableRef.parse("public.fail_orders")))
    with pytest.raises(PySparkException, match="simulated warehouse failure"):
        rs.load(plan).collect()
    assert any(local_folder(plan.options["tempdir"]).rglob("part-*"))
    rs.cleanup()
    assert not local_folder(plan.options["tempdir"]).exists()


def test_redshift_write_sends_copy_options_and_deletes_its_staging(spark, project, record_dir):
    rs = build(spark, project, RedshiftNativeConnector, "rs", bucket="local")
    df = spark.createDataFrame([(10, "x"), (11, "y")], "id INT, name STRING")
    outcome = rs.write_dataframe(df, WriteRequest(table=TableRef.parse("public.t")))
    (write,) = records(record_dir, "write")
    options = sent(write)
    assert write["format"] == "io.github.spark_redshift_community.spark.redshift"
    assert write["overwrite"] is True
    assert write["rows"] == [[10, "x"], [11, "y"]]
    assert options["dbtable"] == '"public"."t"'
    assert options["tempformat"] == "CSV GZIP"
    assert options["include_column_list"] == "true"
    assert "usestagingtable" not in options and "aws_iam_role" not in options
    assert write["staged"], "the rows were staged under tempdir before the COPY"
    assert not local_folder(options["tempdir"]).exists()
    assert rs.staged_paths == ()
    assert outcome.bytes_written is None  # not measured here; never invented
    assert any("one transaction" in n for n in outcome.notes)


def test_redshift_failed_write_deletes_its_staging_and_loads_nothing(spark, project, record_dir):
    rs = build(spark, project, RedshiftNativeConnector, "rs", bucket="local")
    df = spark.createDataFrame([(1, "a")], "id INT, name STRING")
    staging_root = local_folder(project.bucket("local").spark_path("dvt"))
    with pytest.raises(PySparkException, match="simulated load failure"):
        rs.write_dataframe(df, WriteRequest(table=TableRef.parse("public.fail_t")))
    assert records(record_dir, "write") == []
    assert [r["kind"] for r in records(record_dir, "abort")] == ["abort"]
    assert not staging_root.exists() or not any(staging_root.iterdir())
    assert rs.staged_paths == ()


def test_bigquery_write_stages_in_the_bucket_then_deletes_it(spark, project, record_dir):
    bq = build(spark, project, BigQueryNativeConnector, "bq", bucket="local")
    df = spark.createDataFrame([(1, "a")], "id INT, name STRING")
    bq.write_dataframe(df, WriteRequest(table=TableRef.parse("orders"), mode="append"))
    (write,) = records(record_dir, "write")
    options = sent(write)
    assert write["overwrite"] is False
    assert options["path"] == "acme-data.sales.orders"
    assert options["writemethod"] == "indirect"
    assert options["spark.sql.sources.partitionoverwritemode"] == "STATIC"
    assert write["staged"]
    assert not local_folder(options["temporarygcsbucket"]).exists()


def test_snowflake_write_uses_its_staging_table_and_no_bucket(spark, project, record_dir):
    sf = build(spark, project, SnowflakeNativeConnector, "snow", bucket="local")
    df = spark.createDataFrame([(1, "a")], "id INT, name STRING")
    outcome = sf.write_dataframe(df, WriteRequest(table=TableRef.parse("PUBLIC.T")))
    (write,) = records(record_dir, "write")
    assert sent(write)["dbtable"] == '"PUBLIC"."T"'
    assert sent(write)["usestagingtable"] == "on"
    assert "tempdir" not in sent(write)
    assert write["rows"] == [[1, "a"]] and write["overwrite"] is True
    assert any("not used" in n for n in outcome.notes)


def test_estimates_come_from_catalog_queries_through_the_connectors(spark, project, record_dir):
    sf = build(spark, project, SnowflakeNativeConnector, "snow")
    bq = build(spark, project, BigQueryNativeConnector, "bq")
    rs = build(spark, project, RedshiftNativeConnector, "rs", bucket="local")
    assert sf.estimate_rows(ORDERS) == ESTIMATE
    assert bq.estimate_rows(ReadRequest(table=TableRef.parse("orders"))) == ESTIMATE
    assert rs.estimate_rows(ReadRequest(table=TableRef.parse("orders"))) == ESTIMATE
    assert sf.estimate_rows(ReadRequest(query="select 1")) is None
    queries = [sent(r)["query"] for r in records(record_dir, "read")]
    assert queries == [
        "SELECT ROW_COUNT FROM INFORMATION_SCHEMA.TABLES "
        "WHERE TABLE_SCHEMA = 'PUBLIC' AND TABLE_NAME = 'ORDERS'",
        "SELECT row_count FROM `acme-data`.`sales`.`__TABLES__` WHERE table_id = 'orders'",
        "SELECT tbl_rows FROM svv_table_info WHERE \"schema\" = 'public' AND \"table\" = 'orders'",
    ]
    assert rs.staged_paths == ()  # the UNLOAD of the estimate was cleaned up at once


def test_a_failed_estimate_is_unknown_not_an_error(spark, project, record_dir):
    rs = build(spark, project, RedshiftNativeConnector, "rs", bucket="local")
    assert rs.estimate_rows(ReadRequest(table=TableRef.parse("fail_t"))) is None
    assert any("no catalog estimate for `rs`" in w for w in rs.console.warnings())
    assert rs.staged_paths == ()


def test_a_staging_folder_that_cannot_be_deleted_is_a_warning(spark, project):
    # no hadoop-aws here: Hadoop has no filesystem for s3a, so the delete fails
    rs = build(spark, project, RedshiftNativeConnector, "rs", bucket="s3_role")
    rs.plan_read(ORDERS)
    (problem,) = rs.cleanup()
    assert "could not be deleted" in problem and "s3a" in problem
    assert rs.console.warnings() == [problem]


def test_only_folders_the_connector_created_are_deleted(spark, project):
    rs = build(spark, project, RedshiftNativeConnector, "rs", bucket="local")
    with pytest.raises(DvtError, match="did not create"):
        rs.remove_staging(project.bucket("local").spark_path(""))


def java_error(spark, cls: str, message: str, sql_state: str) -> Py4JJavaError:
    """A real Java SQLException inside a SparkException, as a failed action surfaces it."""
    jvm = spark._jvm
    cause = getattr(jvm, cls)(message, sql_state)
    return Py4JJavaError("An error occurred while calling o1.save.",
                         jvm.org.apache.spark.SparkException("Job aborted.", cause))


@pytest.mark.parametrize("cls, state, transient", [
    ("java.sql.SQLTransientConnectionException", "08006", True),
    ("java.sql.SQLException", "40001", True),
    ("java.sql.SQLException", "28000", False),
    ("java.sql.SQLSyntaxErrorException", "42P01", False),
])
def test_transient_is_read_from_sqlstate(spark, project, cls: str, state: str, transient: bool):
    error = java_error(spark, cls, "server said no", state)
    for native in (build(spark, project, SnowflakeNativeConnector, "snow"),
                   build(spark, project, RedshiftNativeConnector, "rs", "local"),
                   build(spark, project, BigQueryNativeConnector, "bq")):
        assert native.is_transient(error) is transient
    assert build(spark, project, RedshiftNativeConnector, "rs", "local").is_transient(
        java_error(spark, "java.sql.SQLException", "out of memory", "53200"))
    assert not build(spark, project, SnowflakeNativeConnector, "snow").is_transient(
        RuntimeError("not from the JVM"))


def test_errors_are_one_line_and_never_show_a_secret(spark, project):
    password = SECRETS["DVT_TEST_RS_PASSWORD"]
    error = java_error(spark, "java.sql.SQLException",
                       f"password authentication failed (tried {password})\n\tat x.y", "28P01")
    rs = build(spark, project, RedshiftNativeConnector, "rs", "local")
    line = rs.describe_error(error)
    assert line == "SQLException (SQLSTATE 28P01): password authentication failed (tried ****)"
    assert_no_secret(line)
    assert rs.describe_error(RuntimeError("plain")) is None


def test_the_doubles_are_gone_after_their_test(spark):
    # runs after tests that registered them: the shared session knows no such format any more
    for name in ("snowflake", "bigquery", "redshift"):
        native = adapter(name).native
        assert native is not None
        manager = spark._jsparkSession.sessionState().dataSourceManager()
        assert not manager.dataSourceExists(native.spark_format)
        with pytest.raises(Py4JJavaError, match="ClassNotFoundException|DATA_SOURCE_NOT_FOUND"):
            spark.read.format(native.spark_format).load()
