"""How transfer plans and stats look on the console (tables for people, JSON for scripts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dvt_connect.console import Console, human_size

if TYPE_CHECKING:  # `dvt transfer` never imports the replication package
    from dvt_connect.replication.results import RunResults, StreamResult
    from dvt_connect.transfer.run import TransferPlan
    from dvt_connect.transfer.stats import TransferStats


def show_plan(console: Console, plan: TransferPlan, *, as_json: bool) -> None:
    doc = plan.describe()  # warnings were shown as they were decided
    if as_json:
        console.json({"dry_run": True, **doc})
        return
    read = doc["read"]
    console.table("Transfer plan (dry run: nothing moved)", ["", ""], [
        ["source", f"{plan.source.name} ({plan.source.type}) {doc['source']['location']}"],
        ["target", f"{plan.target.name} ({plan.target.type}) {doc['target']['location']}"],
        ["target table", f"{doc['target']['table']} ({plan.write.mode})"],
        *([["primary key", ", ".join(plan.write.primary_key)]] if plan.write.primary_key
          else []),
        *_incremental_rows(doc["incremental"]),
        *[["write", n] for n in doc["target"]["notes"]],
        ["connector", read["connector"]],
        ["why", read["reason"]],
        ["rows cross as", doc["route"]["why"]],
        ["query", read["sql"]],
        ["estimated rows", "unknown" if read["estimated_rows"] is None
         else f"{read['estimated_rows']:,}"],
        ["partition column", read["partition_column"] or "-"],
        ["fetch size", read["fetch_size"] or "-"],
        ["jars", "\n".join(doc["jars"]) or "none (bundled with Spark)"],
        *_spark_rows(doc["spark"]),
        *[["note", n] for n in read["notes"]],
    ])
    if doc["route"].get("tasks"):  # an Arrow route's own tasks (a files source)
        console.table(f"Arrow tasks ({len(doc['route']['tasks'])})", ["#", "reads"],
                      list(enumerate(doc["route"]["tasks"])))
    else:
        console.table(f"Partitions ({len(read['partitions'])})", ["#", "predicate"],
                      [[p["index"], p["predicate"] or "(all rows)"]
                       for p in read["partitions"]])
    console.table("Columns", ["column", "source type", "Spark type", "target type", "exact",
                              "why"],
                  [[c["name"], c["source_type"], c["spark_type"], c["target_type"],
                    "exact" if c["exact"] else ("lossy (allowed)" if c["allowed_lossy"]
                                                else "lossy: refused"), c["why"]]
                   for c in doc["columns"]])


def _spark_rows(spark: dict[str, Any]) -> list[list[Any]]:
    if not spark:
        return []
    conf = "\n".join(f"{k}={v}" for k, v in sorted(spark["conf"].items()))
    return [["spark master", f"{spark['master']} ({spark['origin']})"],
            *([["spark conf", conf]] if conf else [])]


def _incremental_rows(inc: dict[str, Any] | None) -> list[list[Any]]:
    if inc is None:
        return []
    return [
        ["update key", inc["update_key"]],
        ["high-water mark", inc["high_water_mark"] or "none (target absent or empty): full load"],
        ["read predicate", inc["predicate"] or "(all rows)"],
        ["NULL update keys", "unknown" if inc["null_update_keys"] is None
         else f"{inc['null_update_keys']:,} (not read by incremental runs)"],
    ]


def show_stats(console: Console, stats: TransferStats, *, as_json: bool) -> None:
    if as_json:
        console.json(stats.to_dict())
        return
    mbps = stats.mb_per_second
    console.table(f"Transferred {stats.source} -> {stats.target}", ["", ""], [
        ["rows", f"{stats.rows:,}"],
        [f"bytes ({stats.bytes_kind})" if stats.bytes_kind else "bytes", human_size(stats.bytes)],
        ["connector", f"{stats.connector.value} -> {stats.target_connector.value}"],
        ["why", stats.reason],
        ["partitions", stats.partitions],
        ["planning", f"{stats.planning_seconds:.2f} s"],
        ["moving", f"{stats.moving_seconds:.2f} s"],
        ["rows/s", f"{stats.rows_per_second:,.0f}"],
        ["MB/s", "not measured" if mbps is None else f"{mbps:,.2f}"],
        ["retries", stats.retries],
        *([["inserted", f"{stats.inserted:,}"]] if stats.inserted is not None else []),
        *([["updated (matched by key)", f"{stats.updated:,}"]] if stats.updated is not None
          else []),
        *([["read from", stats.read_from]] if stats.read_from is not None else []),
        *([["high-water mark", stats.high_water_mark]] if stats.high_water_mark is not None
          else []),
        *([["NULL update keys", f"{stats.null_update_keys:,}"]] if stats.null_update_keys
          else []),
        *[["note", n] for n in stats.notes],
    ])
    console.success(f"Moved {stats.rows:,} rows in {stats.duration_seconds:.1f} s.")


def _mode(r: StreamResult) -> str:
    keys = [f"key {', '.join(r.primary_key)}"] if r.primary_key else []
    if r.update_key:
        keys.append(f"by {r.update_key}")
    return f"{r.mode} ({'; '.join(keys)})" if keys else r.mode


def _marks(run: RunResults) -> bool:
    """Whether the run has incremental streams (the tables then show their high-water marks)."""
    return any(r.mode == "incremental" for r in run.results)


def show_run(console: Console, run: RunResults, *, as_json: bool) -> None:
    """The summary table of a replication run (or every stream's plan, for a dry run)."""
    if as_json:
        console.json(run.to_dict())
        return
    marks = _marks(run)
    if run.dry_run:
        rows = []
        for r in run.results:
            read = (r.plan or {}).get("read", {})
            mark = [r.high_water_mark or "none: full load"] if r.mode == "incremental" else ["-"]
            rows.append([r.stream, r.source_table or read.get("sql", ""), r.target_table,
                         _mode(r), read.get("connector", "-"),
                         len(read.get("partitions", [])) or "-",
                         "unknown" if r.estimated_rows is None else f"{r.estimated_rows:,}",
                         *(mark if marks else []), r.message or read.get("reason", "")])
        console.table(f"Replication plan (dry run: nothing moved), {len(rows)} stream(s)",
                      ["stream", "source", "target", "mode", "connector", "partitions",
                       "estimated rows", *(["high-water mark"] if marks else []),
                       "why / error"], rows)
        return
    rows, styles = [], []
    for r in run.results:
        verify = "-" if r.verify is None else r.verify.summary()
        mark = [r.high_water_mark or "-"] if r.mode == "incremental" else ["-"]
        rows.append([r.stream, r.status, "-" if r.rows is None else f"{r.rows:,}",
                     human_size(r.bytes) if r.bytes is not None else "-",
                     f"{r.execution_time:.1f} s", r.connector or "-", _mode(r),
                     *(mark if marks else []), verify, r.message or ""])
        styles.append("red" if r.status == "error" or (r.verify is not None
                                                       and not r.verify.ok) else None)
    console.table(f"Run {run.run_id}", ["stream", "status", "rows", "bytes", "time",
                                        "connector", "mode",
                                        *(["high-water mark"] if marks else []), "verify",
                                        "error"], rows, styles=styles)
    if run.path is not None:
        console.info(f"Results: {run.path}")
    done = f"{len(run.succeeded)} of {len(run.results)} streams succeeded, {run.rows:,} rows " \
           f"in {run.elapsed:.1f} s."
    if run.failed:
        bad = [r.stream for r in run.failed]
        console.error(f"{done} Failed: {', '.join(bad)}. Re-run them with --retry-failed.")
    elif not run.results:
        console.success("Nothing to run.")
    else:
        console.success(done)
