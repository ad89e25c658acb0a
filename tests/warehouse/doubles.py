"""A DOUBLE for a warehouse's SQL endpoint, and nothing else.

Snowflake, Redshift and BigQuery cannot be reached from here, so :class:`WarehouseDouble` takes
the statements dvt sends to the warehouse, records them (one JSON line each), and does what the
warehouse would do with the bucket: for an unload it writes the Parquet the statement asks for
into the S3-compatible server (moto) with the credentials *the statement carries*; for a load it
reads the staged Parquet from there the same way. Its tables are a small in-memory catalogue
(create, rename, drop) persisted next to the log so a test can look at the result. Everything
else — the bucket's credentials in Hadoop, Spark reading and writing over s3a, the staging
folder's clean-up, the staged write's swap, the type contract — is dvt's real code.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvt_connect.connectors.typeplan import SourceType

ENV = "DVT_TEST_WAREHOUSE_DOUBLE"

_UNLOAD = {
    # COPY INTO '<uri>' FROM (<select>) [CREDENTIALS = (...)] FILE_FORMAT = (TYPE = PARQUET) ...
    "snowflake": re.compile(r"^COPY INTO '(?P<uri>[^']+)' FROM \((?P<select>.*?)\)"
                            r"(?P<auth>(?: CREDENTIALS = \(.*?\)| STORAGE_INTEGRATION = \S+)?) "
                            r"FILE_FORMAT = \(TYPE = PARQUET\) HEADER = TRUE$", re.S),
    # UNLOAD ('<select>') TO '<uri>' <auth> FORMAT AS PARQUET
    "redshift": re.compile(r"^UNLOAD \('(?P<select>(?:[^']|'')*)'\) TO '(?P<uri>[^']+)'"
                           r"(?P<auth>.*?) FORMAT AS PARQUET$", re.S),
}
_LOAD = {
    "snowflake": re.compile(r"^COPY INTO (?P<table>\S+) FROM '(?P<uri>[^']+)'(?P<auth>.*?) "
                            r"FILE_FORMAT = \(TYPE = PARQUET\) MATCH_BY_COLUMN_NAME = "
                            r"CASE_INSENSITIVE$", re.S),
    "redshift": re.compile(r"^COPY (?P<table>\S+) FROM '(?P<uri>[^']+)'(?P<auth>.*?) "
                           r"FORMAT AS PARQUET$", re.S),
}
_KEYS = {
    "snowflake": re.compile(r"AWS_KEY_ID = '([^']*)' AWS_SECRET_KEY = '([^']*)'"),
    "redshift": re.compile(r"ACCESS_KEY_ID '([^']*)' SECRET_ACCESS_KEY '([^']*)'"),
}
# the file names each warehouse gives its unloaded Parquet
_FILE = {"snowflake": "data_0_0_0.snappy.parquet", "redshift": "0000_part_00.parquet"}


def bare(name: str) -> str:
    """The table's own name from a quoted, qualified one (``"PUBLIC"."T"`` -> ``T``)."""
    return name.split(".")[-1].strip("\"`")


@dataclass
class WarehouseDouble:
    database: str
    endpoint: str
    region: str
    folder: Path
    # table -> {"parquet": path of its rows, "types": [[name, type, precision, scale], ...]}
    held: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- set-up shared by the test and the `dvt` process -------------------------------------------
    def save(self) -> Path:
        path = self.folder / "double.json"
        path.write_text(json.dumps({"database": self.database, "endpoint": self.endpoint,
                                    "region": self.region, "folder": str(self.folder),
                                    "held": self.held}))
        return path

    @classmethod
    def from_env(cls) -> WarehouseDouble:
        data = json.loads(Path(os.environ[ENV]).read_text())
        return cls(data["database"], data["endpoint"], data["region"], Path(data["folder"]),
                   data["held"])

    # -- what the test reads back ---------------------------------------------------------------
    @property
    def log(self) -> Path:
        return self.folder / "statements.jsonl"

    def statements(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def tables(self) -> dict[str, Any]:
        path = self.folder / "tables.json"
        return json.loads(path.read_text()) if path.exists() else {}

    # -- the executor factory dvt is given (use_executor) ----------------------------------------
    def session(self, spark: Any = None, connection: Any = None) -> DoubleSession:
        return DoubleSession(self)


class DoubleSession:
    """One session on the double's SQL endpoint (the WarehouseSql protocol)."""

    def __init__(self, double: WarehouseDouble) -> None:
        self.double = double

    def _record(self, kind: str, sql: str) -> None:
        with open(self.double.log, "a") as out:
            out.write(json.dumps({"kind": kind, "sql": sql}) + "\n")

    def _tables(self) -> dict[str, Any]:
        return self.double.tables()

    def _save(self, tables: dict[str, Any]) -> None:
        (self.double.folder / "tables.json").write_text(json.dumps(tables, default=str))

    def _s3(self, sql: str) -> Any:
        import boto3

        found = _KEYS[self.double.database].search(sql)
        if found is None:
            raise RuntimeError("the double got no bucket credentials in the statement")
        return boto3.client("s3", endpoint_url=self.double.endpoint,
                            region_name=self.double.region, aws_access_key_id=found.group(1),
                            aws_secret_access_key=found.group(2))

    # -- WarehouseSql -----------------------------------------------------------------------------
    def execute(self, sql: str, *, kind: str = "execute") -> None:
        self._record(kind, sql)
        db = self.double.database
        tables = self._tables()
        if (m := _UNLOAD[db].match(sql)) is not None:
            self._unload(sql, m.group("uri"), m.group("select").replace("''", "'")
                         if db == "redshift" else m.group("select"))
        elif (m := _LOAD[db].match(sql)) is not None:
            tables[bare(m.group("table"))] = self._load(sql, m.group("uri"))
        elif (m := re.match(r"^CREATE TABLE (\S+) \((.*)\)", sql, re.S)) is not None:
            tables[bare(m.group(1))] = {"rows": [], "columns": [], "ddl": sql}
        elif (m := re.match(r"^ALTER TABLE (\S+) RENAME TO (\S+)$", sql)) is not None:
            tables[bare(m.group(2))] = tables.pop(bare(m.group(1)))
        elif (m := re.match(r"^ALTER TABLE (\S+) SWAP WITH (\S+)$", sql)) is not None:
            one, other = bare(m.group(1)), bare(m.group(2))
            tables[one], tables[other] = tables[other], tables[one]
        elif (m := re.match(r"^DROP TABLE (?:IF EXISTS )?(\S+)$", sql)) is not None:
            tables.pop(bare(m.group(1)), None)
        else:
            raise RuntimeError(f"the double does not know this statement: {sql[:200]}")
        self._save(tables)

    def transaction(self, statements: list[str]) -> None:
        for sql in statements:
            self.execute(sql, kind="transaction")

    def describe(self, select: str) -> list[SourceType]:
        name, columns = self._selected(select)
        types = self.double.held[name]["types"]
        return [SourceType(n, t, p, s) for n, t, p, s in types if not columns or n in columns]

    def query(self, sql: str, limit: int | None = None) -> list[tuple[str | None, ...]]:
        self._record("query", sql)
        return []  # no catalog statistics: the size is unknown

    def unique_keys(self, schema: str | None, name: str) -> list[tuple[str, ...]]:
        return []  # the double keeps no constraints (the stage-native load has no keyed modes)

    def current_schema(self) -> str | None:
        return "PUBLIC" if self.double.database == "snowflake" else "public"

    def table_kind(self, schema: str | None, name: str) -> str | None:
        return "table" if name in self._tables() else None

    def columns(self, schema: str | None, name: str) -> list[str]:
        return list(self._tables()[name]["columns"])

    def close(self) -> None:
        pass

    # -- what the warehouse does with the bucket ----------------------------------------------
    def _selected(self, select: str) -> tuple[str, list[str]]:
        m = re.match(r'^SELECT (?P<cols>.+?) FROM (?P<table>\S+)', select)
        if m is None:
            raise RuntimeError(f"the double reads only SELECT ... FROM <table>: {select}")
        cols = m.group("cols")
        return bare(m.group("table")), ([] if cols == "*" else
                                         [c.strip().strip('"') for c in cols.split(",")])

    def _unload(self, sql: str, uri: str, select: str) -> None:
        import pyarrow.parquet as pq

        name, columns = self._selected(select)
        table = pq.read_table(self.double.held[name]["parquet"])
        if columns:
            table = table.select(columns)
        bucket, _, prefix = uri.split("://", 1)[1].partition("/")
        out = io.BytesIO()
        pq.write_table(table, out)
        self._s3(sql).put_object(Bucket=bucket, Key=prefix + _FILE[self.double.database],
                                 Body=out.getvalue())

    def _load(self, sql: str, uri: str) -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        bucket, _, prefix = uri.split("://", 1)[1].partition("/")
        client = self._s3(sql)
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix)
                .get("Contents", []) if o["Key"].endswith(".parquet")]
        parts = [pq.read_table(io.BytesIO(client.get_object(Bucket=bucket, Key=k)["Body"]
                                          .read())) for k in keys]
        table = pa.concat_tables(parts) if parts else pa.table({})
        return {"rows": table.to_pylist(), "columns": table.column_names,
                "parquet_types": [str(t) for t in table.schema.types], "files": len(keys)}
