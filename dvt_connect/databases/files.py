"""The ``files`` type: a lake path (local or on a bucket) in Parquet, CSV, JSON or ORC
(:mod:`dvt_connect.connectors.files`), or a Delta Lake or Apache Iceberg table
(:mod:`dvt_connect.connectors.lakehouse`).

The table formats are facts here too: the runtime jar per Spark minor and Scala (read by
`dvt sync` through the same repository-driven release choice as the warehouse connectors), the
SQL extension the session must start with, and for Iceberg the catalog properties an output's
``catalog:`` mapping becomes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dvt_connect import secrets
from dvt_connect.databases.connection import Connection, Fail
from dvt_connect.databases.spec import Database, NamingRule, NativeFacts


@dataclass(frozen=True)
class TableFormat:
    """A transactional table format Spark writes through its own runtime jar.

    ``runtime`` is the jar per Spark minor (``{spark}``/``{scala}`` in the artifact; the
    ``releases`` are the offline fallback), ``extension`` the ``spark.sql.extensions`` class the
    session must start with (MERGE INTO, time travel), ``session_conf`` further start-up
    settings, ``catalog_class`` the Spark catalog an output's tables are reached through.
    ``transitive``: whether the runtime's POM dependencies are needed (Iceberg's is shaded).
    ``catalog_packages``: per catalog type, artifacts of the runtime's group at the runtime's
    version that an output with that catalog also needs.
    Unlike a warehouse connector, a runtime built for another Spark minor is never used: it
    fails on it (Spark's internal APIs it extends change between minors).
    """

    name: str
    title: str
    runtime: NativeFacts
    extension: str
    catalog_class: str
    session_conf: Mapping[str, str] = field(default_factory=dict)
    transitive: bool = True
    catalog_packages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def need_key(self) -> str:
        return f"format:{self.name}"

    @property
    def newest_spark(self) -> str:
        """The newest Spark minor a runtime release is known to be built for."""
        return max(self.runtime.releases,
                   key=lambda minor: tuple(int(p) for p in minor.split(".")))


DELTA = TableFormat(
    name="delta", title="Delta Lake",
    runtime=NativeFacts(
        name="delta", spark_format="delta", group="io.delta",
        # delta-spark_4.1_2.13, delta-spark_4.2_2.13: one build per Spark minor since Delta 4.1
        artifact="delta-spark_{spark}_{scala}",
        releases={"4.0": "4.4.0", "4.1": "4.4.0", "4.2": "4.4.0"},
        bucket_types=(), needs_bucket=False,
        docs="https://docs.delta.io/latest/releases.html",
        sources=("https://repo1.maven.org/maven2/io/delta/ (maven-metadata.xml, 2026-12-01)",),
        naming=NamingRule(spark_in_artifact=True)),
    extension="io.delta.sql.DeltaSparkSessionExtension",
    catalog_class="org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Delta's tables by path (delta.`<path>`) resolve through the session catalog
    session_conf={"spark.sql.catalog.spark_catalog":
                  "org.apache.spark.sql.delta.catalog.DeltaCatalog"},
)

ICEBERG = TableFormat(
    name="iceberg", title="Apache Iceberg",
    runtime=NativeFacts(
        name="iceberg", spark_format="iceberg", group="org.apache.iceberg",
        artifact="iceberg-spark-runtime-{spark}_{scala}",
        releases={"4.0": "1.11.0", "4.1": "1.12.0"},
        bucket_types=(), needs_bucket=False,
        docs="https://iceberg.apache.org/releases/",
        sources=("https://repo1.maven.org/maven2/org/apache/iceberg/ (maven-metadata.xml, "
                 "2026-12-01)",),
        naming=NamingRule(spark_in_artifact=True)),
    extension="org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
    catalog_class="org.apache.iceberg.spark.SparkCatalog",
    transitive=False,  # iceberg-spark-runtime is a shaded jar
    # A REST catalog tells its clients which FileIO to use: S3FileIO for the S3 warehouses of
    # Nessie, Polaris and the other servers, whose AWS SDK the runtime leaves out (Iceberg's
    # own bundle of it, built with each release)
    catalog_packages={"rest": ("iceberg-aws-bundle",)},
)

TABLE_FORMATS: Mapping[str, TableFormat] = {f.name: f for f in (DELTA, ICEBERG)}
FILE_FORMATS = ("parquet", "csv", "json", "orc", *TABLE_FORMATS)
# Iceberg catalog types and the keys each needs (Iceberg's documented catalog properties)
ICEBERG_CATALOGS: Mapping[str, tuple[str, ...]] = {
    "hadoop": ("warehouse",),
    "rest": ("uri",),
    "jdbc": ("uri", "warehouse"),
}
# Iceberg catalog properties holding secrets (never in output, never on the JVM command line):
# REST `token` and `credential`, JDBC `jdbc.password`, FileIO keys (`s3.secret-access-key`,
# `s3.session-token`, `gcs.oauth2.token`, `adls.sas-token.<account>`, the ADLS shared key) and
# a REST `header.Authorization`. Named exactly: `token-refresh-enabled` is not a secret.
_SECRET_CATALOG_KEY = re.compile(
    r"(^|[.])(token|credential|password|secret-access-key|session-token)$"
    r"|^adls[.]sas-token[.]|^adls[.]auth[.]shared-key[.]account[.]key$"
    r"|^header[.]authorization$", re.I)


def is_secret_catalog_key(key: str) -> bool:
    """Whether an Iceberg catalog property's value is a secret."""
    return bool(_SECRET_CATALOG_KEY.search(key))


def iceberg_catalog_type(connection: Any) -> str | None:
    """The catalog type of an Iceberg output (``hadoop`` when none is set), else None."""
    if str(getattr(connection, "format", "") or "") != ICEBERG.name:
        return None
    catalog = getattr(connection, "catalog", None)
    catalog = catalog if isinstance(catalog, Mapping) else {}
    return str(catalog.get("type") or "hadoop").lower()


def session_conf(formats: Iterable[str]) -> dict[str, str]:
    """What the session must start with for these table formats: their SQL extensions (one
    comma-separated list) and start-up settings. Empty when no transfer output needs one."""
    wanted = [TABLE_FORMATS[f] for f in dict.fromkeys(formats) if f in TABLE_FORMATS]
    conf: dict[str, str] = {}
    if wanted:
        conf["spark.sql.extensions"] = ",".join(f.extension for f in wanted)
    for fmt in wanted:
        conf.update(fmt.session_conf)
    return conf


def catalog_name(output: str) -> str:
    """The Spark catalog name an Iceberg output's tables are reached through."""
    return "dvt_" + re.sub(r"[^A-Za-z0-9_]", "_", output).lower()


@dataclass(frozen=True, repr=False)
class FilesConnection(Connection):
    """A files output: where the files are, in which format, through which bucket."""

    def location(self) -> str:
        return str(self.path)

    @classmethod
    def validate(cls, values: dict[str, Any], extra: dict[str, Any], fail: Fail) -> None:
        catalog = extra.get("catalog")
        if catalog is None:
            return
        if values.get("format") != "iceberg":
            raise fail("`catalog` applies to `format: iceberg` outputs only.", "catalog")
        if not isinstance(catalog, Mapping):
            raise fail("`catalog` must be a mapping (`type: hadoop|rest|jdbc` and Iceberg's "
                       "catalog properties).", "catalog")
        kind = str(catalog.get("type") or "hadoop").lower()
        if kind not in ICEBERG_CATALOGS:
            raise fail(f"unknown Iceberg catalog type `{kind}`; valid: "
                       f"{', '.join(ICEBERG_CATALOGS)}.", "catalog.type")
        missing = [k for k in ICEBERG_CATALOGS[kind]
                   if not catalog.get(k) and not (k == "warehouse" and values.get("path"))]
        if missing:
            raise fail(f"an Iceberg `{kind}` catalog needs " + ", ".join(
                f"`catalog.{k}`" for k in missing) + ".", f"catalog.{missing[0]}")
        for key, value in catalog.items():
            if is_secret_catalog_key(str(key)) and value:
                secrets.register(str(value))
        if catalog.get("uri"):
            secrets.register_url(str(catalog["uri"]))

    @property
    def bucket(self) -> str | None:
        """The bucket a relative path lives on (``bucket: lake_s3``)."""
        value = self.extra.get("bucket")
        return str(value) if value else None

    @property
    def table_format(self) -> TableFormat | None:
        """Delta or Iceberg, when the output's ``format`` is one of them."""
        return TABLE_FORMATS.get(self.format)

    @property
    def catalog(self) -> Mapping[str, Any]:
        """The Iceberg catalog settings under ``catalog:`` (default: a Hadoop catalog whose
        warehouse is the output's path)."""
        value = self.extra.get("catalog") or {}
        return value if isinstance(value, Mapping) else {}

    @property
    def options(self) -> Mapping[str, Any]:
        """Spark reader/writer options given under ``options:``."""
        return self.extra.get("options") or {}


FILES = Database(
    name="files",
    kind="files",
    required=("path",),
    aliases={"location": "path"},
    connection=FilesConnection,
    type_aliases=("file",),
)

DATABASES = (FILES,)
