"""Connections from a dbt-style ``profiles.yml``.

A dbt user's existing file loads unchanged: dbt's field names and aliases are accepted, keys we do
not use are kept (in ``extra``) and ignored. Each output becomes a typed :class:`Connection`
of its database's class, whose facts come from :mod:`dvt_connect.databases`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dvt_connect import secrets
from dvt_connect.databases import COMMON_SECRET_FIELDS, Connection, database
from dvt_connect.databases.bigquery import METHODS as BIGQUERY_METHODS
from dvt_connect.databases.files import FILE_FORMATS
from dvt_connect.errors import ConfigError, NotFoundError

__all__ = ["BIGQUERY_METHODS", "FILE_FORMATS", "Connection", "parse_connection"]
_COORDINATE = re.compile(r"^[\w.\-]+:[\w.\-]+(:[\w.\-]+){1,3}$")

# Fields every adapter understands, after aliases are applied.
_KNOWN = (
    "host", "port", "database", "schema", "user", "password", "url", "driver", "path",
    "format", "account", "warehouse", "role", "method", "project", "sslmode",
)


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
        facts = database(raw_type)
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

    missing = [f for f in facts.required if values.get(f, extra.get(f)) in (None, "")]
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
    facts.connection.validate(values, extra, fail)

    partition_column = extra.get("partition_column")
    return facts.connection(
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
