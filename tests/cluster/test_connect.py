"""The warm local engine: `dvt server start|status|stop` runs a real Spark Connect server on
loopback from the installed PySpark with the synced jars; a client reads PostgreSQL through it
over JDBC (the synced driver is on the server); `dvt transfer` and `dvt run` move exact data
through it on the JDBC and bulk paths, both ways in: attached to the server's JVM
(`--master local-server`) and over Spark Connect (its `sc://` URL); the fixture ends exactly the
PID it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults.conftest import (
    DB_SECRET,
    PG,
    SECRETS,
    Cli,
    assert_no_secret,
    descendants,
    maria,
    parent,
    pg_table,
    psql,
    read_proc,
    scan_processes,
    unique,
)

from cluster.conftest import (
    COLUMNS,
    ROWS,
    VALUES,
    maria_rows,
    parquet_rows,
    replication_tables,
    source_rows,
)

pytestmark = [pytest.mark.cluster, pytest.mark.spark, pytest.mark.postgres]


@pytest.fixture(scope="module")
def server(cli: Cli) -> Iterator[dict[str, object]]:
    started = cli.run("server", "start", "--json", timeout=600)
    assert started.returncode == 0, started.stdout + started.stderr
    state = json.loads(started.stdout)
    pid = int(state["pid"])
    try:
        yield state
    finally:
        stopped = cli.run("server", "stop", "--json")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists() or "dvt_connect.connect_server" not in read_proc(
                    pid, "cmdline"):
                break
            time.sleep(0.1)
        else:  # `dvt server stop` failed: end the server this fixture started, by its PID
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"`dvt server stop` left PID {pid} running")
        # it stopped its Connect service and Spark cleanly: no traceback through the server's
        # own code (`SparkConnectService.stop()` with no arguments raised, and Spark was killed)
        log = Path(str(state["log"])).read_text(errors="replace")
        assert 'connect_server.py", line' not in log, log[-3000:]


def test_status_shows_the_server_on_loopback_with_the_synced_jars(
        cli: Cli, server: dict[str, object]) -> None:
    status = cli.run("server", "status", "--json")
    doc = json.loads(status.stdout)
    assert doc["running"] is True and doc["pid"] == server["pid"]
    assert doc["url"] == f"sc://localhost:{server['port']}"
    assert int(doc["jars"]) >= 2  # the PostgreSQL and MariaDB drivers from `dvt sync`
    assert isinstance(doc["python_workers"], int)
    pid = int(server["pid"])
    assert "dvt_connect.connect_server" in read_proc(pid, "cmdline")
    # its JVM, a child of the server's process, listens on loopback with the synced drivers (a
    # child of the JVM caught between its fork and exec carries the JVM's command line too)
    children = [p for p in descendants(pid)[1:] if parent(p) == pid]
    (jvm,) = [c for c in map(lambda p: read_proc(p, "cmdline"), children) if "SparkSubmit" in c]
    assert "spark.connect.grpc.binding.address=127.0.0.1" in jvm
    assert "spark.sql.artifact.isolation.enabled=false" in jvm
    assert "postgresql-42" in jvm
    # it warmed up before it answered, every step (dvt_connect.warm_up), its workers still there
    log = Path(str(server["log"])).read_text(errors="replace")
    warmed = [line for line in log.splitlines() if "warmed up in" in line]
    assert warmed and "failed" not in warmed[-1], log[-3000:]
    for step in ("JDBC drivers", "JDBC read", "Parquet schema", "Python workers"):
        assert step in warmed[-1], warmed[-1]
    assert _python_daemons(pid), "the warm-up started no Python daemon"
    # a second start finds the running one and starts nothing
    again = json.loads(cli.run("server", "start", "--json").stdout)
    assert again["pid"] == server["pid"]


CLIENT = textwrap.dedent("""
    import json, sys
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
    df = (spark.read.format("jdbc").option("url", sys.argv[2]).option("dbtable", sys.argv[3])
          .option("user", sys.argv[4]).option("password", sys.stdin.read())
          .option("driver", "org.postgresql.Driver").load())
    rows = sorted(f"{r.id}|{r.v}" for r in df.collect())
    print(json.dumps(rows))
""")


def test_a_jdbc_read_runs_on_the_server_with_the_synced_driver_and_no_secret_on_a_command_line(
        cli: Cli, server: dict[str, object]) -> None:
    table = unique("cn_read")
    pg_table(table, "id bigint, v text", "SELECT g, 'row ' || g FROM generate_series(1, 3000) g")
    url = f"jdbc:postgresql://{PG['host']}:{PG['port']}/{PG['database']}"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", CLIENT, str(server["url"]), url, table,
             str(PG["user"])], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=cli.env)
        assert proc.stdin is not None
        proc.stdin.write(DB_SECRET)  # the password travels over gRPC, never on a command line
        proc.stdin.close()
        while proc.poll() is None:
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    cmdline = read_proc(entry.name, "cmdline")
                    for secret in SECRETS:
                        assert secret not in cmdline
            time.sleep(0.1)
        out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
        assert proc.returncode == 0, err[-3000:]
        expected = sorted(psql(f"SELECT id || '|' || v FROM {table}").splitlines())
        assert json.loads(out) == expected
        log = Path(str(server["log"])).read_text(errors="replace")
        assert_no_secret(log)
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")


# the two ways a command reaches the server: attached to its JVM, or as a Spark Connect client
WAYS = ["attached", "connect"]


def _master(server: dict[str, object], way: str) -> str:
    return "local-server" if way == "attached" else str(server["url"])


def _scan_while(cli: Cli, way: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `dvt` and, while it runs, read every process's command line (the server's, a Connect
    client's JVM and the server's Python workers among them) and the environment of the
    client's own processes: no secret may appear. The profile has an S3 bucket with known keys
    configured. A Connect client runs its JDBC statements in a JVM of its own; an attached one
    starts no JVM (they run in the server's)."""
    proc = cli.start(*args)
    seen_client_jvm, scans = False, 0
    while proc.poll() is None:
        mine = scan_processes(set(descendants(proc.pid)))
        seen_client_jvm = seen_client_jvm or any("java" in c.split(" ")[0] for c in mine)
        scans += 1
        time.sleep(0.1)
    out, err = proc.communicate()
    assert_no_secret(out + err)
    assert scans >= 5, "the scan barely ran: it proved nothing"
    assert seen_client_jvm == (way == "connect"), seen_client_jvm
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _stats(done: subprocess.CompletedProcess[str], way: str) -> dict[str, Any]:
    assert done.returncode == 0, done.stdout + done.stderr
    stats: dict[str, Any] = json.loads(done.stdout)
    # an attached client follows the tasks as on a local master; Spark Connect shows none
    coarse = "Spark Connect: progress is coarse (no task counts)" in stats["notes"]
    assert coarse == (way == "connect"), stats["notes"]
    return stats


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("connector", ["native", "jdbc"])
def test_postgres_to_parquet_on_the_server_is_exact_with_no_secret_on_a_command_line(
        cli: Cli, server: dict[str, object], connector: str, way: str) -> None:
    table = unique(f"cn_pq_{connector}")
    pg_table(table, COLUMNS, VALUES)
    try:
        args = ("transfer", "--source", "pg", "--table", table, "--target-table", table,
                "--connector", connector, "--partitions", "3", "--master",
                _master(server, way), "--json")
        # one scan is enough: the bulk path's tasks carry the password, so it is the one
        stats = _stats(_scan_while(cli, way, *args) if connector == "native"
                       else cli.run(*args), way)
        assert stats["rows"] == ROWS and stats["partitions"] == 3
        assert stats["connector"] == ("postgres_native" if connector == "native" else "jdbc")
        # the bulk read goes Arrow end to end: its tasks ran through mapInArrow on the server
        assert (stats["notes"][0].startswith("Arrow end to end")) == (connector == "native")
        assert parquet_rows(cli.lake / table) == source_rows(table)
        assert_no_secret(Path(str(server["log"])).read_text(errors="replace"))
        if connector == "native":  # its tasks ran in the server's Python workers, still there
            status = json.loads(cli.run("server", "status", "--json").stdout)
            assert status["python_workers"] >= 1, status
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")


def _python_daemons(server_pid: int) -> set[int]:
    """The PySpark daemons under the server (`python -m <daemon module> pyspark.worker`, whose
    parent is no such process): each forks that set's workers."""
    def python(pid: int | str) -> bool:
        return read_proc(pid, "cmdline").split()[-1:] == ["pyspark.worker"]

    return {p for p in descendants(server_pid)
            if python(p) and not python(parent(p) or 0)}  # 0: its parent is gone


def test_every_command_s_tasks_share_the_server_s_warm_python_workers(
        cli: Cli, server: dict[str, object]) -> None:
    """Each `dvt` command is a new session of the server. Spark's own Connect server main gives
    every Connect session its own Python daemon and workers, started cold and kept until the
    server stops; ours has one set that each Connect command's Arrow tasks reuse, and attached
    commands' tasks run in the set the server's warm-up started (Spark keys a set by the tasks'
    environment, which Connect builds differently, and by the interpreter's path: the attached
    commands here run another name of the same venv's Python than the server's)."""
    table = unique("cn_workers")
    pg_table(table, COLUMNS, VALUES)
    pid = int(server["pid"])
    python = Path(sys.executable)
    other = python.with_name("python" if python.name == "python3" else "python3")
    assert other.exists() and other != python, other
    try:
        daemons = [_python_daemons(pid)]  # the warm-up's
        for run, way in enumerate(["connect", "connect", "attached", "attached"]):
            args = ["transfer", "--source", "pg", "--table", table, "--target-table",
                    f"{table}_{run}", "--connector", "native", "--partitions", "2",
                    "--master", _master(server, way), "--json"]
            if way == "connect":
                done = cli.run(*args)
            else:
                done = subprocess.run([str(other), "-m", "dvt_connect", *args], env=cli.env,
                                      capture_output=True, text=True, timeout=600)
                assert_no_secret(done.stdout + done.stderr)
            stats = _stats(done, way)
            assert stats["notes"][0].startswith("Arrow end to end"), stats["notes"]
            assert parquet_rows(cli.lake / f"{table}_{run}") == source_rows(table)
            daemons.append(_python_daemons(pid))
        assert daemons[0], "the server's warm-up started no Python daemon"
        assert not daemons[2] - daemons[1], daemons  # the second Connect command started none
        assert daemons[4] == daemons[2], daemons  # nor did either attached command
        assert len(daemons[4]) <= 2, daemons
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.mariadb
@pytest.mark.parametrize(("connector", "way"), [("auto", "attached"), ("jdbc", "connect")])
def test_postgres_to_mariadb_on_the_server_is_exact(cli: Cli, server: dict[str, object],
                                                    connector: str, way: str) -> None:
    table = unique(f"cn_maria_{connector}")
    pg_table(table, COLUMNS, VALUES)
    try:
        stats = _stats(cli.run(
            "transfer", "--source", "pg", "--table", table, "--target", "maria",
            "--target-table", table, "--connector", connector, "--partitions", "2",
            "--master", _master(server, way), "--json"), way)
        # auto: JDBC reads this small table, the bulk loader (LOAD DATA) writes it
        assert stats["target_connector"] == ("jdbc" if connector == "jdbc" else "mysql_native")
        assert maria_rows(table) == source_rows(table)
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")
        maria(f"DROP TABLE IF EXISTS {table}")


ATTACH_CLIENT = textwrap.dedent("""
    import json, sys, time
    from dvt_connect import attach, spark as sm
    spark = sm.get_session(sm.session_spec(master="local-server"))
    gateway = attach._attached[1]
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    sc = spark.sparkContext
    print(json.dumps({"attached": attach.is_attached(spark), "connect": sm.is_connect(spark),
                      "master": sc.master, "before": before,
                      "sum": spark.range(1000, numPartitions=4).selectExpr("sum(id)").first()[0],
                      "port": gateway.gateway_parameters.port, "temp": sc._temp_dir}),
          flush=True)
    if sys.argv[1] == "hang":
        time.sleep(600)
    if sys.argv[1] == "stop":
        sm.stop_session()
""")


def _gateway_open(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_an_attached_client_works_in_its_own_session_and_leaves_the_server_running(
        cli: Cli, server: dict[str, object]) -> None:
    pid = int(server["pid"])
    args = read_proc(pid, "cmdline").split()
    sock = Path(args[args.index("--socket") + 1])
    assert sock.is_socket() and sock.stat().st_mode & 0o777 == 0o600  # this user's alone

    def client(mode: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
        proc = subprocess.Popen([sys.executable, "-W", "ignore", "-c", ATTACH_CLIENT, mode],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=cli.env)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.communicate()[1][-3000:]
        return proc, json.loads(line)

    first, first_doc = client("stop")
    assert first.wait(timeout=120) == 0, first.communicate()[1][-3000:]
    # a classic session of the server's context (its local master), its work done there
    assert first_doc["attached"] is True and first_doc["connect"] is False
    assert first_doc["master"].startswith("local") and first_doc["sum"] == 499500
    # stop_session detached: the server runs on and released the client's gateway
    assert json.loads(cli.run("server", "status", "--json").stdout)["pid"] == pid
    assert not _gateway_open(int(first_doc["port"]))
    # the folder PySpark made for the client in the server's local dir is gone with it, whether
    # it stopped its session or just ended
    assert Path(first_doc["temp"]).parent.is_dir() and not Path(first_doc["temp"]).exists()
    ended, doc = client("exit")
    assert ended.wait(timeout=120) == 0, ended.communicate()[1][-3000:]
    assert not Path(doc["temp"]).exists() and not _gateway_open(int(doc["port"]))
    # the next client's session starts from the server's settings, not the first one's
    hung, doc = client("hang")
    assert doc["before"] == first_doc["before"] != "7"
    try:
        assert _gateway_open(int(doc["port"]))
    finally:
        hung.kill()  # a client killed while attached: the server releases its gateway
        hung.wait()
    for _ in range(100):
        if not _gateway_open(int(doc["port"])):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the server kept a killed client's gateway open")
    assert json.loads(cli.run("server", "status", "--json").stdout)["pid"] == pid


@pytest.mark.parametrize("way", WAYS)
def test_the_plan_says_how_the_command_reached_the_server(
        cli: Cli, server: dict[str, object], way: str) -> None:
    table = unique("cn_plan")
    pg_table(table, COLUMNS, VALUES)
    try:
        done = cli.run("transfer", "--source", "pg", "--table", table, "--target-table", table,
                       "--master", _master(server, way), "--dry-run", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        spark = json.loads(done.stdout)["spark"]
        assert spark["master"] == _master(server, way) and spark["origin"] == "--master"
        assert spark["kind"] == way
        assert not (cli.lake / table).exists()
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")


def test_a_killed_attached_transfer_has_its_jobs_cancelled_by_the_server(
        cli: Cli, server: dict[str, object]) -> None:
    # a source whose export takes 100 s: 400 rows, a quarter of a second each, 20 kB each so
    # that the backend sends every row at once (and notices a reader gone at the next one)
    slow, target = unique("cn_slow"), unique("cn_killed")
    psql(f"CREATE VIEW {slow} AS SELECT g::bigint AS id, repeat('row ', 5000) || g AS v "
         "FROM generate_series(1, 400) g WHERE pg_sleep(0.25) IS NOT NULL")

    def exporting() -> list[str]:
        return psql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    f"AND state = 'active' AND query ILIKE 'COPY (SELECT%{slow}%TO STDOUT%' "
                    "AND pid <> pg_backend_pid()").split()

    proc = cli.start("transfer", "--source", "pg", "--table", slow, "--target-table", target,
                     "--connector", "native", "--master", "local-server", "--json")
    try:
        deadline = time.monotonic() + 300
        while not exporting():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the export never started"
            time.sleep(0.1)
        proc.kill()  # no signal handler runs: only the server can stop the command's job
        proc.wait()
        for _ in range(300):  # 30 s, where the export would run on for more than a minute
            if not exporting():
                break
            time.sleep(0.1)
        else:
            pytest.fail("the server went on exporting for a client that was killed")
        log = Path(str(server["log"])).read_text(errors="replace")
        assert "an attached client ended while its job group dvt-" in log, log[-3000:]
        assert not (cli.lake / target).exists()  # the target is as it was: absent
        assert json.loads(cli.run("server", "status", "--json").stdout)["pid"] == server["pid"]
    finally:
        if proc.poll() is None:
            proc.kill()
        psql(f"DROP VIEW IF EXISTS {slow}")
        # the lock file a run killed hard leaves (its message says to delete it)
        (cli.lake / f".{target}.dvt-lock").unlink(missing_ok=True)


@pytest.mark.mariadb
def test_a_replication_file_runs_on_connect(cli: Cli, server: dict[str, object],
                                            tmp_path: Path) -> None:
    spec, (first, second) = replication_tables(tmp_path)
    try:
        done = cli.run("run", str(spec), "--master", "local-server", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        for table in (first, second):
            assert maria_rows(table) == source_rows(table)
    finally:
        for table in (first, second):
            psql(f"DROP TABLE IF EXISTS {table}")
            maria(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.parametrize("way", WAYS)
def test_an_output_the_server_cannot_reach_is_one_error_before_anything_is_written(
        cli: Cli, server: dict[str, object], way: str) -> None:
    # a bucket's credentials would go on the server's context, which every command shares
    table = unique("cn_refused")
    pg_table(table, COLUMNS, VALUES)
    try:
        done = cli.run("transfer", "--source", "pg", "--table", table, "--target", "s3lake",
                       "--target-table", table, "--master", _master(server, way))
        assert done.returncode == 2, done.stdout + done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert lines[0].startswith(
            "Error: output `s3lake` (files) cannot be used on Spark Connect: "
            "s3a://dvt-fault-used/lake is not on a local disk" if way == "connect" else
            "Error: output `s3lake` (files) cannot be used on the warm local server "
            "(--master local-server): it needs bucket credentials"), lines
        assert "Nothing was read or written." in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.mariadb
def test_a_server_without_an_outputs_driver_is_one_error_naming_the_jar_and_the_fix(
        cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A remote Connect server started without the PostgreSQL driver (here: with no jars at
    all): the JDBC read fails on the server, and dvt says so in one line naming the server, the
    driver class, its Maven coordinate and how to add it; the same for the MariaDB driver of a
    JDBC write; the target keeps what it had."""
    from dvt_connect import connect_server

    monkeypatch.setenv("DVT_HOME", cli.env["DVT_HOME"])
    port = connect_server.free_port()
    log = tmp_path / "bare-server.log"
    env = dict(cli.env, SPARK_HOME=str(connect_server.spark_home()), PYSPARK_PYTHON=sys.executable)
    with open(log, "wb") as out:
        bare = subprocess.Popen(connect_server.server_command(port, [], tmp_path / "b.sock"),
                                env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    table = unique("cn_nodriver")
    pg_table(table, COLUMNS, VALUES)
    maria(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigint, v text); "
          f"INSERT INTO {table} VALUES (7, 'kept')")
    try:
        deadline = time.monotonic() + connect_server.START_TIMEOUT
        while not connect_server._answers(port):
            assert bare.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the bare Connect server never answered"
            time.sleep(0.5)
        url = f"sc://127.0.0.1:{port}"
        done = cli.run("transfer", "--source", "pg", "--table", table, "--target", "maria",
                       "--target-table", table, "--connector", "jdbc", "--master", url)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 1, done.stdout + done.stderr
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"Error: the Spark Connect server {url} has no JDBC driver "
                                   "org.postgresql.Driver"), lines
        assert "org.postgresql:postgresql:" in lines[0]
        assert "spark.jars.packages" in lines[0] and "dvt server start" in lines[0]
        assert "Traceback" not in done.stdout + done.stderr
        assert maria(f"SELECT id, v FROM {table}") == "7\tkept"
        # the write: local Parquet (read by the server's own tasks) to MariaDB over JDBC
        import pyarrow as pa
        import pyarrow.parquet as pq

        (cli.lake / table).mkdir(parents=True)
        pq.write_table(pa.table({"id": [1, 2], "v": ["a", "b"]}),
                       cli.lake / table / "part-0.parquet")
        done = cli.run("transfer", "--source", "lake", "--table", table, "--target", "maria",
                       "--target-table", table, "--connector", "jdbc", "--master", url)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 1, done.stdout + done.stderr
        assert len(lines) == 1, lines
        assert (f"the Spark Connect server {url} has no JDBC driver org.mariadb.jdbc.Driver "
                "(output `maria` needs org.mariadb.jdbc:mariadb-java-client:") in lines[0]
        assert "The target was left as it was." in lines[0]
        assert "Traceback" not in done.stdout + done.stderr
        assert maria(f"SELECT id, v FROM {table}") == "7\tkept"
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")
        maria(f"DROP TABLE IF EXISTS {table}")
        bare.terminate()  # the server this test started, by its PID
        try:
            bare.wait(timeout=30)
        except subprocess.TimeoutExpired:
            bare.kill()
            bare.wait(timeout=30)


CONF_CLIENT = textwrap.dedent("""
    import json, sys
    from pyspark.sql import SparkSession
    from dvt_connect.spark import apply_connect_conf
    spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
    conf = {"spark.sql.shuffle.partitions": "7", "spark.sql.session.timeZone": "Asia/Tokyo",
            "spark.driver.memory": "3g", "spark.executor.memory": "2g",
            "spark.jars": "/nowhere.jar", "spark.sql.extensions": "x.Y"}
    refused = apply_connect_conf(spark, conf)
    print(json.dumps({"refused": refused,
                      "shuffle": spark.conf.get("spark.sql.shuffle.partitions"),
                      "zone": spark.sql("SELECT current_timezone()").first()[0]}))
""")


def test_the_profiles_runtime_conf_applies_on_connect_and_static_keys_are_named(
        cli: Cli, server: dict[str, object], tmp_path: Path) -> None:
    # the settings reach the session on the server: SQL settings apply, static/JVM ones are
    # refused by the server and returned
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", CONF_CLIENT, str(server["url"])],
                          capture_output=True, text=True, env=cli.env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["shuffle"] == "7" and doc["zone"] == "Asia/Tokyo"
    assert doc["refused"] == ["spark.driver.memory", "spark.executor.memory", "spark.jars",
                              "spark.sql.extensions"]
    # `dvt transfer` says which profile keys could not be applied, once, and runs
    profiles = (cli.root / "profiles.yml").read_text()
    profile = next(line for line in profiles.splitlines() if line.strip())
    conf = ("  spark:\n    conf:\n      spark.sql.shuffle.partitions: '7'\n"
            "      spark.driver.memory: 3g\n      spark.executor.cores: '2'\n")
    (tmp_path / "profiles.yml").write_text(profiles.replace(profile + "\n",
                                                            profile + "\n" + conf, 1))
    (tmp_path / "buckets.yml").write_text((cli.root / "buckets.yml").read_text())
    table = unique("cn_conf")
    pg_table(table, COLUMNS, VALUES)
    try:
        planned = cli.run("transfer", "--source", "pg", "--table", table, "--target-table", table,
                          "--master", "local-server", "--dry-run", DVT_PROFILES_DIR=str(tmp_path))
    finally:
        psql(f"DROP TABLE IF EXISTS {table}")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    warnings = [line for line in planned.stderr.splitlines() if "spark.conf" in line]
    assert len(warnings) == 1, planned.stdout + planned.stderr
    assert "`spark.driver.memory`, `spark.executor.cores` cannot be applied" in warnings[0]
    assert "spark.sql.shuffle.partitions" not in warnings[0]


PACKAGE_CLIENT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from pyspark.sql import SparkSession
    from dvt_connect.executors import missing_on_executors, ship_package
    spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
    missing = missing_on_executors(spark, ["pyarrow", "dvt_no_such_module"])
    shipped = ship_package(spark, Path(sys.argv[2]))

    def paths(batches):
        import sys
        import pyarrow as pa
        for _ in batches:
            pass
        yield pa.RecordBatch.from_pydict({"path": [";".join(sys.path)]},
                                         schema=pa.schema([("path", pa.string())]))

    seen = [row[0] for row in spark.range(2, numPartitions=2)
            .mapInArrow(paths, "path string").collect()]
    print(json.dumps({"missing": missing, "zip": shipped.name, "seen": seen}))
""")


def test_the_package_reaches_a_connect_servers_workers_and_what_they_lack_is_named(
        cli: Cli, server: dict[str, object], tmp_path: Path) -> None:
    # what the bulk paths do before any data moves on a Connect server elsewhere: upload our
    # package as a Python artifact of the session, and ask the server's Python workers which of
    # the task-side modules they cannot import (run here against the loopback server)
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", PACKAGE_CLIENT,
                           str(server["url"]), str(tmp_path / "cache")],
                          capture_output=True, text=True, env=cli.env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["missing"] == ["dvt_no_such_module"]
    assert doc["zip"].startswith("dvt_connect-") and doc["zip"].endswith(".zip")
    # each task's Python has the uploaded zip on its path
    assert len(doc["seen"]) == 2, doc
    for path in doc["seen"]:
        assert any(entry.endswith(doc["zip"]) for entry in path.split(";")), path
