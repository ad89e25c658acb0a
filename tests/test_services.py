"""`make services` (tools/dvt_services.py): where the test servers are, and stopping only ours."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dvt_services
import pytest


def test_defaults_are_the_loopback_servers_make_services_starts() -> None:
    found = dvt_services.addresses({})
    assert found["postgres"].as_dict() == {"host": "127.0.0.1", "port": 5432, "user": "postgres",
                                           "database": "test", "password": ""}
    assert found["mariadb"].as_dict() == {"host": "127.0.0.1", "port": 3306, "user": "root",
                                          "database": "test", "password": ""}
    assert not found["postgres"].external and not found["mariadb"].external


def test_urls_from_the_environment_point_the_tests_elsewhere() -> None:
    found = dvt_services.addresses({
        "DVT_TEST_PG": "postgresql://ann:p%40ss@db.internal:6543/ci_db",
        "DVT_TEST_MARIADB": "mariadb://root@10.0.0.5/shop",
    })
    pg, maria = found["postgres"], found["mariadb"]
    assert (pg.host, pg.port, pg.user, pg.password, pg.database, pg.external) == (
        "db.internal", 6543, "ann", "p@ss", "ci_db", True)
    assert (maria.host, maria.port, maria.database) == ("10.0.0.5", 3306, "shop")


def test_the_password_reaches_the_client_by_environment_not_by_argument() -> None:
    pg = dvt_services.addresses({"DVT_TEST_PG": "postgresql://u:Svc-Secret-77@h:1/d"})["postgres"]
    assert "Svc-Secret-77" not in " ".join(pg.client_args())
    assert pg.client_env()["PGPASSWORD"] == "Svc-Secret-77"


@pytest.mark.parametrize(("var", "url", "message"), [
    ("DVT_TEST_PG", "mysql://root@h/test", "is not a PostgreSQL URL"),
    ("DVT_TEST_PG", "postgresql://u@h:5432", "must name one database"),
    ("DVT_TEST_MARIADB", "mysql://root@h:port/test", "DVT_TEST_MARIADB"),
])
def test_a_bad_url_is_one_clear_error(var: str, url: str, message: str) -> None:
    with pytest.raises(dvt_services.ServiceError, match=message):
        dvt_services.addresses({var: url})


def test_down_stops_exactly_the_recorded_server_and_nothing_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A recorded PID whose process is ours is stopped; a stale record naming somebody else's
    process (a reused PID) is dropped and that process is left alone."""
    monkeypatch.setenv("DVT_SERVICES_DIR", str(tmp_path))
    # SIGINT at its default (a shell's `cmd &` starts its children with it ignored), and said
    # so before the signal is sent
    sleeper = ("import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler);"
               " print('ready', flush=True); time.sleep(120)")
    ours, other = (subprocess.Popen([sys.executable, "-c", sleeper, arg], stdout=subprocess.PIPE,
                                    text=True)
                   for arg in (str(tmp_path / "postgres" / "data"), "someone-else"))
    assert ours.stdout is not None and ours.stdout.readline() == "ready\n"
    try:
        (tmp_path / "postgres.pid").write_text(f"{ours.pid}\n")
        (tmp_path / "mariadb.pid").write_text(f"{other.pid}\n")
        assert dvt_services.main(["down"]) == 0
        assert ours.wait(timeout=30) != 0          # stopped by its signal
        time.sleep(0.2)
        assert other.poll() is None                # not ours: still running
        assert not (tmp_path / "postgres.pid").exists()
        assert not (tmp_path / "mariadb.pid").exists()
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait()


@pytest.mark.postgres
@pytest.mark.mariadb
def test_up_again_uses_the_running_servers_as_they_are(pg: dict[str, object],
                                                      mariadb: dict[str, object]) -> None:
    """A second `make services` restarts nothing: the servers keep their PIDs and uptime."""
    pg_started, maria_uptime = _server_starts()
    done = subprocess.run([sys.executable, str(Path(dvt_services.__file__)), "up"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "started" not in done.stdout and "installing" not in done.stdout
    pg_again, maria_again = _server_starts()
    assert pg_again == pg_started and maria_again >= maria_uptime


def _server_starts() -> tuple[str, int]:
    """PostgreSQL's start time and MariaDB's uptime in seconds: a restart changes either."""
    servers = dvt_services.addresses()
    pg_started = servers["postgres"].client("SELECT pg_postmaster_start_time()", check=True)
    maria_up = servers["mariadb"].client("SELECT VARIABLE_VALUE FROM information_schema."
                                         "GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME'",
                                         check=True)
    return pg_started.stdout.strip(), int(maria_up.stdout.strip())
