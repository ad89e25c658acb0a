"""How transfer plans and stats look on the console (tables for people, JSON for scripts)."""

from __future__ import annotations

from dvt_connect.console import Console
from dvt_connect.transfer.run import TransferPlan
from dvt_connect.transfer.stats import TransferStats


def _size(n: int | None) -> str:
    if n is None:
        return "not measured"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


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
        ["connector", read["connector"]],
        ["why", read["reason"]],
        ["query", read["sql"]],
        ["estimated rows", "unknown" if read["estimated_rows"] is None
         else f"{read['estimated_rows']:,}"],
        ["partition column", read["partition_column"] or "-"],
        ["fetch size", read["fetch_size"] or "-"],
        ["jars", "\n".join(doc["jars"]) or "none (bundled with Spark)"],
        *[["note", n] for n in read["notes"]],
    ])
    console.table(f"Partitions ({len(read['partitions'])})", ["#", "predicate"],
                  [[p["index"], p["predicate"] or "(all rows)"] for p in read["partitions"]])
    console.table("Columns", ["column", "source type", "Spark type", "target type", "exact",
                              "why"],
                  [[c["name"], c["source_type"], c["spark_type"], c["target_type"],
                    "exact" if c["exact"] else ("lossy (allowed)" if c["allowed_lossy"]
                                                else "lossy: refused"), c["why"]]
                   for c in doc["columns"]])


def show_stats(console: Console, stats: TransferStats, *, as_json: bool) -> None:
    if as_json:
        console.json(stats.to_dict())
        return
    mbps = stats.mb_per_second
    console.table(f"Transferred {stats.source} -> {stats.target}", ["", ""], [
        ["rows", f"{stats.rows:,}"],
        [f"bytes ({stats.bytes_kind})" if stats.bytes_kind else "bytes", _size(stats.bytes)],
        ["connector", f"{stats.connector.value} -> {stats.target_connector.value}"],
        ["why", stats.reason],
        ["partitions", stats.partitions],
        ["planning", f"{stats.planning_seconds:.2f} s"],
        ["moving", f"{stats.moving_seconds:.2f} s"],
        ["rows/s", f"{stats.rows_per_second:,.0f}"],
        ["MB/s", "not measured" if mbps is None else f"{mbps:,.2f}"],
        ["retries", stats.retries],
        *[["note", n] for n in stats.notes],
    ])
    console.success(f"Moved {stats.rows:,} rows in {stats.duration_seconds:.1f} s.")
