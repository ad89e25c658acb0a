"""Delta and Iceberg as facts: the runtime release per Spark minor (from the versions Maven
Central publishes, as read on 2026-12-01), the needs a lakehouse output adds, the session's
start-up settings, and the `catalog:` rules of an Iceberg output.

On a Spark minor no runtime is built for (PySpark 4.3 today), a transfer through that format is
refused before Spark starts, `dvt sync` reports it as a problem of that format and fetches
nothing for it, and `dvt debug` says the same: a build for another minor fails on it
(NoSuchMethodError, IncompatibleClassChangeError)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dvt_connect.config.profiles import parse_connection
from dvt_connect.databases.files import DELTA, ICEBERG, catalog_name, session_conf
from dvt_connect.errors import ConfigError
from dvt_connect.jars.plan import connection_needs, format_need, needs_for, runtime_refusal
from dvt_connect.jars.releases import MetadataReader, NoReleaseError, release_for
from dvt_connect.jars.spark_versions import SparkInstall, installed_spark
from dvt_connect.spark import session_spec

# what repo1.maven.org listed on 2026-12-01
PUBLISHED = {
    "delta-spark_4.0_2.13": ["4.1.0", "4.2.0", "4.3.0", "4.3.1", "4.4.0"],
    "delta-spark_4.1_2.13": ["4.1.0", "4.2.0", "4.3.0", "4.3.1", "4.4.0"],
    "delta-spark_4.2_2.13": ["4.4.0"],
    "iceberg-spark-runtime-4.0_2.13": ["1.10.0", "1.10.1", "1.10.2", "1.11.0"],
    "iceberg-spark-runtime-4.1_2.13": ["1.11.0", "1.12.0"],
}


def _spark(minor: str) -> SparkInstall:
    return SparkInstall(f"{minor}.0", minor, "2.13", "3.4.1", Path("/nonexistent"))


def _reader() -> MetadataReader:
    def read(path: str) -> list[bytes] | None:
        artifact = path.rsplit("/", 2)[-2]
        if artifact not in PUBLISHED:
            return []
        versions = "".join(f"<version>{v}</version>" for v in PUBLISHED[artifact])
        return [f"<metadata><versioning><versions>{versions}</versions></versioning>"
                f"</metadata>".encode()]

    return MetadataReader(read)


@pytest.mark.parametrize(("fmt", "minor", "coordinate", "built_for"), [
    (DELTA, "4.1", "io.delta:delta-spark_4.1_2.13:4.4.0", "4.1"),
    (DELTA, "4.2", "io.delta:delta-spark_4.2_2.13:4.4.0", "4.2"),
    (DELTA, "4.3", "io.delta:delta-spark_4.2_2.13:4.4.0", "4.2"),
    (ICEBERG, "4.0", "org.apache.iceberg:iceberg-spark-runtime-4.0_2.13:1.11.0", "4.0"),
    (ICEBERG, "4.1", "org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0", "4.1"),
    (ICEBERG, "4.3", "org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0", "4.1"),
])
def test_runtime_release_per_spark_minor(fmt, minor, coordinate, built_for) -> None:
    release = release_for(fmt.runtime, _spark(minor), _reader())
    assert str(release.coordinate) == coordinate
    assert release.built_for == built_for
    assert (release.warning is None) == (minor == built_for)
    if release.warning:
        assert f"no release built for Spark {minor}" in release.warning


def test_strict_refuses_a_runtime_built_for_another_minor() -> None:
    with pytest.raises(NoReleaseError, match="--strict: the iceberg Spark connector has no "
                                             "release built for Spark 4.3"):
        release_for(ICEBERG.runtime, _spark("4.3"), _reader(), strict=True)


def test_offline_release_comes_from_the_facts() -> None:
    need = format_need(DELTA, _spark("4.1"))
    assert [str(c) for c in need.coordinates] == ["io.delta:delta-spark_4.1_2.13:4.4.0"]
    assert need.key == "format:delta" and need.transitive
    iceberg = format_need(ICEBERG, _spark("4.1"))
    assert not iceberg.transitive  # the runtime is shaded: its jar alone


def _files(name: str, **values: object):
    return parse_connection(name, {"type": "files", **values}, path=Path("profiles.yml"), key=name)


def test_a_lakehouse_output_needs_its_runtime_and_a_parquet_one_does_not(tmp_path) -> None:
    delta = _files("lake", path=str(tmp_path), format="delta")
    iceberg = _files("ice", path="s3://bucket/wh", format="iceberg")
    plain = _files("plain", path=str(tmp_path))
    assert connection_needs(delta) == ["format:delta"]
    assert connection_needs(iceberg) == ["format:iceberg", "bucket:s3"]
    assert connection_needs(plain) == []
    keys = [n.key for n in needs_for([delta, iceberg, plain], {}, _spark("4.1"))]
    assert keys.count("format:delta") == 1 and keys.count("format:iceberg") == 1
    # `dvt sync` fetches what the transfer will check for: the bucket path's filesystem too,
    # with no buckets.yml entry
    assert keys.count("bucket:s3") == 1


def test_an_iceberg_jdbc_catalog_needs_its_database_driver(tmp_path) -> None:
    ice = _files("ice", path=str(tmp_path), format="iceberg",
                 catalog={"type": "jdbc", "uri": "jdbc:postgresql://db:5432/iceberg"})
    assert connection_needs(ice) == ["format:iceberg", "adapter:postgres"]
    keys = [n.key for n in needs_for([ice], {}, _spark("4.1"))]
    assert "adapter:postgres" in keys
    maria = _files("m", path=str(tmp_path), format="iceberg",
                   catalog={"type": "jdbc", "uri": "jdbc:mariadb://db/iceberg"})
    assert connection_needs(maria) == ["format:iceberg", "adapter:mariadb"]
    hadoop = _files("h", path=str(tmp_path), format="iceberg")
    assert connection_needs(hadoop) == ["format:iceberg"]


def test_an_iceberg_rest_catalog_needs_the_aws_bundle_at_the_runtime_version(tmp_path) -> None:
    """A REST catalog hands its clients S3FileIO (Nessie does), whose AWS SDK the shaded
    runtime leaves out: Iceberg's own bundle of it, the runtime's release."""
    from dvt_connect.jars.plan import with_releases

    rest = _files("ice", path=str(tmp_path), format="iceberg",
                  catalog={"type": "rest", "uri": "http://127.0.0.1:19120/iceberg/"})
    assert connection_needs(rest) == ["format:iceberg", "catalog:iceberg-rest"]
    needs = {n.key: n for n in needs_for([rest], {}, _spark("4.1"))}
    bundle = needs["catalog:iceberg-rest"]
    assert [str(c) for c in bundle.coordinates] == ["org.apache.iceberg:iceberg-aws-bundle:1.12.0"]
    assert not bundle.transitive
    assert "aws" not in " ".join(
        str(c) for n in needs_for([_files("h", path=str(tmp_path), format="iceberg")], {},
                                  _spark("4.1")) for c in n.coordinates)
    # the release `dvt sync` picks from the repositories: the bundle follows it
    picked = with_releases(needs.values(), _spark("4.0"),
                           lambda native, spark: release_for(native, spark, _reader()))
    [again] = [n for n in picked if n.key == "catalog:iceberg-rest"]
    assert [str(c) for c in again.coordinates] == ["org.apache.iceberg:iceberg-aws-bundle:1.11.0"]
    # no runtime for the minor: the runtime's problem, and no bundle to fetch
    none = {n.key: n for n in needs_for([rest], {}, _spark("4.3"))}
    assert none["format:iceberg"].problem and "catalog:iceberg-rest" not in none


def test_iceberg_catalog_secrets_are_masked_everywhere(tmp_path) -> None:
    """Every secret a catalog can carry is registered, by its Iceberg property name; a
    `token-refresh-enabled: false` is not a secret (else every `false` would be masked)."""
    from dvt_connect import secrets
    from dvt_connect.doctor import JarStatus, _table_format_notes

    values = {"token": "tok-9f1e", "credential": "client:cred-77aa",
              "s3.secret-access-key": "sak-31c0", "s3.session-token": "sst-5d2b",
              "header.Authorization": "Bearer hdr-8e4c", "jdbc.password": "pw-0b9d"}
    ice = _files("ice", path=str(tmp_path), format="iceberg", catalog={
        "type": "rest", "uri": "https://svc:uri-pw-41f2@catalog.example/iceberg/",
        "token-refresh-enabled": "false", "s3.access-key-id": "AKIDPUBLIC", **values})
    shown = secrets.redact(f"{ice.catalog} false AKIDPUBLIC")
    for secret in [*values.values(), "uri-pw-41f2"]:
        assert secret not in shown
    assert shown.endswith(" false AKIDPUBLIC")
    [note] = _table_format_notes(ice, JarStatus(needs=["format:iceberg"]))
    assert "uri-pw-41f2" not in note and "catalog.example/iceberg/" in note


def test_session_starts_with_the_extensions_only_when_needed() -> None:
    assert session_conf(["parquet", "csv"]) == {}
    both = session_conf(["delta", "iceberg", "delta"])
    assert both["spark.sql.extensions"] == (
        "io.delta.sql.DeltaSparkSessionExtension,"
        "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
    assert both["spark.sql.catalog.spark_catalog"] == \
        "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert "spark.sql.extensions" not in session_spec().conf


def test_iceberg_catalog_rules(tmp_path) -> None:
    assert catalog_name("Lake-Prod") == "dvt_lake_prod"
    rest = _files("ice", path=str(tmp_path), format="iceberg",
                  catalog={"type": "rest", "uri": "http://127.0.0.1:8181", "token": "s3cr3t-tok"})
    assert rest.catalog["type"] == "rest"
    assert "s3cr3t-tok" not in repr(rest)
    with pytest.raises(ConfigError, match="unknown Iceberg catalog type `glue`; valid: "
                                          "hadoop, rest, jdbc"):
        _files("ice", path=str(tmp_path), format="iceberg", catalog={"type": "glue"})
    with pytest.raises(ConfigError, match=r"an Iceberg `rest` catalog needs `catalog.uri`"):
        _files("ice", path=str(tmp_path), format="iceberg", catalog={"type": "rest"})
    with pytest.raises(ConfigError, match="`catalog` applies to `format: iceberg` outputs"):
        _files("lake", path=str(tmp_path), format="delta", catalog={"type": "hadoop"})


def test_as_of_is_a_version_or_a_timestamp() -> None:
    from dvt_connect.connectors.lakehouse import as_of_clause

    assert as_of_clause(None) == ""
    assert as_of_clause("3") == " VERSION AS OF 3"
    assert as_of_clause("2026-12-01 10:00:00") == " TIMESTAMP AS OF '2026-12-01 10:00:00'"
    assert as_of_clause("x' OR '1") == " TIMESTAMP AS OF 'x'' OR ''1'"


def test_lakehouse_outputs_choose_the_lakehouse_connector(tmp_path) -> None:
    from dvt_connect.connectors.base import ConnectorType
    from dvt_connect.connectors.selection import choose_connector

    choice = choose_connector(_files("lake", path=str(tmp_path), format="iceberg"), {})
    assert choice.connector is ConnectorType.LAKEHOUSE
    assert choose_connector(_files("p", path=str(tmp_path)), {}).connector is ConnectorType.FILES


def test_as_of_and_schema_evolution_need_a_table_format(tmp_path) -> None:
    from dvt_connect.errors import UsageError
    from dvt_connect.transfer.job import TransferOptions, read_request, write_request

    plain = _files("plain", path=str(tmp_path))
    with pytest.raises(UsageError, match="--as-of applies to Delta and Iceberg outputs .*"
                                         "`plain` is not one"):
        read_request(TransferOptions(source="plain", target="x", table="t", as_of="1"), plain)
    with pytest.raises(UsageError, match="--schema-evolution applies to Delta and Iceberg"):
        write_request(TransferOptions(source="x", target="plain", table="t",
                                      schema_evolution="add"), plain)
    delta = _files("lake", path=str(tmp_path), format="delta")
    assert read_request(TransferOptions(source="lake", target="x", table="t", as_of="2"),
                        delta).as_of == "2"


def test_debug_shows_format_catalog_and_runtime(tmp_path) -> None:
    from dvt_connect.doctor import JarStatus, _table_format_notes

    ice = _files("ice", path=str(tmp_path), format="iceberg",
                 catalog={"type": "rest", "uri": "http://127.0.0.1:8181", "token": "s3cr3t-tok"})
    jars = JarStatus(needs=["format:iceberg"], present=False, missing=["format:iceberg"],
                     coordinates=["org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0"])
    [note] = _table_format_notes(ice, jars)
    assert note == ("table format iceberg; rest catalog `dvt_ice` at http://127.0.0.1:8181; "
                    "runtime org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0 "
                    "(missing from the jars folder)")
    assert "s3cr3t-tok" not in note
    delta = _files("lake", path=str(tmp_path), format="delta")
    [note] = _table_format_notes(delta, JarStatus(
        needs=["format:delta"], present=True, coordinates=["io.delta:delta-spark_4.1_2.13:4.4.0"]))
    assert note.endswith("tables by path (no catalog); runtime "
                         "io.delta:delta-spark_4.1_2.13:4.4.0 (present)")
    assert _table_format_notes(_files("p", path=str(tmp_path)), JarStatus()) == []


@pytest.mark.parametrize(("fmt", "newest", "built_for"), [
    (DELTA, "io.delta:delta-spark_4.2_2.13:4.4.0", "4.2"),
    (ICEBERG, "org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0", "4.1"),
])
def test_no_runtime_for_the_installed_minor_is_a_problem_not_a_jar(fmt, newest,
                                                                   built_for) -> None:
    # `dvt sync` reads the repository; the offline facts say the same
    for need in (format_need(fmt, _spark("4.3"),
                             lambda native, spark: release_for(native, spark, _reader())),
                 format_need(fmt, _spark("4.3"))):
        assert need.key == f"format:{fmt.name}" and need.coordinates == ()
        assert need.problem is not None
        assert f"{fmt.title} (format: {fmt.name}) has no runtime built for Spark 4.3 " \
               "(PySpark 4.3.0 is installed)" in need.problem
        assert f"newest release, {newest}, is built for Spark {built_for}" in need.problem
        assert f'-m pip install "pyspark=={built_for}.*"' in need.problem
    assert format_need(fmt, _spark(built_for)).problem is None


def test_a_synced_build_for_the_installed_minor_is_not_refused() -> None:
    assert runtime_refusal(DELTA, _spark("4.2")) is None
    assert runtime_refusal(DELTA, _spark("4.3")) is not None
    # a build published after the facts were written, which `dvt sync` found
    assert runtime_refusal(DELTA, _spark("4.3"), ["io.delta:delta-spark_4.3_2.13:4.5.0"]) is None
    # one synced before dvt refused builds for another minor
    assert runtime_refusal(DELTA, _spark("4.3"), ["io.delta:delta-spark_4.2_2.13:4.4.0"])


def test_a_runtime_synced_under_another_pyspark_counts_as_missing() -> None:
    """A jars folder synced on PySpark 4.2 and used on 4.1 holds delta-spark_4.2, which fails
    on 4.1 (NoSuchMethodError): a transfer asks for `dvt sync` instead of starting Spark."""
    from dvt_connect.jars.plan import synced_for_another_minor

    built_42 = ["io.delta:delta-spark_4.2_2.13:4.4.0"]
    assert synced_for_another_minor(DELTA, _spark("4.1"), built_42)
    assert not synced_for_another_minor(DELTA, _spark("4.2"), built_42)
    assert not synced_for_another_minor(DELTA, _spark("4.1"), [])  # never synced: missing
    assert runtime_refusal(DELTA, _spark("4.1"), built_42) is None  # 4.1 has a build to fetch


def test_debug_reports_a_runtime_synced_for_another_minor(tmp_path: Path) -> None:
    from dvt_connect.connectors.selection import choose_connector
    from dvt_connect.doctor import jar_status
    from dvt_connect.jars.manifest import Manifest

    lake = parse_connection("lake", {"type": "files", "path": str(tmp_path), "format": "delta"},
                            path=Path("profiles.yml"), key="lake")
    manifest = Manifest.load(tmp_path / "jars")
    manifest.needs["format:delta"] = ["io.delta:delta-spark_4.2_2.13:4.4.0"]
    status = jar_status(lake, choose_connector(lake, {}), _spark("4.3"), manifest)
    assert any("Delta Lake (format: delta) has no runtime built for Spark 4.3" in p
               for p in status.problems), status.problems
    fresh = jar_status(lake, choose_connector(lake, {}), _spark("4.3"),
                       Manifest.load(tmp_path / "none"))
    assert any("has no runtime built for Spark 4.3" in p for p in fresh.problems)


def test_a_transfer_into_delta_is_refused_before_spark_on_an_unbuilt_minor(
        tmp_path: Path) -> None:
    """The real CLI with the installed PySpark: refused (exit 2, nothing written) on a minor no
    Delta runtime is built for; on one that has a build, it gets past the check to the jars."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (tmp_path / "src").mkdir()
    (cfg / "profiles.yml").write_text(yaml.safe_dump({"lake": {"target": "src", "outputs": {
        "src": {"type": "files", "path": str(tmp_path / "src"), "format": "parquet"},
        "delta": {"type": "files", "path": str(tmp_path / "delta"), "format": "delta"},
    }}}))
    env = {**os.environ, "DVT_HOME": str(tmp_path / "home")}
    run = subprocess.run(
        [sys.executable, "-m", "dvt_connect", "transfer", "--profiles-dir", str(cfg),
         "--profile", "lake", "--source", "src", "--table", "t", "--target", "delta",
         "--target-table", "t"], env=env, capture_output=True, text=True, timeout=300)
    text = run.stdout + run.stderr
    assert "Traceback" not in text
    assert not (tmp_path / "delta").exists()  # nothing written
    if installed_spark().spark_minor in DELTA.runtime.releases:
        assert run.returncode != 0 and "dvt sync" in text  # past the check: jars not synced
        return
    assert run.returncode == 2, text
    said = " ".join(text.split())
    minor = installed_spark().spark_minor
    assert f"Delta Lake (format: delta) has no runtime built for Spark {minor}" in said
    assert 'pip install "pyspark==4.2.*"' in said and "Nothing was read or written" in said
