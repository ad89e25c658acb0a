"""Finding and loading profiles.yml as dbt does, and a dbt user's file loading unchanged."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from dvt_connect import secrets
from dvt_connect.config import load_project
from dvt_connect.errors import ConfigError, NotFoundError
from dvt_connect.paths import find_config_dir

from .conftest import FIXTURES, PG_PROFILE, WriteConfig


def _folder_with_profiles(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "profiles.yml").write_text("x: {}\n")
    return path


# -- where the files are looked up -------------------------------------------------------------
def test_profiles_dir_option_wins_over_everything(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_PROFILES_DIR", str(tmp_path / "env"))
    monkeypatch.chdir(_folder_with_profiles(tmp_path / "cwd"))
    found = find_config_dir(tmp_path / "opt")
    assert (found.directory, found.source) == (tmp_path / "opt", "--profiles-dir")


def test_dvt_profiles_dir_before_dbt_profiles_dir(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_PROFILES_DIR", str(tmp_path / "dvt"))
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path / "dbt"))
    assert find_config_dir().directory == tmp_path / "dvt"
    monkeypatch.delenv("DVT_PROFILES_DIR")
    found = find_config_dir()
    assert (found.directory, found.source) == (tmp_path / "dbt", "DBT_PROFILES_DIR")


def test_current_folder_with_profiles_before_home(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    here = _folder_with_profiles(tmp_path / "project")
    monkeypatch.chdir(here)
    found = find_config_dir()
    assert (found.directory, found.source) == (here, "current folder")
    assert found.buckets == here / "buckets.yml"


def test_home_is_the_last_resort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 _isolated_home: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no profiles.yml here
    found = find_config_dir()
    assert found.directory == _isolated_home
    assert found.profiles == _isolated_home / "profiles.yml"
    monkeypatch.delenv("DVT_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert find_config_dir().directory == tmp_path / "user" / ".dvt"


def test_missing_profiles_yml_says_where_it_looked_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no profiles.yml found \(looked in .*empty") as info:
        load_project(tmp_path / "empty")
    assert "dvt init" in str(info.value)


# -- choosing the profile and the target --------------------------------------------------------
TWO_PROFILES = """
    alpha:
      target: one
      outputs:
        one: {type: sqlite, path: /tmp/a.db}
        two: {type: sqlite, path: /tmp/b.db}
    beta:
      outputs:
        only: {type: sqlite, path: /tmp/c.db}
"""


def test_profile_named_default_is_used(write_config: WriteConfig) -> None:
    folder = write_config(PG_PROFILE + TWO_PROFILES)
    project = load_project(folder)
    assert (project.profile_name, project.target_name) == ("default", "dev")


def test_the_only_profile_is_used(write_config: WriteConfig) -> None:
    folder = write_config("""
        mine:
          target: a
          outputs:
            a: {type: derby, path: /tmp/d}
    """)
    assert load_project(folder).profile_name == "mine"


def test_several_profiles_without_default_must_be_chosen(write_config: WriteConfig) -> None:
    folder = write_config(TWO_PROFILES)
    with pytest.raises(ConfigError, match="several profiles.*`alpha`, `beta`"):
        load_project(folder)
    assert load_project(folder, profile="beta").target_name == "only"


def test_dvt_profile_variable_chooses_the_profile(write_config: WriteConfig,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_PROFILE", "alpha")
    assert load_project(write_config(TWO_PROFILES)).profile_name == "alpha"


def test_target_defaults_to_the_profiles_target_and_can_be_overridden(
        write_config: WriteConfig) -> None:
    folder = write_config(TWO_PROFILES)
    assert load_project(folder, "alpha").target_name == "one"
    project = load_project(folder, "alpha", "two")
    assert project.target_name == "two"
    assert project.connection().path == "/tmp/b.db"
    assert project.connection("one").path == "/tmp/a.db"


def test_unknown_profile_suggests_the_closest(write_config: WriteConfig) -> None:
    with pytest.raises(NotFoundError, match="unknown profile `alpah`.*Did you mean `alpha`"):
        load_project(write_config(TWO_PROFILES), "alpah")


def test_unknown_target_suggests_the_closest(write_config: WriteConfig) -> None:
    with pytest.raises(NotFoundError, match="unknown output `tow`.*Did you mean `two`"):
        load_project(write_config(TWO_PROFILES), "alpha", "tow")
    project = load_project(write_config(TWO_PROFILES), "alpha")
    with pytest.raises(NotFoundError, match="unknown output `on`.*Did you mean `one`"):
        project.connection("on")


def test_dbt_config_block_is_not_a_profile(write_config: WriteConfig) -> None:
    folder = write_config("config:\n  send_anonymous_usage_stats: false\n"
                          + textwrap.dedent(TWO_PROFILES))
    with pytest.raises(ConfigError, match="`alpha`, `beta`"):
        load_project(folder)


# -- a dbt user's file, unchanged ---------------------------------------------------------------
@pytest.fixture
def dbt_project(config_dir: Path):  # type: ignore[no-untyped-def]
    shutil.copy(FIXTURES / "dbt_profiles.yml", config_dir / "profiles.yml")
    (config_dir / "profiles.yml").chmod(0o600)
    return load_project(config_dir)


def test_dbt_docs_profiles_load_unchanged(dbt_project) -> None:  # type: ignore[no-untyped-def]
    results = dbt_project.connection_results()
    broken = {name: str(r) for name, r in results.items() if isinstance(r, Exception)}
    assert broken == {}
    assert dbt_project.profile_name == "jaffle_shop"
    assert dbt_project.target_name == "dev"
    assert len(results) == 10


def test_dbt_postgres_fields(dbt_project) -> None:  # type: ignore[no-untyped-def]
    dev = dbt_project.connection("dev")
    assert (dev.type, dev.host, dev.port, dev.database, dev.schema, dev.user, dev.sslmode) == (
        "postgres", "localhost", 5432, "jaffle", "dbt_alice", "alice", "prefer")
    assert dev.password == "pg-docs-password"
    assert dev.jdbc_url() == "jdbc:postgresql://localhost:5432/jaffle"
    assert dev.jdbc_properties()["sslmode"] == "prefer"
    # dbt-only keys are kept and ignored
    assert dev.extra["threads"] == 4
    assert dev.extra["search_path"] == "public"


def test_dbt_postgres_aliases(dbt_project) -> None:  # type: ignore[no-untyped-def]
    legacy = dbt_project.connection("legacy_pg")
    assert (legacy.password, legacy.database, legacy.port) == ("legacy-pass-value",
                                                               "warehouse", 5433)


def test_dbt_snowflake_fields(dbt_project) -> None:  # type: ignore[no-untyped-def]
    sf = dbt_project.connection("snowflake_password")
    assert (sf.account, sf.user, sf.role, sf.database, sf.warehouse, sf.schema) == (
        "abc12345.us-east-1", "alice", "TRANSFORMER", "ANALYTICS", "TRANSFORMING", "DBT_ALICE")
    assert sf.jdbc_url() == "jdbc:snowflake://abc12345.us-east-1.snowflakecomputing.com/"
    props = sf.jdbc_properties()
    assert (props["warehouse"], props["role"], props["db"]) == (
        "TRANSFORMING", "TRANSFORMER", "ANALYTICS")
    keypair = dbt_project.connection("snowflake_keypair")
    assert keypair.password is None
    assert keypair.extra["private_key_path"] == "/secure/rsa_key.p8"
    oauth = dbt_project.connection("snowflake_oauth")
    assert oauth.extra["authenticator"] == "oauth"


def test_dbt_bigquery_fields(dbt_project) -> None:  # type: ignore[no-untyped-def]
    sa = dbt_project.connection("bigquery_service_account")
    assert (sa.method, sa.project, sa.schema) == ("service-account", "my-gcp-project",
                                                  "dbt_alice")
    assert sa.extra["keyfile"] == "/secure/bigquery-keyfile.json"
    assert sa.extra["location"] == "US"
    sa_json = dbt_project.connection("bigquery_service_account_json")
    assert sa_json.extra["keyfile_json"]["client_email"].startswith("dbt-user@")
    assert dbt_project.connection("bigquery_oauth").method == "oauth"


def test_dbt_redshift_fields(dbt_project) -> None:  # type: ignore[no-untyped-def]
    rs = dbt_project.connection("redshift_password")
    assert rs.jdbc_url() == "jdbc:redshift://hostname.region.redshift.amazonaws.com:5439/analytics"
    iam = dbt_project.connection("redshift_iam")
    assert (iam.method, iam.password, iam.extra["cluster_id"], iam.extra["iam_profile"]) == (
        "iam", None, "my-cluster", "analyst")


def test_dbt_secrets_are_registered_for_redaction(dbt_project) -> None:  # type: ignore[no-untyped-def]
    dbt_project.connections()
    text = ("pg-docs-password legacy-pass-value snowflake-docs-password "
            "keypair-docs-passphrase oauth-docs-token-value redshift-docs-password "
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7docs")
    assert secrets.redact(text).split() == [secrets.MASK] * 7
    # the ordinary words around a structured secret are not masked (output names use them)
    assert secrets.redact("bigquery_service_account_json") == "bigquery_service_account_json"


# -- other adapters and output-level settings ---------------------------------------------------
def test_every_adapter_family_loads(write_config: WriteConfig) -> None:
    folder = write_config("""
        default:
          target: pg
          outputs:
            pg: {type: postgresql, host: h, user: u, dbname: d}
            my: {type: mysql, host: h, user: u, schema: shop}
            maria: {type: mariadb, host: h, port: 3307, user: u, database: shop}
            mssql: {type: sqlserver, server: h, database: d, username: u, password: p}
            ora: {type: oracle, host: h, user: u, service: ORCLPDB1}
            lite: {type: sqlite, path: /tmp/x.db}
            duck: {type: duckdb, database: /tmp/x.duckdb}
            derby: {type: derby, path: /tmp/derbydb}
            generic:
              type: jdbc
              url: jdbc:hsqldb:hsql://localhost/xdb
              driver: org.hsqldb.jdbc.JDBCDriver
              packages: [org.hsqldb:hsqldb:2.7.4]
            lake: {type: files, path: s3a://bucket/lake, format: csv}
    """)
    c = load_project(folder).connections()
    assert c["pg"].type == "postgres"
    assert (c["my"].database, c["my"].jdbc_url()) == ("shop", "jdbc:mysql://h:3306/shop")
    assert c["maria"].jdbc_url() == "jdbc:mariadb://h:3307/shop"
    assert c["mssql"].jdbc_url() == "jdbc:sqlserver://h:1433;databaseName=d"
    assert c["mssql"].user == "u"
    assert c["ora"].jdbc_url() == "jdbc:oracle:thin:@//h:1521/ORCLPDB1"
    assert c["lite"].jdbc_url() == "jdbc:sqlite:/tmp/x.db"
    assert c["duck"].path == "/tmp/x.duckdb"
    assert c["derby"].jdbc_url() == "jdbc:derby:/tmp/derbydb;create=true"
    assert (c["generic"].jdbc_driver(), c["generic"].packages) == (
        "org.hsqldb.jdbc.JDBCDriver", ("org.hsqldb:hsqldb:2.7.4",))
    assert (c["lake"].is_files, c["lake"].format) == (True, "csv")


def test_packages_replace_the_driver_and_properties_are_passed(
        write_config: WriteConfig) -> None:
    folder = write_config("""
        default:
          target: pg
          outputs:
            pg:
              type: postgres
              host: h
              user: u
              dbname: d
              packages: [org.postgresql:postgresql:42.2.27]
              properties: {ssl: true, ApplicationName: dvt}
    """)
    pg = load_project(folder).connection()
    assert pg.packages == ("org.postgresql:postgresql:42.2.27",)
    props = pg.jdbc_properties()
    assert (props["ssl"], props["ApplicationName"]) == ("True", "dvt")


def test_bad_package_coordinate_is_an_error(write_config: WriteConfig) -> None:
    folder = write_config("""
        default:
          target: pg
          outputs:
            pg: {type: postgres, host: h, user: u, dbname: d, packages: [postgresql-42.jar]}
    """)
    with pytest.raises(ConfigError, match="`postgresql-42.jar` is not a Maven coordinate"):
        load_project(folder).connection()


@pytest.mark.parametrize(("output", "message"), [
    ("{type: postgres, user: u, dbname: d}", r"missing required field\(s\): `host`"),
    ("{type: snowflake, account: a, user: u}", "one way to authenticate"),
    ("{type: snowflake, account: a, user: u, authenticator: oauth}", "needs a `token`"),
    ("{type: bigquery, project: p, method: service-account}", "needs `keyfile`"),
    ("{type: bigquery, project: p, method: service-account-json}", "needs `keyfile_json`"),
    ("{type: bigquery, project: p, method: magic}", "unknown bigquery method `magic`"),
    ("{type: redshift, host: h, user: u, dbname: d, method: iam}", "needs `cluster_id`"),
    ("{type: files, path: /x, format: xlsx}", "unknown format `xlsx`; valid: parquet, csv"),
    ("{type: postgres, host: h, user: u, dbname: d, port: abc}", "`port` must be a whole"),
    ("{type: jdbc, url: 'jdbc:x:y'}", r"missing required field\(s\): `driver`"),
    ("{type: databricks, host: h, token: t}", r"missing required field\(s\): `http_path`"),
])
def test_output_rules(write_config: WriteConfig, output: str, message: str) -> None:
    folder = write_config(f"default:\n  target: o\n  outputs:\n    o: {output}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_project(folder).connection()
    assert str(info.value).startswith(str(folder / "profiles.yml"))


def test_a_database_specific_required_field_is_found_where_the_profile_puts_it(
        write_config: WriteConfig) -> None:
    """Databricks' `http_path` is not a common field; a profile that has it loads."""
    folder = write_config("default:\n  target: o\n  outputs:\n    o: {type: databricks, host: "
                          "h.cloud, http_path: /sql/1.0/warehouses/abc, token: t}\n")
    assert "httpPath=/sql/1.0/warehouses/abc" in load_project(folder).connection().jdbc_url()
