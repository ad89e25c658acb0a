"""`dvt debug`: the four tables in order, JSON for scripts, live checks, exit codes."""

from __future__ import annotations

import shutil
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dvt_connect import doctor
from dvt_connect.config import load_project
from dvt_connect.connectors.selection import choose_connector
from dvt_connect.jars.manifest import Manifest, ManifestEntry
from dvt_connect.paths import jars_dir
from dvt_connect.spark import find_java

from .conftest import Dvt

FIXTURES = Path(__file__).resolve().parent.parent / "config" / "fixtures"


def _write(folder: Path, profiles: str, buckets: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(textwrap.dedent(profiles))
    (folder / "profiles.yml").chmod(0o600)
    if buckets is not None:
        (folder / "buckets.yml").write_text(textwrap.dedent(buckets))
    return folder


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def java_cache() -> Iterator[None]:
    find_java.cache_clear()
    yield
    find_java.cache_clear()


# -- against the files `dvt init` writes ---------------------------------------------------------
def test_tables_in_order_after_init(dvt: Dvt) -> None:
    assert dvt("init").code == 0
    result = dvt("debug", "--no-connect")
    assert result.code == 0, result.text
    titles = ["Environment", "Configuration (folder", "Buckets", "Connections (profile"]
    positions = [result.out.index(t) for t in titles]
    assert positions == sorted(positions)
    for fact in ("dvt-connect", "Python", "PySpark / Spark", "Scala", "Hadoop", "Java",
                 "profiles.yml", "buckets.yml", "dev *", "lake", "postgres_native"):
        assert fact in result.out, fact
    assert "All checks passed" in result.out
    assert "live checks skipped" in result.out


def test_json_is_one_document_with_the_same_facts(dvt: Dvt) -> None:
    dvt("init")
    result = dvt("debug", "--json", "--no-connect")
    assert result.code == 0, result.text
    doc = result.json()
    assert list(doc) == ["dvt_connect", "ok", "exit_code", "summary", "environment",
                         "configuration", "buckets", "connections", "live_checks", "warnings",
                         "leftovers"]
    assert doc["ok"] is True and doc["exit_code"] == 0
    env = {e["name"]: e for e in doc["environment"]}
    assert env["Scala"]["value"] == "2.13"
    assert env["Java"]["status"] == "ok"
    assert [f["name"] for f in doc["configuration"]["files"]] == ["profiles.yml", "buckets.yml"]
    assert doc["buckets"] == []
    dev = doc["connections"][0]
    assert (dev["name"], dev["type"], dev["connector"], dev["is_target"]) == (
        "dev", "postgres", "postgres_native", True)
    assert dev["jars"]["coordinates"] == ["org.postgresql:postgresql:42.7.4"]
    assert dev["jars"]["present"] is False
    assert dev["status"] == "warn"  # jars missing is a warning: `dvt sync` fixes it
    assert "Environment" not in result.out  # stdout holds only the JSON


def test_live_checks_after_init(dvt: Dvt) -> None:
    dvt("init")
    doc = dvt("debug", "--json").json()
    lake = doc["connections"][1]
    assert lake["reach"]["ok"] is True
    assert "absent; can be created under" in lake["reach"]["result"]


# -- against a dbt user's profiles.yml ----------------------------------------------------------
def test_dbt_documentation_profiles(dvt: Dvt, tmp_path: Path) -> None:
    folder = tmp_path / "dbt"
    folder.mkdir()
    shutil.copy(FIXTURES / "dbt_profiles.yml", folder / "profiles.yml")
    (folder / "profiles.yml").chmod(0o600)
    result = dvt("debug", "--profiles-dir", str(folder), "--json", "--no-connect")
    assert result.code == 0, result.text
    rows = {c["name"]: c for c in result.json()["connections"]}
    assert len(rows) == 10
    assert all(r["error"] is None for r in rows.values())
    sf = rows["snowflake_password"]
    assert sf["connector"] == "jdbc"
    # no release of spark-snowflake fits the installed Spark: the stage-native path is the
    # native one, and it needs a bucket
    assert sf["reason"] == "no s3/gcs/azure bucket configured"
    assert any(n.startswith("Snowflake's stage-native path (its own unload to a bucket) is "
                            "available, but no s3/gcs/azure bucket") for n in sf["notes"])
    table = dvt("debug", "--profiles-dir", str(folder), "--no-connect")
    assert table.code == 0
    assert "bigquery_service_account" in table.out


def test_connector_choice_is_transfers_choice(dvt: Dvt, tmp_path: Path) -> None:
    folder = tmp_path / "dbt"
    folder.mkdir()
    shutil.copy(FIXTURES / "dbt_profiles.yml", folder / "profiles.yml")
    (folder / "buckets.yml").write_text(textwrap.dedent("""
        jaffle_shop:
          target: s3
          outputs:
            s3: {type: s3, bucket: stage, region: us-east-1, role_arn: "arn:aws:iam::1:role/r"}
            gcs: {type: gcs, bucket: stage, project: p}
    """))
    doc = dvt("debug", "--profiles-dir", str(folder), "--json", "--no-connect").json()
    project = load_project(folder)
    manifest = Manifest.load(jars_dir())
    spark = doctor.spark_install()
    for row in doc["connections"]:
        connection = project.connection(row["name"])
        native = connection.facts.native
        unavailable = (doctor.connector_unavailable(native, spark, manifest)
                       if native is not None and not connection.is_files else None)
        choice = choose_connector(connection, project.buckets,
                                  preferred_bucket=project.bucket_target, unavailable=unavailable)
        assert (row["connector"], row["reason"]) == (choice.connector.value, choice.reason)
    rows = {c["name"]: c for c in doc["connections"]}
    # on the installed PySpark no vendor connector has a release: the stage-native path
    assert rows["snowflake_password"]["connector"] == "snowflake_unload"
    assert rows["snowflake_password"]["bucket"] == "s3"
    assert "no release of the snowflake Spark connector" in rows["snowflake_password"]["reason"]
    assert rows["bigquery_oauth"]["bucket"] == "gcs"
    assert rows["bigquery_oauth"]["connector"] == "bigquery_unload"
    assert "native:bigquery" not in rows["bigquery_oauth"]["jars"]["needs"]
    assert rows["redshift_iam"]["connector"] == "redshift_unload"
    assert any(n.startswith("unload: UNLOAD ('<select>') TO 's3://stage/dvt/<run id>/' IAM_ROLE "
                            "'arn:aws:iam::1:role/r' FORMAT AS PARQUET")
               for n in rows["redshift_iam"]["notes"])
    # Snowflake cannot use the role: the transfer would stop, and debug says so
    assert any("cannot reach bucket `s3`" in n for n in rows["snowflake_password"]["notes"])
    buckets = {b["name"]: b for b in doc["buckets"]}
    assert buckets["s3"]["default"] is True
    assert buckets["s3"]["spark_path"] == "s3a://stage"
    assert buckets["gcs"]["status"] == "warn"  # ambient credentials are named, not hidden
    assert "application default credentials" in buckets["gcs"]["notes"][0]


# -- live checks --------------------------------------------------------------------------------
def test_unreachable_server_is_broken(dvt: Dvt, tmp_path: Path) -> None:
    port = _closed_port()
    folder = _write(tmp_path / "c", f"""
        default:
          target: pg
          outputs:
            pg: {{type: postgres, host: 127.0.0.1, port: {port}, user: u, dbname: d}}
    """)
    result = dvt("debug", "--profiles-dir", str(folder))
    assert result.code == 1
    assert f"TCP 127.0.0.1:{port}" in result.out
    assert "connection refused" in result.out
    assert "something is broken" in result.err
    assert dvt("debug", "--profiles-dir", str(folder), "--no-connect").code == 0


@pytest.mark.network
def test_open_port_shows_latency_and_claims_no_login(dvt: Dvt, tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        folder = _write(tmp_path / "c", f"""
            default:
              target: my
              outputs:
                my: {{type: mysql, host: 127.0.0.1, port: {port}, user: u}}
        """)
        doc = dvt("debug", "--profiles-dir", str(folder), "--json").json()
    reach = doc["connections"][0]["reach"]
    assert reach["ok"] is True and reach["latency_ms"] >= 0
    assert reach["check"] == f"TCP 127.0.0.1:{port}"
    assert reach["result"].startswith("open in ")
    assert "login" in dvt("debug", "--profiles-dir", str(folder)).out  # says it did not


def test_paths_are_checked_for_file_outputs_and_local_buckets(dvt: Dvt, tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "a-file").write_text("")
    folder = _write(tmp_path / "c", f"""
        default:
          target: lake
          outputs:
            lake: {{type: files, path: {tmp_path}/lake}}
            remote: {{type: files, path: "s3a://bucket/lake"}}
            lite: {{type: sqlite, path: {tmp_path}/new/app.db}}
            derby: {{type: derby, path: {tmp_path}/a-file}}
    """, f"""
        default:
          outputs:
            stage: {{type: local, path: {tmp_path}/stage}}
    """)
    result = dvt("debug", "--profiles-dir", str(folder), "--json")
    doc = result.json()
    reach = {c["name"]: c["reach"] for c in doc["connections"]}
    assert reach["lake"]["result"] == "exists, writable"
    assert reach["remote"]["ok"] is None
    assert reach["lite"]["check"] == f"file {tmp_path}/new/app.db"
    assert reach["lite"]["result"] == f"absent; can be created under {tmp_path}"
    assert reach["derby"]["ok"] is False  # a Derby database is a folder
    assert doc["buckets"][0]["reach"]["ok"] is True
    assert result.code == 1


def test_host_and_port_come_from_fields_url_or_facts(tmp_path: Path) -> None:
    folder = _write(tmp_path / "c", """
        default:
          target: a
          outputs:
            a: {type: postgres, host: db, user: u, dbname: d}
            b: {type: sqlserver, server: mssql, port: 1500, database: d, user: u}
            c: {type: jdbc, url: "jdbc:hsqldb:hsql://hs:9001/x", driver: D}
            d: {type: snowflake, account: xy123.eu-west-1, user: u, password: p}
            e: {type: bigquery, project: p, method: oauth}
            f: {type: jdbc, url: "jdbc:h2:mem:x", driver: D}
            g: {type: oracle, host: "::1", user: u, database: s}
    """)
    c = load_project(folder).connections()
    assert doctor.endpoint_of(c["a"]) == ("db", 5432)
    assert doctor.endpoint_of(c["b"]) == ("mssql", 1500)
    assert doctor.endpoint_of(c["c"]) == ("hs", 9001)
    assert doctor.endpoint_of(c["d"]) == ("xy123.eu-west-1.snowflakecomputing.com", 443)
    assert doctor.endpoint_of(c["e"]) == ("bigquery.googleapis.com", 443)
    assert doctor.endpoint_of(c["f"]) == "not checked: no host in the output or its URL"
    assert doctor.endpoint_of(c["g"]) == ("::1", 1521)


# -- environment --------------------------------------------------------------------------------
def test_missing_java_is_an_error(dvt: Dvt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  java_cache: None) -> None:
    dvt("init")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    result = dvt("debug", "--no-connect", "--json")
    assert result.code == 1
    java = next(e for e in result.json()["environment"] if e["name"] == "Java")
    assert java["status"] == "error"
    assert "JAVA_HOME is" in java["detail"] and "not an executable" in java["detail"]


def test_old_java_is_an_error(dvt: Dvt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              java_cache: None) -> None:
    # A double: a `java` that reports version 11, because no old JDK is installed here.
    fake_home = tmp_path / "fake-jdk-11"
    (fake_home / "bin").mkdir(parents=True)
    fake = fake_home / "bin" / "java"
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(fake_home))
    dvt("init")
    result = dvt("debug", "--no-connect")
    assert result.code == 1
    assert "Java 11.0.22" in result.out and "too old" in result.out


def test_the_java_version_is_read_from_the_runtimes_release_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, java_cache: None) -> None:
    """A runtime image's ``release`` file names its version: read, no JVM started for
    ``-version`` (this double's ``java`` fails if run); without the file, ``-version`` is run
    (the test above). The real runtime's file says what its ``java -version`` prints."""
    import re
    import subprocess

    from dvt_connect.errors import JavaError
    from dvt_connect.spark import check_java

    real = find_java()
    printed = subprocess.run([real.path, "-version"], capture_output=True, text=True).stderr
    assert f'version "{real.version}"' in printed
    fake_home = tmp_path / "jre-11"
    (fake_home / "bin").mkdir(parents=True)
    (fake_home / "bin" / "java").write_text("#!/bin/sh\nexit 3\n")
    (fake_home / "bin" / "java").chmod(0o755)
    (fake_home / "release").write_text('IMPLEMENTOR="Test"\nJAVA_VERSION="11.0.22"\n')
    monkeypatch.setenv("JAVA_HOME", str(fake_home))
    find_java.cache_clear()
    assert (find_java().version, find_java().major) == ("11.0.22", 11)
    find_java.cache_clear()
    with pytest.raises(JavaError, match=re.escape("Java 11.0.22 at ") + ".*too old"):
        check_java()


def test_jars_present_when_synced(dvt: Dvt, _isolated_home: Path) -> None:
    dvt("init")
    jars = _isolated_home / "jars"
    jars.mkdir()
    (jars / "postgresql-42.7.4.jar").write_bytes(b"PK")
    Manifest(jars, [ManifestEntry("org.postgresql:postgresql:42.7.4", "postgresql-42.7.4.jar",
                                  "0" * 64, "https://repo1.maven.org/maven2",
                                  ("adapter:postgres",))],
             {"adapter:postgres": ["org.postgresql:postgresql:42.7.4"]}).save()
    doc = dvt("debug", "--json", "--no-connect").json()
    dev = doc["connections"][0]
    assert dev["jars"]["present"] is True
    assert dev["status"] == "ok"
    assert "1 jar" in next(e for e in doc["environment"] if e["name"] == "Jars folder")["detail"]


def test_buckets_show_their_filesystem_jars_and_whether_they_are_synced(
        dvt: Dvt, tmp_path: Path, _isolated_home: Path) -> None:
    folder = _write(tmp_path / "c", """
        default:
          target: lake
          outputs:
            lake: {type: files, path: /tmp/lake}
    """, buckets=f"""
        default:
          target: s3
          outputs:
            s3: {{type: s3, bucket: stage, region: us-east-1, role_arn: "arn:aws:iam::1:role/r"}}
            here: {{type: local, path: {tmp_path / "stage"}}}
    """)
    doc = dvt("debug", "--profiles-dir", str(folder), "--json", "--no-connect").json()
    buckets = {b["name"]: b for b in doc["buckets"]}
    s3 = buckets["s3"]["jars"]
    assert any(c.startswith("org.apache.hadoop:hadoop-aws:") for c in s3["coordinates"])
    assert s3["present"] is False and s3["missing"] == ["bucket:s3"]
    assert buckets["s3"]["status"] == "warn"
    assert any("run `dvt sync`" in n for n in buckets["s3"]["notes"])
    assert buckets["here"]["jars"] == {**buckets["here"]["jars"], "coordinates": [],
                                       "present": True}
    table = dvt("debug", "--profiles-dir", str(folder), "--no-connect")
    assert "hadoop-aws" in table.out and "not in jars folder" in table.out


# -- options and exit codes ---------------------------------------------------------------------
def test_connection_flag_checks_only_configuration_and_connections(dvt: Dvt) -> None:
    dvt("init")
    result = dvt("debug", "--connection")
    assert "Environment" not in result.out and "Buckets" not in result.out
    assert "Connections (profile" in result.out
    bad = dvt("debug", "--connection", "--no-connect")
    assert bad.code == 2 and "drop --no-connect" in bad.err


def test_invalid_configuration_exits_2_and_still_shows_the_rest(dvt: Dvt,
                                                                 tmp_path: Path) -> None:
    folder = _write(tmp_path / "c", """
        default:
          target: good
          outputs:
            good: {type: derby, path: /tmp/x}
            broken: {type: postgres, user: u}
    """, "default:\n  outputs:\n    s: {type: azure, storage_account: a, container: c}\n")
    result = dvt("debug", "--profiles-dir", str(folder), "--no-connect", "--json")
    assert result.code == 2
    doc = result.json()
    rows = {c["name"]: c for c in doc["connections"]}
    assert rows["good"]["status"] == "ok"
    assert "missing required field(s): `host`, `database`" in rows["broken"]["error"]
    assert "requires one of: `account_key`" in doc["buckets"][0]["error"]
    assert "configuration invalid" in doc["summary"]


def test_missing_buckets_file_is_fine(dvt: Dvt, tmp_path: Path) -> None:
    folder = _write(tmp_path / "c", "a:\n  outputs:\n    o: {type: derby, path: /tmp/d}\n")
    doc = dvt("debug", "--profiles-dir", str(folder), "--json", "--no-connect").json()
    buckets_file = doc["configuration"]["files"][1]
    assert (buckets_file["found"], buckets_file["status"]) == (False, "ok")
    assert "optional" in buckets_file["detail"]
    assert doc["connections"][0]["jars"]["present"] is True  # Derby ships with Spark


def test_group_readable_secrets_are_warned(dvt: Dvt, tmp_path: Path) -> None:
    folder = _write(tmp_path / "c", """
        default:
          target: o
          outputs:
            o: {type: sqlite, path: /tmp/x.db, password: literal-pw-x}
    """)
    (folder / "profiles.yml").chmod(0o644)
    result = dvt("debug", "--profiles-dir", str(folder), "--no-connect")
    assert result.code == 0
    assert "readable by group or others" in result.err
    assert "chmod 600" in result.err


def test_report_exit_codes() -> None:
    report = doctor.Report()
    assert report.exit_code == 0
    report.connections.append(doctor.ConnectionRow("x", status=doctor.WARN))
    assert report.exit_code == 0
    report.connections.append(doctor.ConnectionRow("y", status=doctor.ERROR))
    assert report.exit_code == 1
    report.config_errors.append("bad")
    assert report.exit_code == 2


# -- the real servers ---------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.mariadb
def test_reaches_the_real_databases(dvt: Dvt, tmp_path: Path, pg: dict[str, object],
                                    mariadb: dict[str, object]) -> None:
    folder = _write(tmp_path / "c", f"""
        default:
          target: pg
          outputs:
            pg:
              type: postgres
              host: {pg['host']}
              port: {pg['port']}
              user: {pg['user']}
              password: "{pg['password']}"
              dbname: {pg['database']}
            maria:
              type: mariadb
              host: {mariadb['host']}
              port: {mariadb['port']}
              user: {mariadb['user']}
              password: "{mariadb['password']}"
              schema: {mariadb['database']}
    """)
    result = dvt("debug", "--profiles-dir", str(folder), "--json")
    assert result.code == 0, result.text
    reach = {c["name"]: c["reach"] for c in result.json()["connections"]}
    pg_at, maria_at = f"TCP {pg['host']}:{pg['port']}", f"TCP {mariadb['host']}:{mariadb['port']}"
    assert reach["pg"]["ok"] is True and reach["pg"]["check"] == pg_at
    assert reach["maria"]["ok"] is True and reach["maria"]["check"] == maria_at
    table = dvt("debug", "--profiles-dir", str(folder))
    assert pg_at in table.out and "open in" in table.out


# -- which of a warehouse's two native paths (issue 13) ------------------------------------------
SF_KEY_ID = "AKIADEBUGKEYID000013"
SF_SECRET = "dvt-debug-Secret/Key+13"
SAS = "sv=2024-11-04&sp=rwl&sig=dvtDebugSig13%3D"


def test_each_warehouse_output_shows_its_native_path_with_credentials_masked(
        dvt: Dvt, tmp_path: Path) -> None:
    folder = _write(tmp_path / "c", """
        wh:
          target: sf
          outputs:
            sf: {type: snowflake, account: acme, user: u, password: pw, database: D}
            sf_azure: {type: snowflake, account: acme, user: u, password: pw, database: D}
            rs: {type: redshift, host: rs.example.com, user: u, password: pw, dbname: dev}
            bq: {type: bigquery, project: proj, dataset: ds}
    """, buckets=f"""
        wh:
          target: s3
          outputs:
            s3: {{type: s3, bucket: lake, region: us-east-1, aws_access_key_id: {SF_KEY_ID},
                  aws_secret_access_key: "{SF_SECRET}"}}
            gcs: {{type: gcs, bucket: glake, project: proj}}
            az: {{type: azure, storage_account: acmelake, container: stage, sas_token: "{SAS}"}}
    """)
    result = dvt("debug", "--profiles-dir", str(folder), "--json", "--no-connect")
    for secret in (SF_SECRET, SAS):
        assert secret not in result.text
    rows = {c["name"]: c for c in result.json()["connections"]}
    for name, connector, title in (("sf", "snowflake_unload", "snowflake"),
                                   ("rs", "redshift_unload", "redshift"),
                                   ("bq", "bigquery_unload", "bigquery")):
        assert rows[name]["connector"] == connector
        assert f"no Spark connector for {title} can run here (no release of the {title} Spark " \
               "connector" in rows[name]["reason"]
    assert rows["sf"]["notes"][:2] == [
        "unload: COPY INTO 's3://lake/dvt/<run id>/' FROM (<select>) CREDENTIALS = (AWS_KEY_ID = "
        "'****' AWS_SECRET_KEY = '****') FILE_FORMAT = (TYPE = PARQUET) HEADER = TRUE",
        "load: COPY INTO <staging table> FROM 's3://lake/dvt/<run id>/' CREDENTIALS = (AWS_KEY_ID "
        "= '****' AWS_SECRET_KEY = '****') FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = "
        "CASE_INSENSITIVE"]
    assert rows["bq"]["notes"][:2] == [
        "unload: EXPORT DATA OPTIONS (uri = 'gs://glake/dvt/<run id>/*.parquet', format = "
        "'PARQUET', overwrite = true) AS <select>",
        "load: load job: sourceUris = ['gs://glake/dvt/<run id>/*.parquet'], sourceFormat = "
        "PARQUET, destinationTable = <staging table>, writeDisposition = WRITE_APPEND"]
    table = dvt("debug", "--profiles-dir", str(folder), "--no-connect")
    assert "snowflake_unload" in table.out and SF_SECRET not in table.text


def test_debug_shows_the_azure_unload_with_the_sas_masked(dvt: Dvt, tmp_path: Path) -> None:
    folder = _write(tmp_path / "c", """
        wh:
          target: sf
          outputs:
            sf: {type: snowflake, account: acme, user: u, password: pw, database: D}
    """, buckets=f"""
        wh:
          target: az
          outputs:
            az: {{type: azure, storage_account: acmelake, container: stage, sas_token: "{SAS}"}}
    """)
    result = dvt("debug", "--profiles-dir", str(folder), "--json", "--no-connect")
    assert SAS not in result.text
    [sf] = result.json()["connections"]
    assert sf["connector"] == "snowflake_unload" and sf["bucket"] == "az"
    assert sf["notes"][0] == (
        "unload: COPY INTO 'azure://acmelake.blob.core.windows.net/stage/dvt/<run id>/' FROM "
        "(<select>) CREDENTIALS = (AZURE_SAS_TOKEN = '****') FILE_FORMAT = (TYPE = PARQUET) "
        "HEADER = TRUE")


def test_the_vendor_connector_when_a_release_fits_and_its_jars_are_synced(tmp_path: Path) -> None:
    from dvt_connect.databases import database
    from dvt_connect.jars.spark_versions import SparkInstall

    native = database("snowflake").native
    assert native is not None
    spark40 = SparkInstall("4.0.1", "4.0", "2.13", "3.4.1", tmp_path)
    jars = tmp_path / "jars"
    jars.mkdir()
    empty = Manifest(jars, [], {})
    assert doctor.connector_unavailable(native, spark40, empty) == (
        "its Spark connector jars are not in the jars folder (run `dvt sync`)")
    (jars / "spark-snowflake.jar").write_bytes(b"PK")
    synced = Manifest(jars, [ManifestEntry("net.snowflake:spark-snowflake_2.13:3.2.2-spark_4.0",
                                           "spark-snowflake.jar", "0" * 64,
                                           "https://repo1.maven.org/maven2",
                                           ("native:snowflake",))],
                      {"native:snowflake": ["net.snowflake:spark-snowflake_2.13:3.2.2-spark_4.0"]})
    assert doctor.connector_unavailable(native, spark40, synced) is None
    spark43 = SparkInstall("4.3.0", "4.3", "2.13", "3.4.2", tmp_path)
    assert doctor.connector_unavailable(native, spark43, synced) == (
        "no release of the snowflake Spark connector (`net.snowflake:spark-snowflake_2.13`) fits "
        "Spark 4.3 / Scala 2.13")


def test_debug_names_the_missing_bigquery_client(dvt: Dvt, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from dvt_connect.connectors import selection

    real = selection.module_installed
    monkeypatch.setattr(selection, "module_installed",
                        lambda name: name != "google.cloud.bigquery" and real(name))
    folder = _write(tmp_path / "c", """
        wh:
          target: bq
          outputs:
            bq: {type: bigquery, project: proj, dataset: ds}
    """, buckets="""
        wh:
          target: gcs
          outputs:
            gcs: {type: gcs, bucket: glake, project: proj}
    """)
    [bq] = dvt("debug", "--profiles-dir", str(folder), "--json", "--no-connect").json()[
        "connections"]
    assert bq["connector"] == "bigquery_unload" and bq["status"] == "warn"
    assert bq["reason"].startswith("stage-native: BigQuery unloads to `gcs` (gcs)")
    assert any(n.startswith("the stage-native path for BigQuery needs the Python module(s) "
                            "google.cloud.bigquery, which are not installed.")
               and 'pip install "dvt-connect[bigquery]"' in n for n in bq["notes"])
