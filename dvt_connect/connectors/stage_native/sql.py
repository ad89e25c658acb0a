"""The stage-native statements, rendered from a warehouse's :class:`StageFacts` (pure).

Every statement is rendered twice: once with the bucket's credentials, for the warehouse only,
and once with each credential replaced by ``****``, for plans, notes, logs and stats. The
credential values are registered with :mod:`dvt_connect.secrets` as well, so an error message
that echoes the statement is masked too.
"""

from __future__ import annotations

from dataclasses import dataclass

from dvt_connect import secrets
from dvt_connect.config.buckets import Bucket
from dvt_connect.config.profiles import Connection
from dvt_connect.databases.spec import StageFacts
from dvt_connect.errors import ConfigError

# output setting naming a warehouse-side storage integration (Snowflake's STORAGE_INTEGRATION)
INTEGRATION_KEY = "storage_integration"


@dataclass(frozen=True)
class Statement:
    """One statement: ``sql`` goes to the warehouse, ``shown`` everywhere else."""

    sql: str
    shown: str


@dataclass(frozen=True)
class Auth:
    """How the warehouse reaches the bucket: the clause with and without its secrets."""

    clause: str
    shown: str
    how: str


def warehouse_uri(stage: StageFacts, bucket: Bucket, spark_path: str) -> str:
    """The folder Spark names ``s3a://b/p/`` as the warehouse spells it (``s3://b/p/``;
    ``abfss://c@a.dfs.core.windows.net/p/`` is ``azure://a.blob.core.windows.net/c/p/``)."""
    scheme = stage.schemes.get(bucket.type)
    if scheme is None:
        raise ConfigError(f"bucket `{bucket.name}` is {bucket.type}; this warehouse unloads to "
                          f"{' or '.join(stage.bucket_types)} buckets.",
                          path=bucket.source_file, key=bucket.name)
    base = bucket.spark_path().rstrip("/")
    if not spark_path.startswith(base):
        raise ValueError(f"{spark_path} is not in bucket `{bucket.name}` ({base})")
    rest = bucket.warehouse_uri(spark_path[len(base):].strip("/")).split("://", 1)[1]
    return f"{scheme}://{rest.rstrip('/')}/"


def auth_clause(stage: StageFacts, bucket: Bucket, connection: Connection) -> Auth:
    """The one way the warehouse reaches the bucket: the output's storage integration, the
    bucket's ``role_arn``, or the bucket's keys, in that order; none where the warehouse uses
    its own identity (BigQuery)."""
    integration = connection.extra.get(INTEGRATION_KEY)
    if integration and stage.auth_integration:
        text = stage.auth_integration.format(integration=integration)
        return Auth(text, text, f"through storage integration {integration}")
    role = getattr(bucket, "role_arn", None)
    if role and stage.auth_role:
        text = stage.auth_role.format(role=role)
        return Auth(text, text, f"as IAM role {role}")
    key_id = getattr(bucket, "aws_access_key_id", None)
    secret = getattr(bucket, "aws_secret_access_key", None)
    if key_id and secret and stage.auth_keys:
        token = getattr(bucket, "aws_session_token", None)
        secrets.register([key_id, secret, token or ""])

        def render(k: str, s: str, t: str | None) -> str:
            clause = stage.auth_token.format(token=t) if t and stage.auth_token else ""
            return stage.auth_keys.format(key_id=k, secret=s, token_clause=clause)  # type: ignore[union-attr]

        mask = secrets.MASK
        return Auth(render(key_id, secret, token), render(mask, mask, mask if token else None),
                    f"with bucket `{bucket.name}`'s keys" + (" and session token" if token
                                                               else ""))
    sas = getattr(bucket, "sas", None)
    if sas and stage.auth_sas:
        secrets.register([sas])
        return Auth(stage.auth_sas.format(sas=sas), stage.auth_sas.format(sas=secrets.MASK),
                    f"with bucket `{bucket.name}`'s SAS token")
    if not (stage.auth_integration or stage.auth_role or stage.auth_keys or stage.auth_sas):
        return Auth("", "", "as the warehouse's own identity")
    # the ways this bucket's type has (a role or keys are an S3 bucket's, a SAS an Azure one's)
    ways = [w for w, ok in ((f"`{INTEGRATION_KEY}:` on the output", stage.auth_integration),
                            ("`role_arn` on the bucket",
                             stage.auth_role and hasattr(bucket, "role_arn")),
                            ("the bucket's `aws_access_key_id`/`aws_secret_access_key`",
                             stage.auth_keys and hasattr(bucket, "aws_access_key_id")),
                            ("the bucket's `sas_token`",
                             stage.auth_sas and hasattr(bucket, "sas"))) if ok]
    raise ConfigError(
        f"the warehouse behind `{connection.name}` cannot reach bucket `{bucket.name}`: it "
        "needs " + " or ".join(ways) + ".",
        path=bucket.source_file, key=bucket.name,
        hint="Add one of them, or choose the JDBC path with --connector jdbc.")


def literal(text: str) -> str:
    """A SQL string literal (quotes doubled), as UNLOAD ('...') takes its query."""
    return "'" + text.replace("'", "''") + "'"


def _render(template: str, stage: StageFacts, uri: str, auth: Auth, **fields: str) -> Statement:
    files = stage.files.format(uri=uri)
    both = [template.format(uri=uri, files=files, auth=a, **fields)
            for a in (auth.clause, auth.shown)]
    return Statement(both[0], both[1])


def unload_statement(stage: StageFacts, select: str, uri: str, auth: Auth) -> Statement:
    """The warehouse writes ``select``'s rows as Parquet into ``uri``."""
    return _render(stage.unload, stage, uri, auth, select=select, select_literal=literal(select))


def load_statement(stage: StageFacts, table_sql: str, uri: str, auth: Auth) -> Statement:
    """The warehouse loads the Parquet files under ``uri`` into ``table_sql``."""
    return _render(stage.load, stage, uri, auth, table=table_sql)
