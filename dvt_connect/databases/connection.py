"""The connection base class: one output of a profile, typed.

Each database module may subclass :class:`Connection` to add what only it knows: rules dbt
itself enforces (:meth:`Connection.validate`), JDBC properties built from its fields
(:meth:`Connection.type_properties`), typed accessors for the keys of a dbt profile it reads,
and where it points (:meth:`Connection.location`). Keys a dbt profile carries that we do not use
still load and are kept in ``extra``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvt_connect import secrets
from dvt_connect.databases.spec import COMMON_SECRET_FIELDS
from dvt_connect.errors import ConfigError

if TYPE_CHECKING:
    from dvt_connect.databases.spec import Database

# A validation failure: (message, field key, hint) -> the error to raise.
Fail = Callable[..., ConfigError]


@dataclass(frozen=True)
class Connection:
    """One output of a profile: where a table lives and how to reach it."""

    name: str
    type: str
    facts: Database
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

    # ---- what a database's subclass adds -----------------------------------------------------

    @classmethod
    def validate(cls, values: dict[str, Any], extra: dict[str, Any], fail: Fail) -> None:
        """Rules dbt itself enforces for this type (``values``: known fields, after aliases;
        ``extra``: every other key). Raise ``fail(message, key)``."""

    def type_properties(self) -> dict[str, str]:
        """JDBC properties this type builds from its own fields (``sslmode``, Snowflake's
        warehouse and role)."""
        return {}

    def url_values(self) -> dict[str, Any]:
        """Values for this type's URL template beyond the common ones."""
        return {}

    def location(self) -> str:
        """A one-line description of where this connection points (safe to print)."""
        if self.url:
            return secrets.redact_url(self.url)
        if self.account:
            return f"{self.account}/{self.database or ''}"
        if self.project:
            return f"{self.project}.{self.schema or ''}"
        port = self.port or self.facts.default_port
        return f"{self.host}:{port}/{self.database or ''}"

    # ---- common to every type ----------------------------------------------------------------

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
        """The JDBC URL for this connection (``url:`` wins; else the type's template)."""
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
            **self.url_values(),
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
        props.update(self.type_properties())
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


@dataclass(frozen=True, repr=False)
class PathConnection(Connection):
    """A database in a local file or folder (SQLite, DuckDB, Derby): it is where its path is."""

    def location(self) -> str:
        return str(self.path)
