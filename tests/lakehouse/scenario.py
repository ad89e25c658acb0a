"""Every write mode into a real Delta and a real Iceberg table, in one Spark session started with
the runtime jars `dvt sync` fetched (run in its own process by test_modes.py: `spark.jars` and
`spark.sql.extensions` are fixed when a JVM starts).

argv: a JSON object with ``pg`` (connection parameters), ``lake`` (a folder or an s3a:// URI),
``jars``, ``formats``, ``hadoop`` (extra Hadoop settings, for the S3 server). Prints one JSON
line: per format, per step, the source rows (read with psycopg), the target rows (read with the
format's own Spark reader, not through dvt), the commit history and what dvt reported.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from write.fixtures import connection, pg_client, pg_connection  # noqa: E402

from dvt_connect import spark as spark_mod  # noqa: E402
from dvt_connect.connectors.base import ReadRequest, TableRef, WriteRequest  # noqa: E402
from dvt_connect.console import CaptureConsole  # noqa: E402
from dvt_connect.databases.files import catalog_name, session_conf  # noqa: E402
from dvt_connect.errors import DvtError  # noqa: E402
from dvt_connect.transfer.run import transfer  # noqa: E402


def main() -> None:
    args = json.loads(sys.argv[1])
    pg: dict[str, Any] = args["pg"]
    spark = spark_mod.get_session(spark_mod.session_spec(
        master="local[2]", jars=args["jars"],
        conf={**session_conf(args["formats"]), "spark.sql.shuffle.partitions": "2",
              "spark.driver.memory": "1g"},
        hadoop_conf=args.get("hadoop") or {}))
    out = {fmt: run_format(spark, pg, args["lake"], fmt) for fmt in args["formats"]}
    print("RESULT " + json.dumps(out, default=str))


def run_format(spark: Any, pg: dict[str, Any], lake: str, fmt: str) -> dict[str, Any]:
    src = f"dvtl_{fmt}_{uuid.uuid4().hex[:8]}"
    back = f"{src}_back"
    source = pg_connection(pg)
    target = connection("lake", {"type": "files", "path": f"{lake}/{fmt}", "format": fmt})
    table = TableRef("events")
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
        return spark.table(f"{catalog_name('lake')}.default.events")

    def target_rows(columns: tuple[str, ...] = ("id", "name", "seq")) -> list[list[Any]]:
        return [list(r) for r in read_target().select(*columns).orderBy(*columns).collect()]

    def history() -> list[str]:
        if fmt == "delta":
            rows = spark.sql(f"DESCRIBE HISTORY delta.`{lake}/delta/events`").collect()
            return [str(v) for v in sorted(int(r["version"]) for r in rows)]
        rows = spark.sql(f"SELECT snapshot_id FROM {catalog_name('lake')}.default.events"
                         ".snapshots ORDER BY committed_at").collect()
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
        step("overwrite", WriteRequest(table=table, mode="overwrite", partition_by=("name",)))
        if fmt == "delta":
            detail = spark.sql(f"DESCRIBE DETAIL delta.`{lake}/delta/events`").first()
            steps["overwrite"]["partitioning"] = list(detail["partitionColumns"])
        else:
            spec = spark.sql(f"SELECT * FROM {catalog_name('lake')}.default.events.partitions"
                             ).columns
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
        # the table as a source, into PostgreSQL: --where, --columns and --as-of
        first = steps["overwrite"]["history"][0]
        psql(f'DROP TABLE IF EXISTS "{back}"')
        back_stats = transfer(
            spark, target, source,
            ReadRequest(table=table, columns=("id", "name"), where="id > 1", as_of=first),
            WriteRequest(table=TableRef(back, schema="public"), mode="overwrite"),
            console=CaptureConsole())
        steps["read_back"] = {"rows": back_stats.rows,
                              "target": psql(f'SELECT id, name FROM "{back}" ORDER BY id')}
    finally:
        psql(f'DROP TABLE IF EXISTS "{src}"; DROP TABLE IF EXISTS "{back}"')
    return steps


if __name__ == "__main__":
    main()
