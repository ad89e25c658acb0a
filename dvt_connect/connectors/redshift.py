"""Redshift through the community spark-redshift connector
(``io.github.spark_redshift_community.spark.redshift``).

How the data moves (checked against the connector, not the origin design):

* Reads: Redshift UNLOADs the query's rows as Parquet (``unload_s3_format``) into ``tempdir`` on
  S3, and Spark reads those files.
* Writes: Spark writes the rows under ``tempdir`` (``tempformat``; CSV GZIP here, because the
  connector's default AVRO needs the separate spark-avro jar and the README notes Redshift loads
  CSV faster) and Redshift COPYs them in. Overwrites run in one transaction with a staging table
  (``usestagingtable``, default true and deprecated; it is left at that default, never false).
* The connector "does not clean up the temporary files that it creates in S3" (README): every
  transfer gets its own ``dvt/<run id>/`` under the bucket and deletes it afterwards.
* Redshift reaches S3 with exactly one of ``aws_iam_role`` (the bucket's ``role_arn``),
  ``temporary_aws_*`` (the bucket's session credentials) or ``forward_spark_s3_credentials``
  (what the AWS default chain gives); the connector refuses more than one, and nothing is ever
  passed as None.

Option sources: R = spark-redshift-community/spark-redshift README "Parameters" table;
P = ``Parameters.scala`` (DEFAULT_PARAMETERS, validateUserParameters, MergedParameters).
"""

from __future__ import annotations

from dvt_connect.config.buckets import S3Bucket
from dvt_connect.connectors.base import ConnectorType, ReadRequest, WriteRequest
from dvt_connect.connectors.native import NativeConnector, clean_options, select_sql
from dvt_connect.errors import ConfigError
from dvt_connect.secrets import redact_url

_URL_CREDENTIALS = ("user=", "password=", "DbUser=")


class RedshiftNativeConnector(NativeConnector):
    connector_type = ConnectorType.REDSHIFT_NATIVE
    secret_options = frozenset({"password", "temporary_aws_access_key_id",
                                "temporary_aws_secret_access_key", "temporary_aws_session_token"})
    error_packages = ("com.amazon.redshift", "io.github.spark_redshift_community",
                      "com.amazonaws", "software.amazon.awssdk")
    # connection lost, serialization conflict (Redshift's 1023), out of resources, restarts
    transient_sqlstates = ("08", "40001", "53", "57P01", "57P02", "57P03")

    def is_secret(self, name: str, value: str) -> bool:
        # a `url:` with credentials in it stays out of the plan as a whole
        if name == "url" and any(k in value for k in _URL_CREDENTIALS):
            return True
        return super().is_secret(name, value)

    def base_options(self) -> dict[str, str]:
        c = self.connection
        if c.method == "iam":
            raise ConfigError(
                "the Spark connector for Redshift is set up here with a database user and "
                "password; `method: iam` is not supported by dvt-connect's native path.",
                path=c.source_file, key=f"{c.name}.method",
                hint="Use `--connector jdbc`, or a database user for this output.",
            )
        url = c.jdbc_url()
        options: dict[str, object] = {
            "url": url,  # R/P: url (jdbc:redshift://host:port/database)
            "jdbcdriver": c.jdbc_driver(),  # R/P: jdbcdriver (the jar comes from spark.jars)
        }
        if not any(k in url for k in _URL_CREDENTIALS):
            # R/P: user + password, only when the url carries no credentials
            options["user"] = c.user
            options["password"] = c.password
        if c.sslmode:
            options["jdbc.sslmode"] = c.sslmode  # R: jdbc.* (passed to the JDBC driver)
        for key, value in c.properties.items():
            options[f"jdbc.{key}"] = value  # R: jdbc.*
        options.update(self._s3_auth())
        return clean_options(options)

    def _s3_auth(self) -> dict[str, object]:
        """How Redshift's UNLOAD/COPY reach the bucket: exactly one mechanism (P requires it)."""
        bucket = self.bucket
        if isinstance(bucket, S3Bucket):
            region = {"tempdir_region": bucket.region}  # R/P: tempdir_region
            if bucket.role_arn:
                # R/P: aws_iam_role, the role Redshift assumes for UNLOAD/COPY (NOTES #9: the
                # bucket's role_arn, which Spark's S3A assumes too)
                return {"aws_iam_role": bucket.role_arn, **region}
            if (bucket.aws_access_key_id and bucket.aws_secret_access_key
                    and bucket.aws_session_token):
                return {
                    # R/P: temporary_aws_access_key_id / _secret_access_key / _session_token
                    # (all three, or the connector ignores them)
                    "temporary_aws_access_key_id": bucket.aws_access_key_id,
                    "temporary_aws_secret_access_key": bucket.aws_secret_access_key,
                    "temporary_aws_session_token": bucket.aws_session_token,
                    **region,
                }
            # R/P: forward_spark_s3_credentials: forwards what the AWS default chain finds
            return {"forward_spark_s3_credentials": "true", **region}
        return {"forward_spark_s3_credentials": "true"}

    def _auth_note(self) -> list[str]:
        bucket = self.bucket
        if not isinstance(bucket, S3Bucket):
            return []
        if bucket.role_arn:
            return [f"Redshift reaches the bucket as IAM role {bucket.role_arn} (aws_iam_role)"]
        if bucket.aws_session_token:
            return ["Redshift reaches the bucket with the bucket's session credentials"]
        note = ("Redshift reaches the bucket with the credentials of the AWS default chain "
                "(forward_spark_s3_credentials)")
        if bucket.aws_access_key_id:
            note += ("; the connector does not read the bucket's keys from buckets.yml, so set "
                     "`role_arn`, or make the same keys available to the default chain")
        return [note]

    def read_spec(self, request: ReadRequest) -> tuple[dict[str, str], str, tuple[str, ...]]:
        options = self.base_options()
        if request.query is not None:
            sql = request.query
            options["query"] = sql  # R/P: query
        elif request.columns or request.where:
            sql = select_sql(self.connection, request)
            options["query"] = sql  # R/P: query
        else:
            assert request.table is not None
            sql = request.table.sql(self.facts)
            options["dbtable"] = sql  # R/P: dbtable (parsed as an escaped, quoted name)
        tempdir = self.staging_path()
        options["tempdir"] = tempdir  # R/P: tempdir (required; s3a:// path of the bucket)
        options["unload_s3_format"] = "PARQUET"  # R/P: unload_s3_format (default PARQUET)
        notes = [f"Redshift UNLOADs the rows as Parquet into {redact_url(tempdir)}, which is "
                 "deleted after the transfer"] + self._auth_note()
        return clean_options(options), sql, tuple(notes)

    def write_spec(self, request: WriteRequest) -> tuple[dict[str, str], str, tuple[str, ...]]:
        assert request.table is not None
        options = self.base_options()
        table = request.table.sql(self.facts)
        options["dbtable"] = table  # R/P: dbtable
        options["tempdir"] = self.staging_path()  # R/P: tempdir
        options["tempformat"] = "CSV GZIP"  # R/P: tempformat (AVRO, CSV, CSV GZIP, PARQUET)
        options["include_column_list"] = "true"  # R/P: include_column_list (COPY by name)
        notes = []
        if request.mode == "overwrite":
            notes.append("overwrite replaces the table in one transaction through a staging "
                         "table (usestagingtable, left at its default true)")
        notes += self._auth_note()
        port = self.connection.port or self.facts.default_port
        where = f"{self.connection.host}:{port}/{self.connection.database} {table}"
        return clean_options(options), where, tuple(notes)

    def estimate_rows(self, request: ReadRequest) -> int | None:
        """``svv_table_info.tbl_rows`` through the connector's `query` option (its UNLOAD stages
        through the bucket like any read; that folder is deleted at once)."""
        template = self.facts.catalog.row_estimate
        if request.table is None or template is None or self.bucket is None:
            return None
        schema = (request.table.schema or self.connection.schema
                  or self.facts.catalog.default_schema or "public")
        sql = template.format(schema=self.facts.quote_literal(schema),
                              table=self.facts.quote_literal(request.table.name))
        with self.staging() as tempdir:
            options = self.base_options()
            options["query"] = sql  # R/P: query
            options["tempdir"] = tempdir  # R/P: tempdir
            return self.as_estimate(self.catalog_scalar(options))
