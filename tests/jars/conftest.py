"""Fixtures for `dvt sync`: a real HTTP Maven repository on loopback, and repositories the
tests write themselves."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dvt_connect.console import CaptureConsole
from dvt_connect.jars.repositories import RetryPolicy

from .mavenrepo import write_scenario

DEBIAN_REPO = Path("/usr/share/maven-repo")

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=5)


@dataclass
class ServerState:
    root: Path
    # "METHOD path" -> actions taken on successive requests ("503", "429", "drop", "ok"); the
    # last action repeats
    faults: dict[str, list[str]] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self, method: str, path: str) -> str | None:
        with self.lock:
            actions = self.faults.get(f"{method} {path}")
            if not actions:
                return None
            action = actions.pop(0) if len(actions) > 1 else actions[0]
            return action


class _Handler(SimpleHTTPRequestHandler):
    state: ServerState

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def translate_path(self, path: str) -> str:
        relative = path.split("?", 1)[0].lstrip("/")
        return str(self.state.root / relative)

    def _authorized(self) -> bool:
        if self.state.auth is None:
            return True
        expected = base64.b64encode(":".join(self.state.auth).encode()).decode()
        if self.headers.get("Authorization") == f"Basic {expected}":
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="maven"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def _fault(self) -> bool:
        path = self.path.lstrip("/")
        with self.state.lock:
            self.state.requests.append((self.command, path))
        action = self.state.next_fault(self.command, path)
        if action in ("503", "500", "429"):
            self.send_response(int(action))
            if action == "429":
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        if action == "drop" and self.command == "GET":
            data = (self.state.root / path).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        return False

    def do_GET(self) -> None:
        if self._authorized() and not self._fault():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._authorized() and not self._fault():
            super().do_HEAD()


@dataclass
class MavenServer:
    state: ServerState
    url: str

    def requested(self, suffix: str) -> int:
        return sum(1 for _, p in self.state.requests if p.endswith(suffix))


def _serve(root: Path) -> Iterator[MavenServer]:
    state = ServerState(root)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield MavenServer(state, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def serve() -> Iterator[object]:
    """``serve(path) -> MavenServer``: start a loopback server over a folder."""
    servers: list[Iterator[MavenServer]] = []

    def start(root: Path) -> MavenServer:
        gen = _serve(root)
        servers.append(gen)
        return next(gen)

    yield start
    for gen in servers:
        next(gen, None)


@pytest.fixture
def debian_server(serve: object) -> MavenServer:
    if not (DEBIAN_REPO / "org/postgresql/postgresql/42.5.5").is_dir():
        pytest.skip("Debian's libpostgresql-jdbc-java is not installed")
    return serve(DEBIAN_REPO)  # type: ignore[operator]


@pytest.fixture
def dvt_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DVT_HOME in a temp folder, an empty local Maven repository, no inherited repository
    settings."""
    home = tmp_path / "dvt-home"
    monkeypatch.setenv("DVT_HOME", str(home))
    monkeypatch.setenv("DVT_MAVEN_LOCAL_REPOSITORY", str(tmp_path / "empty-m2"))
    for var in ("DVT_MAVEN_REPOSITORIES", "DVT_MAVEN_USERNAME", "DVT_MAVEN_PASSWORD",
                "DVT_PROFILES_DIR", "DBT_PROFILES_DIR"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def console() -> CaptureConsole:
    return CaptureConsole()


@pytest.fixture
def scenario_repo(tmp_path: Path) -> Path:
    root = tmp_path / "scenario-repo"
    write_scenario(root)
    return root


@pytest.fixture
def central(maven_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sync against Maven Central with the shared caches: DVT_HOME (POMs, metadata) and the
    jars folder under ``maven_cache``; no local Maven repository, no configured mirror."""
    monkeypatch.setenv("DVT_HOME", str(maven_cache / "dvt-home"))
    monkeypatch.setenv("DVT_MAVEN_LOCAL_REPOSITORY", str(maven_cache / "no-local-repository"))
    for var in ("DVT_MAVEN_REPOSITORIES", "DVT_MAVEN_USERNAME", "DVT_MAVEN_PASSWORD",
                "DVT_PROFILES_DIR", "DBT_PROFILES_DIR"):
        monkeypatch.delenv(var, raising=False)
    return maven_cache / "jars"
