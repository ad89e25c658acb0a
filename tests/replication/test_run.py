"""Replication runs through the Python API on the shared Spark session: real PostgreSQL in,
real Parquet out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvt_connect.config import load_project
from dvt_connect.console import CaptureConsole
from dvt_connect.errors import ConfigError
from dvt_connect.replication import RunOptions, run_replication

from .conftest import SIZES, write_profiles

pytestmark = [pytest.mark.spark, pytest.mark.postgres]


@pytest.fixture
def project(tmp_path):  # type: ignore[no-untyped-def]
    write_profiles(tmp_path / "cfg", tmp_path / "lake")
    return load_project(tmp_path / "cfg")


def parquet_rows(spark, lake: Path, table: str) -> int:  # type: ignore[no-untyped-def]
    return spark.read.parquet(str(lake / table)).count()


def test_wildcards_overrides_and_naming_move_every_table(spark, source_schemas, project,
                                                         tmp_path, _isolated_home):
    sales, crm = source_schemas
    console = CaptureConsole()
    spec = {
        "source": "pg", "target": "lake",
        "defaults": {"object": "{schema}_{table}", "partitions": 2},
        "streams": {f"{sales}.*": None,
                    f"{sales}.orders": {"partitions": 3, "where": "id <= 50000"},
                    # a view has no key to split on: name the column
                    f"{sales}.big_orders": {"partition_column": "id"},
                    f"{crm}.customers": {"columns": ["id"]}},
    }
    run = run_replication(spark, spec, project=project, console=console,
                          options=RunOptions(threads=3))

    by_name = {r.stream: r for r in run.results}
    assert set(by_name) == {f"{sales}.orders", f"{sales}.order_items", f"{sales}.customers",
                            f"{sales}.big_orders", f"{crm}.customers"}
    assert not run.failed, [r.message for r in run.failed]
    lake = tmp_path / "lake"
    assert by_name[f"{sales}.orders"].rows == 50_000 == parquet_rows(spark, lake,
                                                                       f"{sales}_orders")
    assert by_name[f"{sales}.orders"].partitions == 3
    assert by_name[f"{sales}.order_items"].rows == SIZES["order_items"]
    assert by_name[f"{sales}.order_items"].partitions == 2
    assert parquet_rows(spark, lake, f"{sales}_customers") == SIZES["customers"]
    assert spark.read.parquet(str(lake / f"{crm}_customers")).columns == ["id"]
    # the view is a table to a wildcard: 10% of the orders have amount > 90
    assert by_name[f"{sales}.big_orders"].rows == 5_940
    assert by_name[f"{sales}.big_orders"].partitions == 2
    # largest first, by the catalog's estimate (the view has none: last)
    assert [r.stream for r in run.results][:2] == [f"{sales}.orders", f"{sales}.order_items"]
    assert run.results[-1].stream == f"{sales}.big_orders"

    doc = json.loads(run.path.read_text())
    assert run.path == _isolated_home / "runs" / run.run_id / "run_results.json"
    first = doc["results"][0]
    assert first["unique_id"] == f"stream.{sales}.orders" and first["status"] == "success"
    assert first["rows"] == 50_000 and first["bytes"] > 0 and first["connector"] == "jdbc"
    assert first["mode"] == "overwrite" and first["target_table"] == f"{sales}_orders"
    assert [t["name"] for t in first["timing"]] == ["plan", "execute"]
    assert doc["args"]["threads"] == 3 and doc["metadata"]["invocation_id"] == run.run_id
    # one display row per stream: started and finished, each once
    starts = [n for kind, n, _ in console.run_events if kind == "start"]
    assert sorted(starts) == sorted(by_name)
    assert sorted(n for kind, n, _ in console.run_events if kind == "ok") == sorted(by_name)


def test_select_exclude_and_dry_run_move_nothing(spark, source_schemas, project, tmp_path,
                                                 _isolated_home):
    sales, _ = source_schemas
    spec = {"source": "pg", "target": "lake", "streams": {f"{sales}.*": None}}
    run = run_replication(spark, spec, project=project, console=CaptureConsole(),
                          options=RunOptions(select=("order*",), exclude=("*items",),
                                             dry_run=True))
    assert [r.stream for r in run.results] == [f"{sales}.orders"]
    only = run.results[0]
    assert only.status == "planned" and only.plan is not None
    assert only.plan["read"]["connector"] == "jdbc"
    assert only.plan["target"]["table"] == "orders"
    assert only.estimated_rows == SIZES["orders"]
    assert not (tmp_path / "lake").exists()
    assert run.path is None and not (_isolated_home / "runs").exists()


def test_a_failing_stream_leaves_its_target_and_the_others_complete_then_retry(
        spark, source_schemas, project, tmp_path, monkeypatch):
    sales, _ = source_schemas
    lake = tmp_path / "lake"
    # what the failing stream's target held before the run
    spark.range(7).write.parquet(str(lake / "orders"))
    monkeypatch.setenv("REPL_ORDERS_WHERE", "1 / (id - 20000) > -1")  # fails mid-read
    spec = {"source": "pg", "target": "lake",
            "defaults": {"partitions": 1},
            "streams": {f"{sales}.orders": {"where": "{{ env_var('REPL_ORDERS_WHERE') }}"},
                        f"{sales}.order_items": None, f"{sales}.customers": None}}
    options = RunOptions(threads=2)
    first = run_replication(spark, spec, project=project, console=CaptureConsole(),
                            options=options)

    status = {r.stream: r.status for r in first.results}
    assert status == {f"{sales}.orders": "error", f"{sales}.order_items": "success",
                      f"{sales}.customers": "success"}
    failed = first.failed[0]
    assert "division by zero" in (failed.message or "")
    assert parquet_rows(spark, lake, "orders") == 7  # left as it was
    assert parquet_rows(spark, lake, "order_items") == SIZES["order_items"]
    saved = json.loads(first.path.read_text())
    assert [r["stream"] for r in saved["results"] if r["status"] == "error"] == [
        f"{sales}.orders"]
    assert "division by zero" in saved["results"][0]["message"]

    monkeypatch.setenv("REPL_ORDERS_WHERE", "id > 0")
    console = CaptureConsole()
    second = run_replication(spark, spec, project=project, console=console,
                             options=RunOptions(threads=2, retry_failed=True))
    assert [(r.stream, r.status) for r in second.results] == [(f"{sales}.orders", "success")]
    assert parquet_rows(spark, lake, "orders") == SIZES["orders"]
    assert second.path != first.path
    # nothing failed last time: nothing to retry
    third = run_replication(spark, spec, project=project, console=CaptureConsole(),
                            options=RunOptions(retry_failed=True))
    assert third.results == [] and third.path is None


def test_verify_counts_source_and_target_again(spark, source_schemas, project, tmp_path):
    sales, _ = source_schemas
    spec = {"source": "pg", "target": "lake",
            "streams": {f"{sales}.customers": {"where": "id <= 1500"},
                        f"{sales}.order_items": {"mode": "append"}}}
    spark.range(5).selectExpr("id", "'old' AS label", "CAST(1 AS DECIMAL(12,2)) AS amount") \
        .write.parquet(str(tmp_path / "lake" / "order_items"))
    run = run_replication(spark, spec, project=project, console=CaptureConsole(),
                          options=RunOptions(verify=True))
    by_name = {r.stream: r.verify for r in run.results}
    customers, items = by_name[f"{sales}.customers"], by_name[f"{sales}.order_items"]
    assert customers is not None and items is not None
    assert (customers.source_rows, customers.target_rows, customers.moved_rows) == (
        1500, 1500, 1500)
    assert customers.ok
    assert (items.source_rows, items.target_rows) == (SIZES["order_items"],
                                                      SIZES["order_items"] + 5)
    assert items.ok
    saved = json.loads(run.path.read_text())
    assert {r["verify"]["ok"] for r in saved["results"]} == {True}
    # without --verify nothing is read twice
    plain = run_replication(spark, spec, project=project, console=CaptureConsole())
    assert all(r.verify is None for r in plain.results)


def test_streams_run_concurrently_each_in_its_own_pool(spark, source_schemas, project):
    sales, _ = source_schemas
    spec = {"source": "pg", "target": "lake", "defaults": {"partitions": 1},
            "streams": {f"{sales}.orders": None, f"{sales}.order_items": None}}
    run = run_replication(spark, spec, project=project, console=CaptureConsole(),
                          options=RunOptions(threads=2))
    assert not run.failed

    pools = {"dvt_" + r.stream.replace(".", "_") for r in run.results}
    spans: dict[str, list[tuple[int, int]]] = {p: [] for p in pools}
    sc = spark.sparkContext
    # AppStatusStore.stageList(statuses, details, withSummaries, unsortedQuantiles, taskStatus)
    stages = sc._jsc.sc().statusStore().stageList(
        None, False, False, sc._gateway.new_array(sc._jvm.double, 0), None)
    for i in range(stages.size()):
        stage = stages.apply(i)
        pool = stage.schedulingPool()
        if pool in spans and stage.firstTaskLaunchedTime().isDefined() \
                and stage.completionTime().isDefined():
            spans[pool].append((stage.firstTaskLaunchedTime().get().getTime(),
                                stage.completionTime().get().getTime()))
    assert all(spans.values()), spans  # each stream's jobs ran in its own pool
    a, b = spans.values()
    overlap = [(x, y) for x in a for y in b if x[0] < y[1] and y[0] < x[1]]
    assert overlap, f"the two streams' tasks never ran at the same time: {spans}"


def test_a_stream_matching_nothing_is_a_config_error_before_anything_moves(
        spark, source_schemas, project, tmp_path):
    sales, _ = source_schemas
    path = tmp_path / "replication.yml"
    path.write_text(f"source: pg\ntarget: lake\nstreams:\n  {sales}.orders:\n"
                    f"  {sales}.ordres_*:\n")
    with pytest.raises(ConfigError, match=rf"replication\.yml: key `streams\.{sales}\.ordres_\*`"
                                          rf": stream `{sales}\.ordres_\*` matches no table in "
                                          rf"schema `{sales}` of output `pg`") as raised:
        run_replication(spark, path, project=project, console=CaptureConsole())
    assert raised.value.exit_code == 2
    assert not (tmp_path / "lake").exists()


def test_an_unknown_output_names_the_replication_file(spark, project, tmp_path):
    path = tmp_path / "replication.yml"
    path.write_text("source: pgg\ntarget: lake\nstreams:\n  t:\n")
    with pytest.raises(ConfigError, match=r"replication\.yml: key `source`: unknown output "
                                          r"`pgg`.*Did you mean `pg`"):
        run_replication(spark, path, project=project, console=CaptureConsole())
