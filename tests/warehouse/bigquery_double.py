"""A DOUBLE of BigQuery's REST API (``/bigquery/v2``) on loopback, for the real
``google-cloud-bigquery`` client; nothing here is BigQuery.

It answers what dvt's BigQuery executor sends (jobs.insert, jobs.get, jobs.getQueryResults,
tables.get), records every request (path, job body and whether a bearer token came with it),
and does what BigQuery would do with the bucket: an ``EXPORT DATA`` query job writes the held
table's rows as Parquet to the URI the statement names; a load job reads the Parquet files
under its ``sourceUris`` into the destination table. GCS cannot run here, so ``gs://<b>/<key>``
is read and written as object ``<key>`` of bucket ``<b>`` on moto's S3 server (the store the
other warehouse tests use) — the double's stand-in for GCS, not dvt's code: dvt only names the
``gs://`` URIs. Tables are an in-memory catalogue (create, rename, drop, insert-select).
"""

from __future__ import annotations

import fnmatch
import io
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_JOBS = re.compile(r"^/bigquery/v2/projects/(?P<p>[^/]+)/jobs$")
_JOB = re.compile(r"^/bigquery/v2/projects/(?P<p>[^/]+)/(?:jobs|queries)/(?P<id>[^/?]+)")
_TABLE = re.compile(r"^/bigquery/v2/projects/(?P<p>[^/]+)/datasets/(?P<d>[^/]+)/tables/"
                    r"(?P<t>[^/?]+)")
_EXPORT = re.compile(r"^EXPORT DATA OPTIONS \(uri = '(?P<uri>[^']+)', format = 'PARQUET', "
                     r"overwrite = true\) AS (?P<select>.+)$", re.S)
_FROM = re.compile(r"FROM `?(?P<d>[^`.\s]+)`?\.`?(?P<t>[^`\s]+?)`?(?:\s|$)")


def _bare(name: str) -> str:
    return name.split(".")[-1].strip("`\"")


@dataclass
class BigQueryDouble:
    s3_endpoint: str
    s3_keys: tuple[str, str]
    region: str
    # table -> {"parquet": path, "schema": [{"name", "type", ...}]}
    held: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> BigQueryDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                double.requests.append({"method": method, "path": self.path, "body": body,
                                        "authorization": self.headers.get("Authorization")})
                try:
                    status, answer = double.answer(method, self.path, body)
                except Exception as exc:  # noqa: BLE001 - a BigQuery error answer
                    status, answer = 400, {"error": {"code": 400, "message": str(exc),
                                                     "errors": [{"reason": "invalidQuery",
                                                                 "message": str(exc)}]}}
                self._answer(status, answer)

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- what the test reads back -------------------------------------------------------------
    def job_bodies(self) -> list[dict[str, Any]]:
        """The job resources the client inserted, in order."""
        return [r["body"] for r in self.requests if r["method"] == "POST"
                and _JOBS.match(r["path"].split("?")[0])]

    # -- the API --------------------------------------------------------------------------------
    def answer(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        bare_path = path.split("?")[0]
        if method == "POST" and (m := _JOBS.match(bare_path)):
            return 200, self._insert(m.group("p"), body)
        if method == "GET" and (m := _JOB.match(bare_path)):
            job = self.jobs[m.group("id")]
            if "/queries/" in bare_path:
                rows = job.get("_rows", [])
                return 200, {"kind": "bigquery#getQueryResultsResponse", "jobComplete": True,
                             "jobReference": job["jobReference"],
                             "schema": job.get("_schema", {"fields": []}),
                             "rows": rows, "totalRows": str(len(rows))}
            return 200, {k: v for k, v in job.items() if not k.startswith("_")}
        if method == "GET" and (m := _TABLE.match(bare_path)):
            table = self.tables.get(m.group("t"))
            if table is None:
                return 404, {"error": {"code": 404, "message": f"Not found: Table "
                                       f"{m.group('p')}:{m.group('d')}.{m.group('t')}",
                                       "errors": [{"reason": "notFound"}]}}
            return 200, {"kind": "bigquery#table", "type": "TABLE", "tableReference": {
                "projectId": m.group("p"), "datasetId": m.group("d"),
                "tableId": m.group("t")}, "schema": {"fields": [
                    {"name": c, "type": "STRING"} for c in table["columns"]]}}
        return 404, {"error": {"code": 404, "message": f"the double has no {method} {path}"}}

    def _insert(self, project: str, job: dict[str, Any]) -> dict[str, Any]:
        config = job["configuration"]
        ref = {"projectId": project, "jobId": job["jobReference"]["jobId"],
               "location": job["jobReference"].get("location") or "US"}
        done: dict[str, Any] = {"kind": "bigquery#job", "id": f"{project}:US.{ref['jobId']}",
                                "jobReference": ref, "configuration": config,
                                "status": {"state": "DONE"}, "statistics": {}}
        if "load" in config:
            self._load(config["load"])
        elif config.get("dryRun"):
            schema = {"fields": self._held(config["query"]["query"])["schema"]}
            done["statistics"] = {"query": {"schema": schema, "totalBytesProcessed": "0"}}
        else:
            self._run(config["query"]["query"], done)
        self.jobs[ref["jobId"]] = done
        return {k: v for k, v in done.items() if not k.startswith("_")}

    def _held(self, select: str) -> dict[str, Any]:
        m = _FROM.search(select)
        if m is None or m.group("t") not in self.held:
            raise ValueError(f"the double holds no table for: {select[:200]}")
        return self.held[m.group("t")]

    def _run(self, sql: str, job: dict[str, Any]) -> None:
        if (m := _EXPORT.match(sql)) is not None:
            self._export(m.group("uri"), m.group("select"))
            return
        if sql.startswith("BEGIN TRANSACTION;\n") and sql.endswith(";\nCOMMIT TRANSACTION;"):
            for statement in sql[len("BEGIN TRANSACTION;\n"):-len(";\nCOMMIT TRANSACTION;")] \
                    .split(";\n"):
                self._run(statement, job)
            return
        if (m := re.match(r"^CREATE TABLE (\S+) \((.*)\)$", sql, re.S)) is not None:
            self.tables[_bare(m.group(1))] = {"rows": [], "columns": [], "ddl": sql}
        elif (m := re.match(r"^CREATE OR REPLACE TABLE (\S+) COPY (\S+)$", sql)) is not None:
            self.tables[_bare(m.group(1))] = dict(self.tables[_bare(m.group(2))])
        elif (m := re.match(r"^ALTER TABLE (\S+) RENAME TO (\S+)$", sql)) is not None:
            self.tables[_bare(m.group(2))] = self.tables.pop(_bare(m.group(1)))
        elif (m := re.match(r"^DROP TABLE (?:IF EXISTS )?(\S+)$", sql)) is not None:
            self.tables.pop(_bare(m.group(1)), None)
        elif (m := re.match(r"^INSERT INTO (\S+) \(.*\) SELECT .* FROM (\S+)$", sql,
                            re.S)) is not None:
            target = self.tables[_bare(m.group(1))]
            target["rows"] = target["rows"] + self.tables[_bare(m.group(2))]["rows"]
        elif sql.startswith("SELECT"):
            job["_rows"], job["_schema"] = [], {"fields": [{"name": "n", "type": "INT64"}]}
        else:
            raise ValueError(f"the double does not know this statement: {sql[:200]}")

    # -- what BigQuery does with the bucket (GCS played by moto's S3) ---------------------------
    def _s3(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.s3_endpoint, region_name=self.region,
                            aws_access_key_id=self.s3_keys[0],
                            aws_secret_access_key=self.s3_keys[1])

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        assert uri.startswith("gs://"), uri
        bucket, _, key = uri[len("gs://"):].partition("/")
        return bucket, key

    def _export(self, uri: str, select: str) -> None:
        import pyarrow.parquet as pq

        bucket, key = self._split(uri)
        out = io.BytesIO()
        pq.write_table(pq.read_table(self._held(select)["parquet"]), out)
        # BigQuery replaces the one `*` by a 12-digit file number
        self._s3().put_object(Bucket=bucket, Key=key.replace("*", "000000000000"),
                              Body=out.getvalue())

    def _load(self, load: dict[str, Any]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert load["sourceFormat"] == "PARQUET", load
        client = self._s3()
        parts = []
        for uri in load["sourceUris"]:
            bucket, pattern = self._split(uri)
            prefix = pattern.split("*", 1)[0]
            for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
                if fnmatch.fnmatchcase(o["Key"], pattern):
                    body = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                    parts.append(pq.read_table(io.BytesIO(body)))
        table = self.tables.setdefault(load["destinationTable"]["tableId"],
                                       {"rows": [], "columns": []})
        data = pa.concat_tables(parts) if parts else pa.table({})
        table.update(rows=table["rows"] + data.to_pylist(), columns=data.column_names,
                     parquet_types=[str(t) for t in data.schema.types], files=len(parts))
