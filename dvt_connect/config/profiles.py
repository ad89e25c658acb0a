"""Connections from a dbt-style ``profiles.yml``.

A dbt user's existing file loads unchanged: dbt's field names and aliases are accepted, keys we do
not use are kept (in ``extra``) and ignored. Each output becomes a typed :class:`Connection`
whose adapter facts come from :mod:`dvt_connect.adapters`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvt_connect import secrets
from dvt_connect.adapters import COMMON_SECRET_FIELDS, AdapterFacts, adapter
from dvt_connect.errors import ConfigError, NotFoundError

FILE_FORMATS = ("parquet", "csv", "json", "orc")
BIGQUERY_METHODS = ("oauth", "oauth-secrets", "service-account", "service-account-json")
_COORDINATE = re.compile(r"^[\w.\-]+:[\w.\-]+(:[\w.\-]+){1,3}$")

# Fields every adapter understands, after aliases are applied.
_KNOWN = (
    "host", "port", "database", "schema", "user", "password", "url", "driver", "path",
    "format", "account", "warehouse", "role", "method", "project", "sslmode",
)


@dataclass(frozen=True)
class Connection:
    """One output of a profile: where a table lives and how to reach it."""

    name: str
    type: str
    facts: AdapterFacts
    source_file: Path
    host: str | None = None
    port: int | None = None
    database: str | None = None
    schema: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    url: str | None = None
    driver: str | None = None
    path: str | None = None
    format: str = "parquet"
    account: str | None = None
    warehouse: str | None = None
    role: str | None = None
    method: str | None = None
    project: str | None = None
    sslmode: str | None = None
    packages: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    partition_column: str | None = None
    partitions: int | None = None
    fetch_size: int | None = None
    batch_size: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        # the generated repr would show the URL's and the properties' credentials
        return f"Connection(name={self.name!r}, {self.display()!r})"

    @property
    def is_files(self) -> bool:
        return self.facts.kind == "files"

    @property
    def secret_fields(self) -> frozenset[str]:
        return frozenset(COMMON_SECRET_FIELDS) | frozenset(self.facts.secret_fields)

    def jdbc_url(self) -> str:
        """The JDBC URL for this connection (``url:`` wins; else the adapter's template)."""
        if self.url:
            return self.url
        template = self.facts.url_template
        if template is None:
            raise ConfigError(
                f"adapter `{self.type}` has no JDBC URL template.",
                path=self.source_file,
                key=self.name,
                hint=self.facts.driver_note or "Set `url:` on the output.",
            )
        values = {
            "host": self.host or "localhost",
            "port": self.port or self.facts.default_port or "",
            "database": self.database or "",
            "path": str(Path(self.path).expanduser()) if self.path else "",
            "account": self.account or "",
            "http_path": self.extra.get("http_path", ""),
        }
        return template.format(**values)

    def jdbc_driver(self) -> str | None:
        return self.driver or self.facts.driver_class

    def jdbc_properties(self) -> dict[str, str]:
        """Connection properties for the JDBC driver, including credentials (never print these)."""
        props: dict[str, str] = dict(self.facts.jdbc_properties)
        if self.user:
            props["user"] = self.user
        if self.password is not None:
            props["password"] = self.password
        if self.sslmode and self.type in ("postgres", "redshift"):
            props["sslmode"] = self.sslmode
        if self.account and self.type == "snowflake":
            for key in ("warehouse", "role", "database", "schema"):
                value = getattr(self, key)
                if value:
                    props[key if key != "database" else "db"] = value
        driver = self.jdbc_driver()
        if driver:
            props["driver"] = driver
        props.update(self.properties)
        return props

    def display(self) -> dict[str, Any]:
        """Fields safe to show: secrets masked, URLs stripped of credentials."""
        shown: dict[str, Any] = {"type": self.type}
        for key in ("host", "port", "database", "schema", "user", "path", "format", "account",
                    "warehouse", "role", "method", "project"):
            value = getattr(self, key)
            if value not in (None, "") and not (key == "format" and not self.is_files):
                shown[key] = value
        if self.url:
            shown["url"] = secrets.redact_url(self.url)
        if self.password is not None:
            shown["password"] = secrets.MASK
        if self.packages:
            shown["packages"] = list(self.packages)
        if self.properties:
            shown["properties"] = {
                k: secrets.MASK if k.lower() in self.secret_fields else secrets.redact(v)
                for k, v in self.properties.items()
            }
        return shown

    def location(self) -> str:
        """A one-line description of where this connection points (safe to print)."""
        if self.is_files or self.type in ("sqlite", "duckdb", "derby"):
            return str(self.path)
        if self.url:
            return secrets.redact_url(self.url)
        if self.account:
            return f"{self.account}/{self.database or ''}"
        if self.project:
            return f"{self.project}.{self.schema or ''}"
        port = self.port or self.facts.default_port
        return f"{self.host}:{port}/{self.database or ''}"


def parse_connection(name: str, data: Any, *, path: Path, key: str) -> Connection:
    """Build a Connection from one rendered output mapping; errors name the file and key."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"output `{name}` must be a mapping with a `type`, not {_kind(data)}.",
            path=path,
            key=key,
        )
    raw_type = data.get("type")
    if not raw_type or not isinstance(raw_type, str):
        raise ConfigError("missing required field `type`.", path=path, key=f"{key}.type")
    try:
        facts = adapter(raw_type)
    except NotFoundError as exc:
        raise NotFoundError("adapter type", raw_type, exc.valid, path=path,
                            key=f"{key}.type") from None

    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for field_name, value in data.items():
        if field_name == "type":
            continue
        canonical = facts.aliases.get(field_name, field_name)
        if canonical in _KNOWN:
            # a canonical name written alongside its alias wins
            if canonical in values and field_name != canonical:
                continue
            values[canonical] = value
        else:
            extra[field_name] = value

    def fail(message: str, field_key: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, path=path, key=f"{key}.{field_key}", hint=hint)

    missing = [f for f in facts.required if values.get(f) in (None, "")]
    if missing:
        raise fail(
            f"{facts.name} output `{name}` is missing required field(s): "
            + ", ".join(f"`{m}`" for m in missing) + ".",
            missing[0],
        )

    port = values.get("port")
    if port is not None:
        if isinstance(port, bool) or not str(port).isdigit():
            raise fail(f"`port` must be a whole number, not `{port}`.", "port")
        values["port"] = int(port)
    for text_field in _KNOWN:
        if text_field != "port" and values.get(text_field) is not None:
            values[text_field] = str(values[text_field])

    packages = _string_list(extra.pop("packages", None), fail, "packages")
    for coordinate in packages:
        if not _COORDINATE.match(coordinate):
            raise fail(
                f"`{coordinate}` is not a Maven coordinate.", "packages",
                hint="Write `group:artifact:version` (e.g. `org.postgresql:postgresql:42.7.4`).",
            )
    properties = extra.pop("properties", None) or {}
    if not isinstance(properties, dict):
        raise fail("`properties` must be a mapping of JDBC property names to values.",
                    "properties")
    for prop, prop_value in properties.items():
        if str(prop).lower() in COMMON_SECRET_FIELDS or str(prop).lower() in facts.secret_fields:
            secrets.register(str(prop_value))
    if values.get("url"):
        secrets.register_url(str(values["url"]))

    if facts.kind == "files":
        fmt = str(values.get("format") or "parquet").lower()
        if fmt not in FILE_FORMATS:
            raise fail(f"unknown format `{fmt}`; valid: {', '.join(FILE_FORMATS)}.", "format")
        values["format"] = fmt
    else:
        values.pop("format", None)
    _check_auth(facts, values, extra, fail)

    partition_column = extra.get("partition_column")
    return Connection(
        name=name,
        type=facts.name,
        facts=facts,
        source_file=path,
        packages=tuple(packages),
        properties={str(k): str(v) for k, v in properties.items()},
        partition_column=str(partition_column) if partition_column else None,
        extra=extra,
        partitions=_positive_int(extra.get("partitions"), fail, "partitions"),
        fetch_size=_positive_int(extra.get("fetch_size"), fail, "fetch_size"),
        batch_size=_positive_int(extra.get("batch_size"), fail, "batch_size"),
        **values,
    )


def _check_auth(facts: AdapterFacts, values: dict[str, Any], extra: dict[str, Any],
                fail: Any) -> None:
    """Adapter-specific rules that dbt itself enforces."""
    if facts.name == "snowflake":
        methods = ("password", "private_key_path", "private_key", "authenticator")
        if not any(values.get(m) or extra.get(m) for m in methods):
            raise fail(
                "snowflake needs one way to authenticate: `password`, `private_key_path`, "
                "`private_key` or `authenticator`.", "password",
            )
        if str(extra.get("authenticator", "")).lower() == "oauth" and not extra.get("token"):
            raise fail("`authenticator: oauth` needs a `token`.", "token")
    elif facts.name == "bigquery":
        method = str(values.get("method") or "oauth")
        if method not in BIGQUERY_METHODS:
            raise fail(f"unknown bigquery method `{method}`; valid: "
                       f"{', '.join(BIGQUERY_METHODS)}.", "method")
        if method == "service-account" and not extra.get("keyfile"):
            raise fail("`method: service-account` needs `keyfile`.", "keyfile")
        if method == "service-account-json" and not extra.get("keyfile_json"):
            raise fail("`method: service-account-json` needs `keyfile_json`.", "keyfile_json")
    elif (facts.name == "redshift" and values.get("method") == "iam"
          and not extra.get("cluster_id")):
        raise fail("`method: iam` needs `cluster_id`.", "cluster_id")


def _positive_int(value: Any, fail: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise fail(f"`{key}` must be a positive whole number, not `{value}`.", key)
    return int(value)


def _string_list(value: Any, fail: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"`{key}` must be a list of strings.", key)
    return list(value)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {str: "a string", int: "a number", float: "a number", list: "a list",
            bool: "a boolean"}.get(type(value), type(value).__name__)
