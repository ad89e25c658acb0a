"""The database servers the test suite and the benchmarks need: where they are; bringing them up.

`make services` runs ``python3 tools/dvt_services.py up``; `make services-stop` runs ``down``.
Standard library only: it runs before the project's virtualenv exists.

Addresses come from one place, :func:`addresses`: ``DVT_TEST_PG`` and ``DVT_TEST_MARIADB`` (URLs
such as ``postgresql://postgres@127.0.0.1:5432/test`` and ``mysql://root@127.0.0.1:3306/test``),
else the defaults below. The tests and the benchmarks import it too.

``up``, per server:
  - an address given by its variable is somebody else's server: it is only checked (reachable,
    login works) and its database created when missing; nothing is installed or started;
  - a server already answering at the default address is used as it is, never restarted;
  - otherwise the Debian package is installed when absent (root), a data directory of our own is
    made under the state folder, and the server is started on loopback only, its PID recorded.
``down`` stops exactly the servers whose PIDs ``up`` recorded, and nothing else.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

START_TIMEOUT_S = 90


@dataclass(frozen=True)
class Address:
    """Where one test server is and how to log in: a URL's parts."""

    kind: str                 # "postgres" or "mariadb"
    host: str
    port: int
    user: str
    password: str
    database: str
    external: bool            # given by an environment variable: not ours to install or start

    def as_dict(self) -> dict[str, object]:
        """The mapping the test fixtures use (`host`, `port`, `user`, `database`, `password`)."""
        return {"host": self.host, "port": self.port, "user": self.user,
                "database": self.database, "password": self.password}

    def url(self) -> str:
        """The address as the URL DVT_TEST_PG / DVT_TEST_MARIADB take (what `parse_url` reads)."""
        login = quote(self.user, safe="") + (f":{quote(self.password, safe='')}"
                                             if self.password else "")
        return (f"{SERVERS[self.kind].schemes[0]}://{login}@{self.host}:{self.port}/"
                f"{self.database}")

    @property
    def label(self) -> str:
        return f"{SERVERS[self.kind].title} at {self.host}:{self.port}/{self.database}"

    def client_args(self, database: str | None = None) -> list[str]:
        """The database's own command-line client over TCP: terse output, stop at an error."""
        db = database or self.database
        if self.kind == "postgres":
            return ["psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", db,
                    "-v", "ON_ERROR_STOP=1", "-qAt"]
        return [mariadb_client(), "--protocol=TCP", "-h", self.host, "-P", str(self.port),
                "-u", self.user, "--connect-timeout=5", "-N", "-B", f"--database={db}"]

    def client_env(self) -> dict[str, str]:
        """The client's environment: the password travels here, never on the command line."""
        return dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="5",
                    MYSQL_PWD=self.password)

    def client(self, sql: str, *, database: str | None = None,
               check: bool = False) -> subprocess.CompletedProcess[str]:
        """Runs SQL with the database's own client; ``check`` raises on a non-zero exit."""
        flag = "-c" if self.kind == "postgres" else "-e"
        return subprocess.run([*self.client_args(database), flag, sql], env=self.client_env(),
                              capture_output=True, text=True, timeout=600, check=check)


@dataclass(frozen=True)
class ServerKind:
    title: str
    env: str
    schemes: tuple[str, ...]
    default_url: str
    packages: tuple[str, ...]


SERVERS = {
    "postgres": ServerKind("PostgreSQL", "DVT_TEST_PG", ("postgresql", "postgres"),
                           "postgresql://postgres@127.0.0.1:5432/test",
                           ("postgresql", "postgresql-client")),
    "mariadb": ServerKind("MariaDB", "DVT_TEST_MARIADB", ("mysql", "mariadb"),
                          "mysql://root@127.0.0.1:3306/test",
                          ("mariadb-server", "mariadb-client")),
}


class ServiceError(Exception):
    """One readable line: which server, what failed, where its log is."""


def parse_url(kind: str, url: str, *, external: bool) -> Address:
    spec = SERVERS[kind]
    parts = urlsplit(url)
    if parts.scheme not in spec.schemes or not parts.hostname:
        raise ServiceError(
            f"{spec.env}={url!r} is not a {spec.title} URL: write it as "
            f"{spec.schemes[0]}://USER[:PASSWORD]@HOST:PORT/DATABASE")
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        raise ServiceError(f"{spec.env} must name one database after the port, as in "
                           f"{spec.default_url}")
    try:
        port = parts.port or urlsplit(spec.default_url).port
    except ValueError as exc:
        raise ServiceError(f"{spec.env}: {exc}") from None
    return Address(kind, parts.hostname, int(port or 0), unquote(parts.username or ""),
                   unquote(parts.password or ""), database, external)


def addresses(environ: dict[str, str] | None = None) -> dict[str, Address]:
    """The test servers' addresses: the environment's URLs, else the loopback defaults."""
    env = os.environ if environ is None else environ
    found = {}
    for kind, spec in SERVERS.items():
        given = env.get(spec.env, "").strip()
        found[kind] = parse_url(kind, given or spec.default_url, external=bool(given))
    return found


# --- checks --------------------------------------------------------------------------------------

def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def mariadb_client() -> str:
    return shutil.which("mariadb") or shutil.which("mysql") or "mariadb"


def provision(addr: Address) -> str:
    """Makes the test database exist; returns what was done. Fails when the login does not work."""
    if addr.kind == "postgres":
        done = addr.client("SELECT 1", database="postgres")
        if done.returncode != 0:
            raise ServiceError(f"{addr.label}: the login as `{addr.user}` failed: "
                               f"{first_line(done.stderr)}. {how_to_point(addr)}")
        exists = addr.client(f"SELECT 1 FROM pg_database WHERE datname = '{addr.database}'",
                             database="postgres")
        if exists.stdout.strip() == "1":
            return "database present"
        made = addr.client(f'CREATE DATABASE "{addr.database}"', database="postgres")
        if made.returncode != 0:
            raise ServiceError(f"{addr.label}: could not create the database: "
                               f"{first_line(made.stderr)}")
        return "database created"
    done = addr.client(f"CREATE DATABASE IF NOT EXISTS `{addr.database}` CHARACTER SET utf8mb4",
                       database="mysql")
    if done.returncode != 0:
        raise ServiceError(f"{addr.label}: the login as `{addr.user}` failed: "
                           f"{first_line(done.stderr)}. {how_to_point(addr)}")
    return "database ready"


def how_to_point(addr: Address) -> str:
    spec = SERVERS[addr.kind]
    return (f"Point the tests at a server they can use with {spec.env} "
            f"(for example {spec.env}={spec.default_url}).")


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no message"


# --- our own servers -----------------------------------------------------------------------------

def state_dir() -> Path:
    given = os.environ.get("DVT_SERVICES_DIR")
    if given:
        return Path(given)
    if os.geteuid() == 0:
        return Path("/var/lib/dvt-services")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dvt-services"


def is_root() -> bool:
    return os.geteuid() == 0


def apt_install(packages: list[str], title: str) -> None:
    if not is_root() or not shutil.which("apt-get"):
        raise ServiceError(f"{title} is not installed and this is not root on Debian: install "
                           f"{' '.join(packages)} with your package manager, or point the tests "
                           f"at a server ({SERVERS['postgres'].env} / {SERVERS['mariadb'].env}).")
    say(f"installing {' '.join(packages)} (apt-get) ...")
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = not policy.exists()
    if made_policy:  # keep the packages' scripts from starting system-wide servers of their own
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        for cmd in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise ServiceError(f"`{' '.join(cmd)}` failed (exit {done.returncode}): "
                                   f"{first_line(done.stderr or done.stdout)}")
    finally:
        if made_policy:
            policy.unlink(missing_ok=True)


def run_as(user: str | None, cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    if user and is_root():
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def mariadbd_path() -> Path | None:
    for name in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld"):
        if Path(name).exists():
            return Path(name)
    found = shutil.which("mariadbd")
    return Path(found) if found else None


def mariadb_install_db() -> str | None:
    """The program that initialises a MariaDB data directory."""
    return shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")


def owner_of_servers(kind: str) -> str | None:
    """The system user our server runs as when we are root (servers refuse to run as root)."""
    if not is_root():
        return None
    return "postgres" if kind == "postgres" else "mysql"


def ensure_installed(kind: str) -> None:
    spec = SERVERS[kind]
    have_server = pg_bindir() if kind == "postgres" else mariadbd_path()
    have_client = shutil.which("psql") if kind == "postgres" else (
        shutil.which("mariadb") or shutil.which("mysql"))
    if have_server and have_client:
        return
    apt_install(list(spec.packages), spec.title)
    if not (pg_bindir() if kind == "postgres" else mariadbd_path()):
        raise ServiceError(f"{spec.title} was installed but its server binary was not found")


def pid_file(kind: str) -> Path:
    return state_dir() / f"{kind}.pid"


def log_file(kind: str) -> Path:
    return state_dir() / kind / "server.log"


def data_dir(kind: str) -> Path:
    return state_dir() / kind / "data"


def process_alive(pid: int) -> bool:
    """True while the process runs; an exited process nobody has reaped yet (zombie) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def recorded_pid(kind: str) -> int | None:
    """The PID `up` recorded, when that process is still the server we started (not a reuse)."""
    try:
        pid = int(pid_file(kind).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if process_alive(pid) and str(state_dir() / kind) in cmdline(pid):
        return pid
    return None


def prepare_dir(kind: str) -> None:
    base = state_dir() / kind
    base.mkdir(parents=True, exist_ok=True)
    state_dir().chmod(0o755)
    owner = owner_of_servers(kind)
    if owner:
        shutil.chown(base, owner, owner)
    base.chmod(0o700 if owner is None else 0o750)


def start_postgres(addr: Address) -> int:
    bindir = pg_bindir()
    assert bindir is not None
    data, log = data_dir("postgres"), log_file("postgres")
    owner = owner_of_servers("postgres")
    prepare_dir("postgres")
    if not (data / "PG_VERSION").exists():
        say(f"initialising a PostgreSQL cluster in {data} ...")
        done = run_as(owner, [str(bindir / "initdb"), "-D", str(data),
                              "-U", addr.user or "postgres", "--auth=trust", "-E", "UTF8",
                              "--locale=C.UTF-8"])
        if done.returncode != 0:
            raise ServiceError(f"PostgreSQL: initdb failed: {first_line(done.stderr)}")
        # A disposable test server: loopback only, trust on loopback only, no fsync.
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host  all all 127.0.0.1/32 trust\n"
            "host  all all ::1/128 trust\n")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n# dvt-connect test server (tools/dvt_services.py)\n"
                       "listen_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{state_dir() / 'postgres'}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 200\n")
    done = run_as(owner, [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                          "-o", f"-p {addr.port}", "-w", "-t", str(START_TIMEOUT_S), "start"])
    if done.returncode != 0:
        raise ServiceError(f"PostgreSQL did not start on {addr.host}:{addr.port}: "
                           f"{first_line(done.stderr or done.stdout)}; its log: {log}")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    return pid


MARIADB_CNF = """\
# dvt-connect test server (tools/dvt_services.py): loopback only, a disposable data directory.
[mariadbd]
datadir = {data}
socket = {base}/mariadbd.sock
pid-file = {base}/mariadbd.pid
log-error = {log}
bind-address = 127.0.0.1
port = {port}
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
local-infile = 1
max-allowed-packet = 256M
max-connections = 300
innodb-buffer-pool-size = 256M
innodb-flush-log-at-trx-commit = 2
innodb-doublewrite = 0
"""


def start_mariadb(addr: Address) -> int:
    binary = mariadbd_path()
    assert binary is not None
    base, data, log = state_dir() / "mariadb", data_dir("mariadb"), log_file("mariadb")
    owner = owner_of_servers("mariadb")
    prepare_dir("mariadb")
    cnf = base / "my.cnf"
    cnf.write_text(MARIADB_CNF.format(data=data, base=base, log=log, port=addr.port))
    cnf.chmod(0o644)
    fresh = not (data / "mysql").exists()
    if fresh:
        say(f"initialising a MariaDB data directory in {data} ...")
        install_db = mariadb_install_db()
        if not install_db:
            raise ServiceError("MariaDB: mariadb-install-db was not found")
        args = [install_db, f"--defaults-file={cnf}", f"--datadir={data}",
                "--auth-root-authentication-method=normal", "--skip-test-db"]
        if owner:
            args.append(f"--user={owner}")
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceError(f"MariaDB: mariadb-install-db failed: "
                               f"{first_line(done.stderr or done.stdout)}")
    args = [str(binary), f"--defaults-file={cnf}"]
    if owner:
        args.append(f"--user={owner}")
    with open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(args, stdin=devnull, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    if not wait_ready(addr, proc):
        raise ServiceError(f"MariaDB did not start on {addr.host}:{addr.port}; its log: {log}")
    if fresh:
        grant = ("CREATE USER IF NOT EXISTS '{u}'@'127.0.0.1' IDENTIFIED BY '';"
                 "CREATE USER IF NOT EXISTS '{u}'@'::1' IDENTIFIED BY '';"
                 "GRANT ALL PRIVILEGES ON *.* TO '{u}'@'127.0.0.1' WITH GRANT OPTION;"
                 "GRANT ALL PRIVILEGES ON *.* TO '{u}'@'::1' WITH GRANT OPTION;"
                 "FLUSH PRIVILEGES;").format(u=addr.user or "root")
        done = subprocess.run([mariadb_client(), f"--socket={base}/mariadbd.sock", "-uroot",
                               "-e", grant], capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceError(f"MariaDB: could not give `{addr.user}` TCP access: "
                               f"{first_line(done.stderr)}; its log: {log}")
    return proc.pid


def wait_ready(addr: Address, proc: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        if reachable(addr.host, addr.port, timeout=1):
            return True
        time.sleep(0.3)
    return False


STARTERS = {"postgres": start_postgres, "mariadb": start_mariadb}


def up(addr: Address) -> None:
    title = SERVERS[addr.kind].title
    t0 = time.monotonic()
    if addr.external:
        if not reachable(addr.host, addr.port):
            raise ServiceError(f"{addr.label} (from {SERVERS[addr.kind].env}) does not answer: "
                               "start it, or unset the variable to let `make services` run one")
        ensure_client(addr.kind)
        say(f"{title}: {addr.host}:{addr.port} given by {SERVERS[addr.kind].env}, "
            f"{provision(addr)}")
        return
    if reachable(addr.host, addr.port):
        ensure_client(addr.kind)
        whose = "ours" if recorded_pid(addr.kind) else "already running, used as it is"
        say(f"{title}: {addr.host}:{addr.port} {whose}, {provision(addr)}")
        return
    if addr.host not in ("127.0.0.1", "localhost", "::1"):
        raise ServiceError(f"{addr.label} does not answer, and only loopback servers are started "
                           "here")
    pid = recorded_pid(addr.kind)
    if pid is not None:  # ours, still starting
        if not wait_ready(addr):
            raise ServiceError(f"{title} (PID {pid}) does not answer on {addr.port}; its log: "
                               f"{log_file(addr.kind)}")
    else:
        ensure_installed(addr.kind)
        pid = STARTERS[addr.kind](addr)
        pid_file(addr.kind).write_text(f"{pid}\n")
    say(f"{title}: started on {addr.host}:{addr.port} (PID {pid}, log {log_file(addr.kind)}), "
        f"{provision(addr)} in {time.monotonic() - t0:.1f} s")


def ensure_client(kind: str) -> None:
    have = shutil.which("psql") if kind == "postgres" else (
        shutil.which("mariadb") or shutil.which("mysql"))
    if not have:
        apt_install([SERVERS[kind].packages[1]], f"the {SERVERS[kind].title} client")


def down(kind: str) -> None:
    title = SERVERS[kind].title
    pid = recorded_pid(kind)
    if pid is None:
        pid_file(kind).unlink(missing_ok=True)
        say(f"{title}: nothing of ours is running")
        return
    # PostgreSQL: SIGINT is its fast shutdown. MariaDB: SIGTERM is its normal shutdown.
    os.kill(pid, signal.SIGINT if kind == "postgres" else signal.SIGTERM)
    deadline = time.monotonic() + 60
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if process_alive(pid):
        raise ServiceError(f"{title} (PID {pid}) did not stop within 60 s; its log: "
                           f"{log_file(kind)}")
    pid_file(kind).unlink(missing_ok=True)
    say(f"{title}: stopped (PID {pid})")


def say(line: str) -> None:
    print(f"services: {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--only", choices=sorted(SERVERS), action="append",
                        help="act on this server only (repeatable)")
    args = parser.parse_args(argv)
    try:
        found = addresses()
        kinds = args.only or list(SERVERS)
        t0 = time.monotonic()
        for kind in kinds:
            addr = found[kind]
            if args.action == "up":
                up(addr)
            elif args.action == "down":
                down(kind)
            else:
                state = "answers" if reachable(addr.host, addr.port) else "does not answer"
                ours = recorded_pid(kind)
                say(f"{addr.label} {state}" + (f" (ours, PID {ours})" if ours else ""))
        if args.action == "up":
            say(f"ready in {time.monotonic() - t0:.1f} s")
    except ServiceError as exc:
        print(f"services: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
