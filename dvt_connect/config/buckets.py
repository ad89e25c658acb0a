"""Staging buckets from ``buckets.yml``: strict, typed, one class per bucket type.

Unlike ``profiles.yml`` (a dbt user's file, loaded as it is), ``buckets.yml`` is ours: an unknown
key is a typo and an error. Every rule of the origin design's validation table is enforced here;
ambient credentials (instance profile, application default credentials) are allowed and named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from dvt_connect import secrets
from dvt_connect.errors import ConfigError, NotFoundError

_AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


@dataclass(frozen=True)
class Bucket:
    """Base of every staging bucket type."""

    type_name: ClassVar[str] = ""
    required: ClassVar[tuple[str, ...]] = ()
    secret_fields: ClassVar[tuple[str, ...]] = ()

    name: str
    source_file: Path
    prefix: str = ""

    @property
    def type(self) -> str:
        return self.type_name

    def warehouse_uri(self, path: str = "") -> str:
        """The URI a warehouse's COPY/UNLOAD/export statement expects."""
        raise NotImplementedError  # pragma: no cover - abstract

    def spark_path(self, path: str = "") -> str:
        """The path Spark's Hadoop filesystem reads and writes."""
        raise NotImplementedError  # pragma: no cover - abstract

    def hadoop_conf(self) -> dict[str, str]:
        """``spark.hadoop.*`` settings for this bucket's credentials. They are set on the running
        context's Hadoop configuration (:mod:`dvt_connect.transfer.credentials`), never given to
        the session builder, whose settings are the JVM's command line."""
        return {}

    def credential_method(self) -> str:
        """How this bucket authenticates, in words; never the secret."""
        return "none"

    @property
    def location(self) -> str:
        return self.warehouse_uri()

    def display(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"type": self.type, "location": self.location,
                                 "credentials": self.credential_method()}
        return shown


@dataclass(frozen=True)
class S3Bucket(Bucket):
    type_name: ClassVar[str] = "s3"
    required: ClassVar[tuple[str, ...]] = ("bucket", "region")
    secret_fields: ClassVar[tuple[str, ...]] = ("aws_secret_access_key", "aws_session_token")

    bucket: str = ""
    region: str = ""
    endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    aws_profile: str | None = None
    role_arn: str | None = None

    def warehouse_uri(self, path: str = "") -> str:
        return "s3://" + _join(self.bucket, self.prefix, path)

    def spark_path(self, path: str = "") -> str:
        return "s3a://" + _join(self.bucket, self.prefix, path)

    def hadoop_conf(self) -> dict[str, str]:
        # per-bucket keys, so several buckets with different credentials can coexist
        base = f"spark.hadoop.fs.s3a.bucket.{self.bucket}."
        conf = {base + "endpoint.region": self.region}
        if self.endpoint_url:
            conf[base + "endpoint"] = self.endpoint_url
            conf[base + "path.style.access"] = "true"
        key_provider = None
        if self.aws_access_key_id and self.aws_secret_access_key:
            conf[base + "access.key"] = self.aws_access_key_id
            conf[base + "secret.key"] = self.aws_secret_access_key
            if self.aws_session_token:
                conf[base + "session.token"] = self.aws_session_token
                key_provider = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
            else:
                key_provider = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        elif self.aws_profile:
            key_provider = "software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider"
        if self.role_arn:
            conf[base + "aws.credentials.provider"] = (
                "org.apache.hadoop.fs.s3a.auth.AssumedRoleCredentialProvider"
            )
            conf[base + "assumed.role.arn"] = self.role_arn
            if key_provider:
                conf[base + "assumed.role.credentials.provider"] = key_provider
        elif key_provider:
            conf[base + "aws.credentials.provider"] = key_provider
        return conf

    def credential_method(self) -> str:
        parts = []
        if self.aws_access_key_id:
            parts.append("access keys" + (" + session token" if self.aws_session_token else ""))
        elif self.aws_profile:
            parts.append(f"AWS profile `{self.aws_profile}`")
        if self.role_arn:
            parts.append(f"assume role {self.role_arn}")
        if not parts:
            return "ambient (environment, instance profile or default AWS chain)"
        return ", then ".join(parts)

    def validate(self, fail: Any) -> None:
        if not _AWS_REGION.match(self.region):
            raise fail(f"`{self.region}` is not a valid AWS region (e.g. us-east-1).", "region")
        if bool(self.aws_access_key_id) != bool(self.aws_secret_access_key):
            raise fail(
                "`aws_access_key_id` and `aws_secret_access_key` must be given together.",
                "aws_secret_access_key" if self.aws_access_key_id else "aws_access_key_id",
            )
        if self.role_arn and not self.role_arn.startswith("arn:"):
            raise fail(f"`role_arn` must be an ARN (arn:aws:iam::...), not `{self.role_arn}`.",
                       "role_arn")


@dataclass(frozen=True)
class GCSBucket(Bucket):
    type_name: ClassVar[str] = "gcs"
    required: ClassVar[tuple[str, ...]] = ("bucket", "project")
    secret_fields: ClassVar[tuple[str, ...]] = ("credentials_json",)

    bucket: str = ""
    project: str = ""
    credentials_path: str | None = None
    credentials_json: str | None = field(default=None, repr=False)

    def warehouse_uri(self, path: str = "") -> str:
        return "gs://" + _join(self.bucket, self.prefix, path)

    def spark_path(self, path: str = "") -> str:
        return self.warehouse_uri(path)

    def hadoop_conf(self) -> dict[str, str]:
        conf = {"spark.hadoop.fs.gs.project.id": self.project}
        if self.credentials_path:
            conf["spark.hadoop.fs.gs.auth.type"] = "SERVICE_ACCOUNT_JSON_KEYFILE"
            conf["spark.hadoop.fs.gs.auth.service.account.json.keyfile"] = str(
                Path(self.credentials_path).expanduser()
            )
        elif self.credentials_json:
            key = json.loads(self.credentials_json)
            conf["spark.hadoop.fs.gs.auth.type"] = "SERVICE_ACCOUNT_JSON_KEYFILE"
            conf["spark.hadoop.fs.gs.auth.service.account.email"] = key["client_email"]
            conf["spark.hadoop.fs.gs.auth.service.account.private.key.id"] = key["private_key_id"]
            conf["spark.hadoop.fs.gs.auth.service.account.private.key"] = key["private_key"]
        else:
            conf["spark.hadoop.fs.gs.auth.type"] = "APPLICATION_DEFAULT"
        return conf

    def credential_method(self) -> str:
        if self.credentials_path:
            return f"service-account key file {self.credentials_path}"
        if self.credentials_json:
            return "inline service-account JSON"
        return "ambient (application default credentials)"

    def validate(self, fail: Any) -> None:
        if self.credentials_json:
            try:
                key = json.loads(self.credentials_json)
            except json.JSONDecodeError:
                raise fail("`credentials_json` is not valid JSON.", "credentials_json") from None
            if not isinstance(key, dict):
                raise fail("`credentials_json` must be a JSON object.", "credentials_json")
            secrets.register(key.get("private_key", ""))
            missing = [k for k in ("client_email", "private_key_id", "private_key")
                       if not key.get(k)]
            if missing:
                raise fail("`credentials_json` is missing " + ", ".join(missing) + ".",
                           "credentials_json")


@dataclass(frozen=True)
class AzureBucket(Bucket):
    type_name: ClassVar[str] = "azure"
    required: ClassVar[tuple[str, ...]] = ("storage_account", "container")
    secret_fields: ClassVar[tuple[str, ...]] = ("account_key", "sas_token", "connection_string")

    storage_account: str = ""
    container: str = ""
    account_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)
    connection_string: str | None = field(default=None, repr=False)

    def warehouse_uri(self, path: str = "") -> str:
        return f"azure://{self.storage_account}.blob.core.windows.net/" + _join(
            self.container, self.prefix, path
        )

    def spark_path(self, path: str = "") -> str:
        return f"abfss://{self.container}@{self.storage_account}.dfs.core.windows.net/" + _join(
            self.prefix, path
        )

    def _credentials(self) -> tuple[str | None, str | None]:
        """(account key, SAS token), taking them out of a connection string when given."""
        key, sas = self.account_key, self.sas_token
        if self.connection_string:
            parts = dict(
                p.split("=", 1) for p in self.connection_string.split(";") if "=" in p
            )
            key = key or parts.get("AccountKey")
            sas = sas or parts.get("SharedAccessSignature")
        return key, sas

    @property
    def sas(self) -> str | None:
        """The SAS token (from ``sas_token`` or the connection string), without its ``?``: what
        a warehouse's load from the container is given (Snowflake's AZURE_SAS_TOKEN)."""
        sas = self._credentials()[1]
        return sas.lstrip("?") if sas else None

    def hadoop_conf(self) -> dict[str, str]:
        host = f"{self.storage_account}.dfs.core.windows.net"
        key, sas = self._credentials()
        if key:
            return {
                f"spark.hadoop.fs.azure.account.auth.type.{host}": "SharedKey",
                f"spark.hadoop.fs.azure.account.key.{host}": key,
            }
        assert sas is not None  # validate() guarantees one of the two
        return {
            f"spark.hadoop.fs.azure.account.auth.type.{host}": "SAS",
            f"spark.hadoop.fs.azure.sas.fixed.token.{host}": sas.lstrip("?"),
        }

    def credential_method(self) -> str:
        if self.account_key:
            return "account key"
        if self.sas_token:
            return "SAS token"
        return "connection string"

    def validate(self, fail: Any) -> None:
        if not (self.account_key or self.sas_token or self.connection_string):
            raise fail(
                "Azure bucket requires one of: `account_key`, `sas_token`, `connection_string`.",
                "account_key",
            )
        if self.connection_string and not any(self._credentials()):
            raise fail("`connection_string` has neither AccountKey nor SharedAccessSignature.",
                       "connection_string")


@dataclass(frozen=True)
class LocalBucket(Bucket):
    """A local directory: for development, tests and on-premise staging on one machine."""

    type_name: ClassVar[str] = "local"
    required: ClassVar[tuple[str, ...]] = ("path",)

    path: str = ""

    @property
    def root(self) -> Path:
        return Path(self.path).expanduser().resolve()

    def warehouse_uri(self, path: str = "") -> str:
        return self.spark_path(path)

    def spark_path(self, path: str = "") -> str:
        return "file://" + "/" + _join(str(self.root), self.prefix, path)

    def local_path(self, path: str = "") -> Path:
        return Path("/" + _join(str(self.root), self.prefix, path))

    def credential_method(self) -> str:
        return "local filesystem"

    def validate(self, fail: Any) -> None:
        if not Path(self.path).expanduser().is_absolute() and not self.path.startswith("~"):
            raise fail(f"`path` must be an absolute folder, not `{self.path}`.", "path")


BUCKET_TYPES: Mapping[str, type[Bucket]] = {
    cls.type_name: cls for cls in (S3Bucket, GCSBucket, AzureBucket, LocalBucket)
}


def parse_bucket(name: str, data: Any, *, path: Path, key: str) -> Bucket:
    """Build and validate one bucket output; any problem is a ConfigError naming file and key."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"bucket output `{name}` must be a mapping with a `type`, not "
            f"{type(data).__name__ if data is not None else 'nothing'}.",
            path=path, key=key,
        )

    def fail(message: str, field_key: str) -> ConfigError:
        return ConfigError(message, path=path, key=f"{key}.{field_key}")

    raw_type = data.get("type")
    if not raw_type:
        raise fail("missing required field `type`; valid: " + ", ".join(BUCKET_TYPES) + ".",
                   "type")
    cls = BUCKET_TYPES.get(str(raw_type).lower())
    if cls is None:
        raise NotFoundError("bucket type", str(raw_type), BUCKET_TYPES, path=path,
                            key=f"{key}.type")
    allowed = {f.name for f in fields(cls)} - {"name", "source_file"}
    unknown = sorted(set(data) - allowed - {"type"})
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], allowed, n=1)
        raise ConfigError(
            f"unknown key `{unknown[0]}` for a {cls.type_name} bucket; valid keys: "
            + ", ".join(sorted(allowed)) + ".",
            path=path, key=f"{key}.{unknown[0]}",
            hint=f"Did you mean `{close[0]}`?" if close else None,
        )
    values: dict[str, Any] = {}
    for k, v in data.items():
        if k == "type":
            continue
        if v is not None and not isinstance(v, (str, int)) or isinstance(v, bool):
            raise fail(f"`{k}` must be a string, not {type(v).__name__}.", k)
        values[k] = None if v is None else str(v)
    missing = [f for f in cls.required if not values.get(f)]
    if missing:
        raise fail(
            f"{cls.type_name} bucket `{name}` is missing required field(s): "
            + ", ".join(f"`{m}`" for m in missing) + ".",
            missing[0],
        )
    for secret_field in cls.secret_fields:
        if values.get(secret_field):
            secrets.register(values[secret_field])
    values["prefix"] = values.get("prefix") or ""
    bucket = cls(name=name, source_file=path, **values)
    validate = getattr(bucket, "validate", None)
    if validate is not None:
        validate(fail)
    return bucket
