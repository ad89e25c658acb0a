"""Every write mode into a real Delta and a real Iceberg table, in one Spark session started with
the runtime jars `dvt sync` fetched (run in its own process by test_modes.py: `spark.jars` and
`spark.sql.extensions` are fixed when a JVM starts).

argv: a JSON object with ``pg`` (connection parameters), ``jars``, ``formats`` (the session's
extensions), ``buckets`` (bucket outputs as in buckets.yml, whose Hadoop settings the session gets
the way a transfer sets them), ``runs`` (each: ``name``, ``format``, ``lake`` (a folder or an
s3a:// URI), ``chain`` (``full``: every mode; ``short``: overwrite, merge, then a failure),
optionally ``catalog`` (the output's Iceberg ``catalog:``), ``namespace`` and ``read_back``
(after a short chain, the table as a source as in a full one, as of that index of the merge's
history)) and ``matrix`` (a lake folder:
the fidelity type matrix through each format). Prints one JSON line: per run, per step, the
source rows (read with psycopg), the target rows (read with the format's own Spark reader, not
through dvt), the commit history and what dvt reported; each run's seconds; per format, the
matrix's verdict (the target's data files read with pyarrow against the source read with
psycopg).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fidelity.test_matrix import PG_DDL, PG_FLOAT32, PG_INSTANTS, PG_ROWS, as_source  # noqa: E402
from write.fixtures import connection, pg_client, pg_connection, pg_rows  # noqa: E402

from dvt_connect import spark as spark_mod  # noqa: E402
from dvt_connect.config.buckets import parse_bucket  # noqa: E402
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest  # noqa: E402
from dvt_connect.console import CaptureConsole  # noqa: E402
from dvt_connect.databases.files import catalog_name, session_conf  # noqa: E402
from dvt_connect.errors import DvtError  # noqa: E402
from dvt_connect.transfer.credentials import apply_bucket_credentials  # noqa: E402
from dvt_connect.transfer.run import transfer  # noqa: E402


def main() -> None:
    args = json.loads(sys.argv[1])
    pg: dict[str, Any] = args["pg"]
    spark = spark_mod.get_session(spark_mod.session_spec(
        master="local[2]", jars=args["jars"],
        conf={**session_conf(args["formats"]), "spark.sql.shuffle.partitions": "2",
              "spark.driver.memory": "1g"}))
    apply_bucket_credentials(spark, [
        parse_bucket(name, data, path=Path("buckets.yml"), key=f"lake.outputs.{name}")
        for name, data in (args.get("buckets") or {}).items()])
    out: dict[str, Any] = {"seconds": {}}
    for run in args["runs"]:
        start = time.monotonic()
        out[run["name"]] = run_chain(spark, pg, run)
        out["seconds"][run["name"]] = round(time.monotonic() - start, 1)
    if args.get("matrix"):
        # and into plain Parquet on the Arrow route, whose tasks use this PySpark's own Arrow
        # schema conversion (which differs between PySpark minors)
        out["matrix"] = {fmt: run_matrix(spark, pg, args["matrix"], fmt)
                         for fmt in (*args["formats"], "parquet")}
    print("RESULT " + json.dumps(out, default=str))


def run_chain(spark: Any, pg: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    fmt, lake, name = run["format"], run["lake"], run["name"]
    src = f"dvtl_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    back = f"{src}_back"
    source = pg_connection(pg)
    output = {"type": "files", "path": f"{lake}/{fmt}", "format": fmt}
    if run.get("catalog"):
        output["catalog"] = run["catalog"]
    target = connection(f"lake_{name}".replace("-", "_"), output)
    namespace = run.get("namespace") or "default"
    table = TableRef("events", schema=run.get("namespace"))
    iceberg_table = f"{catalog_name(target.name)}.{namespace}.events"
    steps: dict[str, Any] = {}

    def psql(sql: str) -> list[list[Any]]:
        with pg_client(pg) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return [list(r) for r in cur.fetchall()] if cur.description else []

    def source_rows(columns: str = "id, name, seq") -> list[list[Any]]:
        return psql(f'SELECT {columns} FROM "{src}" ORDER BY id')

    def read_target() -> Any:
        if fmt == "delta":
            return spark.read.format("delta").load(f"{lake}/delta/events")
        return spark.table(iceberg_table)

    def target_rows(columns: tuple[str, ...] = ("id", "name", "seq")) -> list[list[Any]]:
        return [list(r) for r in read_target().select(*columns).orderBy(*columns).collect()]

    def history() -> list[str]:
        if fmt == "delta":
            rows = spark.sql(f"DESCRIBE HISTORY delta.`{lake}/delta/events`").collect()
            return [str(v) for v in sorted(int(r["version"]) for r in rows)]
        rows = spark.sql(f"SELECT snapshot_id FROM {iceberg_table}.snapshots "
                         "ORDER BY committed_at").collect()
        return [str(r["snapshot_id"]) for r in rows]

    def step(name: str, write: WriteRequest, read: ReadRequest | None = None,
             columns: tuple[str, ...] = ("id", "name", "seq")) -> None:
        record: dict[str, Any] = {}
        try:
            stats = transfer(spark, source, target, read or ReadRequest(table=TableRef(src)),
                             write, connector="jdbc", console=CaptureConsole())
            record.update(rows=stats.rows, bytes=stats.bytes, notes=list(stats.notes),
                          inserted=stats.inserted, updated=stats.updated,
                          mark=stats.high_water_mark, read_from=stats.read_from)
        except DvtError as exc:
            record.update(error=type(exc).__name__, message=str(exc), exit_code=exc.exit_code)
            print(f"step {fmt}/{name}: {exc}", file=sys.stderr)
        record.update(source=source_rows(), target=target_rows(columns), history=history())
        steps[name] = record

    psql(f'CREATE TABLE "{src}" (id int PRIMARY KEY, name text, seq bigint)')
    psql(f"INSERT INTO \"{src}\" SELECT g, 'n' || g, g * 10 FROM generate_series(1, 5) g")
    try:
        if run["chain"] == "short":
            short_chain(psql, step, src, table)
            if "read_back" in run:  # the index of the snapshot in the merge's history
                steps["read_back"] = read_back(spark, target, source, table, back, psql,
                                               steps["merge"]["history"][run["read_back"]])
            return steps
        step("overwrite", WriteRequest(table=table, mode="overwrite", partition_by=("name",)))
        if fmt == "delta":
            detail = spark.sql(f"DESCRIBE DETAIL delta.`{lake}/delta/events`").first()
            steps["overwrite"]["partitioning"] = list(detail["partitionColumns"])
        else:
            spec = spark.sql(f"SELECT * FROM {iceberg_table}.partitions").columns
            steps["overwrite"]["partitioning"] = [c for c in spec if c == "partition"]
        step("append", WriteRequest(table=table, mode="append"))
        step("truncate", WriteRequest(table=table, mode="truncate"))
        psql(f"UPDATE \"{src}\" SET name = 'changed', seq = 60 WHERE id = 2; "
             f"INSERT INTO \"{src}\" VALUES (6, 'n6', 70)")
        step("merge", WriteRequest(table=table, mode="merge", primary_key=("id",)))
        psql(f"UPDATE \"{src}\" SET name = 'again', seq = 80 WHERE id = 3; "
             f"INSERT INTO \"{src}\" VALUES (7, 'n7', 90)")
        step("incremental", WriteRequest(table=table, mode="incremental", update_key="seq",
                                         primary_key=("id",)))
        # PostgreSQL fails the read half way (division by zero at id 4): nothing is committed
        step("failure", WriteRequest(table=table, mode="overwrite"),
             ReadRequest(query=f'SELECT id, name, seq / (id - 4) AS seq FROM "{src}"'))
        psql(f'ALTER TABLE "{src}" ADD COLUMN extra text; '
             f"UPDATE \"{src}\" SET extra = 'x' || id, seq = seq + 100")
        step("new_column_refused", WriteRequest(table=table, mode="merge", primary_key=("id",)))
        step("schema_evolution_add", WriteRequest(table=table, mode="merge", primary_key=("id",),
                                                  schema_evolution="add"),
             columns=("id", "name", "seq", "extra"))
        steps["schema_evolution_add"]["source"] = source_rows("id, name, seq, extra")
        # backfill seq in [140, 160): id 4 (140) deleted at the source, id 5 (150) changed, id 8
        # (155) new; id 1 (110) changed too but outside the range, so the table keeps its row
        psql(f'DELETE FROM "{src}" WHERE id = 4; '
             f"UPDATE \"{src}\" SET name = 'back' WHERE id IN (1, 5); "
             f"INSERT INTO \"{src}\" VALUES (8, 'n8', 155, 'x8')")
        step("backfill", WriteRequest(table=table, mode="backfill", update_key="seq",
                                      range="140..160"),
             columns=("id", "name", "seq", "extra"))
        steps["backfill"]["source"] = source_rows("id, name, seq, extra")
        steps["read_back"] = read_back(spark, target, source, table, back, psql,
                                       steps["overwrite"]["history"][0])
    finally:
        psql(f'DROP TABLE IF EXISTS "{src}"; DROP TABLE IF EXISTS "{back}"')
        if run.get("catalog"):  # the catalog outlives the run's folder: leave no entry behind
            spark.sql(f"DROP TABLE IF EXISTS {iceberg_table}")
            spark.sql(f"DROP NAMESPACE IF EXISTS {catalog_name(target.name)}.{namespace}")
    return steps


def short_chain(psql: Any, step: Any, src: str, table: TableRef) -> None:
    """Overwrite, merge, then a transfer that fails half way (PostgreSQL's division by zero at
    id 4) and must leave the merge's snapshot current."""
    step("overwrite", WriteRequest(table=table, mode="overwrite"))
    psql(f"UPDATE \"{src}\" SET name = 'changed', seq = 60 WHERE id = 2; "
         f"INSERT INTO \"{src}\" VALUES (6, 'n6', 70)")
    step("merge", WriteRequest(table=table, mode="merge", primary_key=("id",)))
    step("failure", WriteRequest(table=table, mode="overwrite"),
         ReadRequest(query=f'SELECT id, name, seq / (id - 4) AS seq FROM "{src}"'))


def read_back(spark: Any, target: Any, source: Any, table: TableRef, back: str, psql: Any,
              as_of: str) -> dict[str, Any]:
    """The table as a source, into PostgreSQL: --where, --columns and --as-of ``as_of``."""
    psql(f'DROP TABLE IF EXISTS "{back}"')
    stats = transfer(
        spark, target, source,
        ReadRequest(table=table, columns=("id", "name"), where="id > 1", as_of=as_of),
        WriteRequest(table=TableRef(back, schema="public"), mode="overwrite"),
        console=CaptureConsole())
    return {"rows": stats.rows, "target": psql(f'SELECT id, name FROM "{back}" ORDER BY id')}


def run_matrix(spark: Any, pg: dict[str, Any], lake: str, fmt: str) -> dict[str, Any]:
    """The fidelity matrix's PostgreSQL table into a new ``fmt`` table through ``transfer()``;
    the table's data files (one commit, so every file is live) read with pyarrow and compared
    with the source read with psycopg. The verdict: ``exact``, the differences, or the refusal.
    """
    import pyarrow.parquet as pq

    src = f"dvtl_matrix_{fmt}_{uuid.uuid4().hex[:8]}"
    target = connection(f"matrix_{fmt}", {"type": "files", "path": f"{lake}/{fmt}",
                                          "format": fmt})
    with pg_client(pg) as conn, conn.cursor() as cur:
        cur.execute(PG_DDL.format(table=src))
        cur.executemany(f"INSERT INTO {src} VALUES ({', '.join(['%s'] * len(PG_ROWS[0]))})",
                        PG_ROWS)
    verdict: dict[str, Any] = {}
    root = Path(lake.removeprefix("file://")) / fmt
    try:
        # into a table format the bulk read hands Spark the same rows (fidelity tests); into
        # Parquet it goes Arrow end to end
        for connector in ("native",) if fmt == "parquet" else ("jdbc",):
            name = f"matrix_{connector}"
            try:
                stats = transfer(spark, pg_connection(pg), target,
                                 ReadRequest(table=TableRef(src)),
                                 WriteRequest(table=TableRef(name), mode="overwrite"),
                                 connector=connector, console=CaptureConsole(),
                                 route="arrow" if fmt == "parquet" else "auto")
            except DvtError as exc:
                verdict[connector] = {"refused": str(exc)}
                continue
            verdict["route"] = stats.notes[0]
            files = root / name if fmt in ("delta", "parquet") else \
                root / "default" / name / "data"
            got = pq.read_table(files).to_pylist()  # pyarrow skips _delta_log
            try:
                as_source(pg_rows(pg, src), got, float32=PG_FLOAT32, instants=PG_INSTANTS)
                verdict[connector] = {"exact": len(got)}
            except AssertionError as exc:
                verdict[connector] = {"differs": str(exc)[:3000]}
    finally:
        with pg_client(pg) as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{src}"')
    return verdict


if __name__ == "__main__":
    main()
