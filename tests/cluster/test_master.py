"""Choosing the Spark master, showing its settings, shipping our package: pure, no Spark."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from dvt_connect import connect_server, secrets
from dvt_connect.cli.main import run
from dvt_connect.errors import UsageError
from dvt_connect.executors import package_zip
from dvt_connect.spark import JAVA_OPTIONS_ENV, MASTER_ENV, choose_master, session_spec


@pytest.fixture(autouse=True)
def _no_env_master(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MASTER_ENV, raising=False)


def test_flag_then_env_then_profile_then_local(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_master(None, None) == choose_master(None, None)
    assert choose_master(None, None).master == "local[*]"
    assert choose_master(None, "yarn", profile_name="p").origin == "profile `p` spark.master"
    monkeypatch.setenv(MASTER_ENV, "spark://10.0.0.1:7077")
    assert choose_master(None, "yarn").master == "spark://10.0.0.1:7077"
    assert choose_master(None, "yarn").origin == MASTER_ENV
    chosen = choose_master("local[2]", "yarn")
    assert (chosen.master, chosen.origin, chosen.kind) == ("local[2]", "--master", "local")


@pytest.mark.parametrize(("master", "kind"), [
    ("local", "local"), ("local[*]", "local"), ("local[4,2]", "local"),
    ("spark://h:7077", "cluster"), ("yarn", "cluster"), ("k8s://https://h:6443", "cluster"),
    ("sc://localhost:15002", "connect"), ("local-server", "connect"),
])
def test_every_master_form_spark_knows(master: str, kind: str) -> None:
    assert choose_master(master, None).kind == kind


def test_a_bad_master_names_where_it_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASTER_ENV, "spark:/h:7077")
    with pytest.raises(UsageError, match=r"DVT_SPARK_MASTER is `spark:/h:7077`, which is not "
                                         r"a Spark master"):
        choose_master(None, "yarn")


def test_a_bad_master_flag_is_one_line_and_exit_2(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "profiles.yml").write_text(
        "p:\n  target: lake\n  outputs:\n    lake: {type: files, path: /tmp/x}\n")
    code = run(["transfer", "--profiles-dir", str(tmp_path), "-s", "lake", "--table", "t",
                "--master", "mesos://h:5050"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--master is `mesos://h:5050`, which is not a Spark master" in err
    assert "Traceback" not in err


def test_jvm_options_from_the_env_and_the_profile_come_after_dvts_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JAVA_OPTIONS_ENV, "-XX:TieredStopAtLevel=1  '-Dnote=a b'")
    conf = session_spec(conf={"spark.driver.extraJavaOptions": "-Xss8m",
                              "spark.executor.extraJavaOptions": "-Xss2m"}).conf
    driver = conf["spark.driver.extraJavaOptions"]
    executor = conf["spark.executor.extraJavaOptions"]
    # the UTC zone the JDBC drivers convert through survives a profile's own options
    assert driver.startswith("-Duser.timezone=UTC ") and driver.endswith(
        " -XX:TieredStopAtLevel=1 -Dnote=a b -Xss8m")
    assert executor == "-Duser.timezone=UTC -XX:TieredStopAtLevel=1 -Dnote=a b -Xss2m"
    monkeypatch.delenv(JAVA_OPTIONS_ENV)
    assert "TieredStopAtLevel" not in session_spec().conf["spark.driver.extraJavaOptions"]


@pytest.mark.parametrize(("value", "message"), [
    ("-Xss4m Xmx2g", "DVT_JAVA_OPTIONS holds 'Xmx2g', which is not a JVM option"),
    ("-Dname='unclosed", "DVT_JAVA_OPTIONS cannot be split into JVM options"),
])
def test_a_bad_jvm_options_env_is_exit_2_naming_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        value: str, message: str) -> None:
    monkeypatch.setenv(JAVA_OPTIONS_ENV, value)
    (tmp_path / "profiles.yml").write_text(
        "p:\n  target: lake\n  outputs:\n    lake: {type: files, path: /tmp/x}\n")
    code = run(["transfer", "--profiles-dir", str(tmp_path), "-s", "lake", "--table", "t",
                "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_secret_settings_never_reach_the_launch_conf_and_are_masked() -> None:
    secrets.register("s3-Secret-Value-99")
    spec = session_spec(master="spark://h:7077", conf={
        "spark.hadoop.fs.s3a.secret.key": "s3-Secret-Value-99",
        "spark.executor.memory": "2g",
    })
    assert "spark.hadoop.fs.s3a.secret.key" not in spec.all_conf()
    assert spec.runtime_conf() == {"spark.hadoop.fs.s3a.secret.key": "s3-Secret-Value-99"}
    shown = spec.describe("--master", ["spark.hadoop.fs.s3a.secret.key",
                                       "spark.executor.memory"])
    assert shown == {"master": "spark://h:7077", "origin": "--master", "kind": "cluster",
                     "spark_home": spec.home,
                     "conf": {"spark.hadoop.fs.s3a.secret.key": "****",
                              "spark.executor.memory": "2g"}}


def test_profile_conf_secrets_are_registered_for_redaction(tmp_path: Path) -> None:
    from dvt_connect.config import load_project

    (tmp_path / "profiles.yml").write_text(
        "p:\n  target: lake\n  spark:\n    master: yarn\n    conf:\n"
        "      spark.hadoop.fs.azure.account.key.x.dfs.core.windows.net: Azure-Key-Value-42\n"
        "  outputs:\n    lake: {type: files, path: /tmp/x}\n")
    project = load_project(tmp_path)
    assert project.spark_master == "yarn"
    assert len(project.spark_conf) == 1
    assert secrets.redact("key Azure-Key-Value-42") == "key ****"


def test_the_package_zip_holds_the_sources_and_is_built_once(tmp_path: Path) -> None:
    first = package_zip(tmp_path)
    assert package_zip(tmp_path) == first
    names = zipfile.ZipFile(first).namelist()
    assert "dvt_connect/__init__.py" in names
    assert "dvt_connect/connectors/arrow_bulk/tasks.py" in names
    assert "dvt_connect/log4j2.properties" in names
    assert not [n for n in names if "__pycache__" in n]


def test_local_server_without_a_running_server_says_how_to_start_one() -> None:
    with pytest.raises(UsageError, match=r"no local Spark Connect server runs.*dvt server "
                                         r"start"):
        connect_server.connect_url("local-server")
    assert connect_server.connect_url("sc://h:15002") == "sc://h:15002"


def test_server_status_when_none_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["server", "status", "--json"]) == 0
    assert '"running": false' in capsys.readouterr().out


def test_debug_shows_the_master_its_origin_and_the_masked_conf(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dvt_connect.doctor import gather

    (tmp_path / "profiles.yml").write_text(
        "p:\n  target: lake\n  spark:\n    master: spark://h:7077\n    conf:\n"
        "      spark.executor.memory: 2g\n"
        "      spark.hadoop.fs.s3a.secret.key: S3-Secret-In-Profile-7\n"
        "  outputs:\n    lake: {type: files, path: /tmp/x}\n")
    report = gather(str(tmp_path), connect=False)
    (check,) = [e for e in report.environment if e.name == "Spark master"]
    assert (check.value, check.status) == ("spark://h:7077", "ok")
    assert check.detail == ("cluster, from profile `p` spark.master; conf "
                            "spark.executor.memory=2g, spark.hadoop.fs.s3a.secret.key=****")
    monkeypatch.setenv(MASTER_ENV, "nonsense")
    (check,) = [e for e in gather(str(tmp_path), connect=False).environment
                if e.name == "Spark master"]
    assert check.status == "error" and "DVT_SPARK_MASTER is `nonsense`" in check.detail
