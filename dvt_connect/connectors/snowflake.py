"""Snowflake through spark-snowflake (``net.snowflake.spark.snowflake``).

How the data moves (checked against the connector, not the origin design):

* Reads run the SELECT over JDBC and hand the Arrow result chunks to the executors in parallel
  (``use_copy_unload`` defaults to false); no COPY INTO a bucket happens.
* Writes PUT the rows into a Snowflake-managed *internal* stage and COPY them in. External
  staging through ``tempdir`` exists but the connector logs it as deprecated ("Unset your
  'tempDir' parameter to use the Snowflake internal stage instead") and it takes only
  s3a/wasb paths, not GCS; Snowflake's docs recommend internal transfer unless a transfer runs
  longer than 36 hours. So the configured bucket is not used, and nothing is staged to clean up.
* Overwrites load into a staging table that replaces the target only when the load succeeded
  (``usestagingtable``, on by default, set explicitly here).

Option sources: S = snowflakedb/spark-snowflake ``Parameters.scala`` (KNOWN_PARAMETERS);
D = docs.snowflake.com/en/user-guide/spark-connector-use ("Setting configuration options").
"""

from __future__ import annotations

import re
from pathlib import Path

from dvt_connect import secrets
from dvt_connect.connectors.base import ConnectorType, ReadRequest, WriteRequest
from dvt_connect.connectors.native import NativeConnector, clean_options, select_sql
from dvt_connect.databases.snowflake import SnowflakeConnection
from dvt_connect.errors import ConfigError

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")


class SnowflakeNativeConnector(NativeConnector):
    connector_type = ConnectorType.SNOWFLAKE_NATIVE
    secret_options = frozenset({"sfPassword", "pem_private_key", "sfToken"})
    error_packages = ("net.snowflake.",)

    def base_options(self) -> dict[str, str]:
        c = self.connection
        if not c.database:
            raise ConfigError(
                "the Spark connector for Snowflake needs `database` (sfDatabase).",
                path=c.source_file, key=f"{c.name}.database",
            )
        options: dict[str, object] = {
            "sfURL": snowflake_url(c.account or ""),  # S: sfurl; D: sfURL (host, no https://)
            "sfUser": c.user,  # S: sfuser; D: sfUser
            "sfDatabase": c.database,  # S: sfdatabase; D: sfDatabase
            "sfSchema": c.schema,  # S: sfschema; D: sfSchema (connector default: public)
            "sfWarehouse": c.warehouse,  # S: sfwarehouse; D: sfWarehouse
            "sfRole": c.role,  # S: sfrole; D: sfRole
        }
        options.update(self._auth())
        return clean_options(options)

    def _auth(self) -> dict[str, object]:
        """Password, key pair or OAuth: the three the connector accepts (mergeParameters
        requires sfPassword, pem_private_key or sfToken)."""
        c = self.connection
        assert isinstance(c, SnowflakeConnection)
        if c.authenticator == "oauth":
            token = c.token
            secrets.register(token)
            # S: sfauthenticator + sftoken ("the authentication mode must be 'oauth'"); D: same
            return {"sfAuthenticator": "oauth", "sfToken": token}
        key_path, key_text = c.private_key_path, c.private_key
        if key_path or key_text:
            if c.private_key_passphrase:
                raise ConfigError(
                    "the Spark connector takes an unencrypted PKCS#8 key (pem_private_key) and "
                    "no passphrase.", path=c.source_file, key=f"{c.name}.private_key_passphrase",
                    hint="Give it the key decrypted (`openssl pkcs8 -topk8 -nocrypt`), e.g. "
                    "through `{{ env_var('...') }}`, or use a password.",
                )
            return {"pem_private_key": self._pem_body(key_path, key_text)}  # S: pem_private_key
        if c.password:
            return {"sfPassword": c.password}  # S: sfpassword; D: sfPassword
        raise ConfigError(
            f"the Spark connector for Snowflake authenticates with a password, a key pair or "
            f"OAuth; `{c.authenticator or 'none'}` is not one of them.",
            path=c.source_file, key=f"{c.name}.authenticator",
            hint="Set `password`, `private_key_path` or `authenticator: oauth` with `token`.",
        )

    def _pem_body(self, key_path: object, key_text: object) -> str:
        """The base64 DER of an unencrypted PKCS#8 key, as pem_private_key expects (the connector
        base64-decodes it into a PKCS8EncodedKeySpec)."""
        c = self.connection
        field = "private_key_path" if key_path else "private_key"
        if key_path:
            path = Path(str(key_path)).expanduser()
            try:
                text = path.read_text()
            except OSError as exc:
                raise ConfigError(f"cannot read the private key {path}: {exc.strerror}.",
                                  path=c.source_file, key=f"{c.name}.{field}") from None
        else:
            text = str(key_text)
        secrets.register(text)
        match = _PEM.search(text)
        kind = match.group(1) if match else "PRIVATE KEY"
        body = "".join((match.group(2) if match else text).split())
        if kind != "PRIVATE KEY" or not body or not _BASE64.match(body):
            what = {"ENCRYPTED PRIVATE KEY": "is encrypted",
                    "RSA PRIVATE KEY": "is PKCS#1, not PKCS#8"}.get(kind, "is not a PEM key")
            raise ConfigError(
                f"the private key {what}; the Spark connector takes an unencrypted PKCS#8 key.",
                path=c.source_file, key=f"{c.name}.{field}",
                hint="Convert it with `openssl pkcs8 -topk8 -nocrypt -in key.pem`.",
            )
        secrets.register(body)
        return body

    def read_spec(self, request: ReadRequest) -> tuple[dict[str, str], str, tuple[str, ...]]:
        options = self.base_options()
        if request.query is not None:
            sql = request.query
            options["query"] = sql  # S: query; D: query
        elif request.columns or request.where:
            sql = select_sql(self.connection, request)
            options["query"] = sql
        else:
            assert request.table is not None
            # names are quoted here: the connector "expects the user to do it" (TableName.scala)
            sql = request.table.sql(self.facts)
            options["dbtable"] = sql  # S: dbtable; D: dbtable
        notes = ["rows come from the query's Arrow result chunks, fetched by the executors in "
                 "parallel (use_copy_unload off)"]
        notes += self._bucket_note()
        return options, sql, tuple(notes)

    def write_spec(self, request: WriteRequest) -> tuple[dict[str, str], str, tuple[str, ...]]:
        assert request.table is not None
        options = self.base_options()
        table = request.table.sql(self.facts)
        options["dbtable"] = table  # S: dbtable; D: dbtable
        # S: usestagingtable (default true): an overwrite loads a new table and replaces the
        # target only after the load succeeded; D: usestagingtable
        options["usestagingtable"] = "on"
        notes = []
        if request.mode == "overwrite":
            notes.append("overwrite loads a staging table and swaps it in (usestagingtable=on): "
                         "a failed write leaves the target as it was")
        notes += self._bucket_note()
        return options, f"{self.connection.location()} {table}", tuple(notes)

    def _bucket_note(self) -> list[str]:
        if self.bucket is None:
            return []
        return [f"bucket `{self.bucket.name}` is not used: spark-snowflake stages writes in a "
                "Snowflake-managed internal stage (its external tempdir staging is deprecated)"]

    def estimate_rows(self, request: ReadRequest) -> int | None:
        """INFORMATION_SCHEMA.TABLES.ROW_COUNT, read through the connector's `query` option."""
        template = self.facts.catalog.row_estimate
        if request.table is None or template is None:
            return None
        schema = (request.table.schema or self.connection.schema
                  or self.facts.catalog.default_schema or "PUBLIC")
        sql = template.format(schema=self.facts.quote_literal(schema),
                              table=self.facts.quote_literal(request.table.name))
        options = self.base_options()
        options["query"] = sql  # S: query
        return self.as_estimate(self.catalog_scalar(options))


def snowflake_url(account: str) -> str:
    """``<account>.snowflakecomputing.com`` from dbt's ``account`` (which may carry a region,
    a scheme or the full host)."""
    host = re.sub(r"^https?://", "", account.strip()).rstrip("/")
    if not host.endswith(".snowflakecomputing.com"):
        host += ".snowflakecomputing.com"
    return host
