"""Maven repositories: where they come from, and reading files from them with retries.

Order: the local repository (``~/.m2/repository``, read only), ``--repository`` URLs,
``DVT_MAVEN_REPOSITORIES``, the config file's ``repositories:``, then Maven Central (or the
``--mirror`` that replaces it). ``file://`` URLs and plain paths work; HTTP basic auth comes from
the URL's userinfo or ``DVT_MAVEN_USERNAME``/``DVT_MAVEN_PASSWORD``; proxies from the usual
``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` variables (read by ``requests``). Credentials never
leave this module: every URL we show or record has its userinfo stripped.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from dvt_connect import secrets
from dvt_connect.errors import ResolveError
from dvt_connect.jars.coordinates import Coordinate

if TYPE_CHECKING:  # imported where a request is made: `dvt transfer` makes none
    import requests

MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
ENV_REPOSITORIES = "DVT_MAVEN_REPOSITORIES"
ENV_USERNAME = "DVT_MAVEN_USERNAME"
ENV_PASSWORD = "DVT_MAVEN_PASSWORD"
ENV_LOCAL = "DVT_MAVEN_LOCAL_REPOSITORY"
CHECKSUMS = ("sha512", "sha256", "sha1")  # strongest first
_CHUNK = 1 << 16


class ArtifactNotFoundError(ResolveError):
    """A file is in none of the repositories; lists each repository and what it answered."""

    def __init__(self, coordinate: Coordinate | str, tried: Sequence[tuple[str, str]],
                 *, needed_by: Iterable[str] = ()) -> None:
        self.coordinate = str(coordinate)
        self.tried = list(tried)
        self.needed_by = list(needed_by)
        via = f" (needed by {', '.join(self.needed_by)})" if self.needed_by else ""
        listed = "; ".join(f"{url}: {answer}" for url, answer in self.tried) or "none configured"
        unreachable = sum(1 for _, answer in self.tried if answer.startswith("unreachable"))
        what = ("was not found in any repository" if not unreachable else
                f"was not found in the repositories that answered ({unreachable} could not be "
                "reached)")
        super().__init__(
            f"`{self.coordinate}`{via} {what}. Tried: {listed}.",
            hint="Check the coordinate, or add the repository that has it with "
            "`--repository URL` (or DVT_MAVEN_REPOSITORIES).",
        )


class RepositoryError(ResolveError):
    """A repository refused or failed a request in a way retrying does not fix."""


class _Transient(Exception):
    """A failure worth retrying: connection error, timeout, 429 or 5xx."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def strip_userinfo(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Repository:
    """One place artifacts are read from. ``url`` is safe to show: it holds no credentials."""

    url: str
    source: str
    kind: str  # "local" (~/.m2, read only), "file" or "http"
    auth: tuple[str, str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_url(cls, raw: str, source: str, *, env: Mapping[str, str] | None = None
                 ) -> Repository:
        env = os.environ if env is None else env
        raw = raw.strip()
        parts = urllib.parse.urlsplit(raw)
        if parts.scheme in ("", "file"):
            # imported here only: every `dvt transfer` imports this module
            from urllib.request import url2pathname

            path = url2pathname(parts.path) if parts.scheme else raw
            return cls(Path(path).expanduser().resolve().as_uri(), source, "file")
        if parts.scheme not in ("http", "https"):
            raise ResolveError(
                f"repository `{strip_userinfo(raw)}` (from {source}) is not an http(s) or "
                "file URL.")
        auth = None
        if parts.username is not None:
            auth = (urllib.parse.unquote(parts.username),
                    urllib.parse.unquote(parts.password or ""))
        elif env.get(ENV_USERNAME) and raw.rstrip("/") != MAVEN_CENTRAL:
            auth = (env[ENV_USERNAME], env.get(ENV_PASSWORD, ""))
        if auth:
            secrets.register(auth[1])
        return cls(strip_userinfo(raw).rstrip("/"), source, "http", auth)

    @property
    def root(self) -> Path:
        assert self.kind in ("file", "local")
        from urllib.request import url2pathname

        return Path(url2pathname(urllib.parse.urlsplit(self.url).path))

    @property
    def is_local(self) -> bool:
        return self.kind in ("file", "local")


def local_repository(env: Mapping[str, str] | None = None) -> Repository:
    env = os.environ if env is None else env
    path = Path(env.get(ENV_LOCAL) or Path.home() / ".m2" / "repository").expanduser()
    return Repository(path.resolve().as_uri(), "local Maven repository", "local")


def repositories(
    *,
    cli: Sequence[str] = (),
    config: Sequence[str] = (),
    mirror: str | None = None,
    offline: bool = False,
    env: dict[str, str] | None = None,
) -> list[Repository]:
    """The repositories to search, in order, without duplicates."""
    env = dict(os.environ) if env is None else env
    found: list[Repository] = [local_repository(env)]
    env_list = [u for u in env.get(ENV_REPOSITORIES, "").replace(",", " ").split() if u]
    for urls, source in ((cli, "--repository"), (env_list, ENV_REPOSITORIES),
                         (config, "config `repositories:`")):
        found += [Repository.from_url(u, source, env=env) for u in urls]
    if mirror:
        found.append(Repository.from_url(mirror, "--mirror", env=env))
    else:
        found.append(Repository(MAVEN_CENTRAL, "Maven Central", "http"))
    unique: list[Repository] = []
    for repo in found:
        if repo.url not in {r.url for r in unique} and not (offline and not repo.is_local):
            unique.append(repo)
    return unique


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return min(self.base_delay * (2 ** attempt) * (1 + random.random() / 4), self.max_delay)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


@dataclass
class Fetched:
    """A file written to ``path``: its size, its SHA-256 and how its published checksum fared."""

    size: int
    sha256: str
    checksum: str  # "sha1 ok", "none published", ...


class ChecksumMismatchError(ResolveError):
    def __init__(self, coordinate: str, repository: str, algorithm: str, expected: str,
                 actual: str) -> None:
        self.coordinate = coordinate
        super().__init__(
            f"`{coordinate}` from {repository} does not match its published {algorithm} "
            f"(expected {expected}, got {actual}); the file was not installed.",
            hint="The download or the repository is corrupt: retry, or try another repository.",
        )


class Repositories:
    """Reads files from an ordered list of repositories with retries and backoff.

    A repository that stays unreachable after the retries is skipped for the rest of the run
    and reported once.
    """

    def __init__(self, repos: Sequence[Repository], *, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 on_retry: Callable[[str], None] | None = None) -> None:
        self.repos = list(repos)
        self.policy = policy or RetryPolicy()
        self.unreachable: dict[str, str] = {}
        self._sleep = sleep
        self._on_retry = on_retry
        self._local = threading.local()
        self._lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        import requests

        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "dvt-connect-sync"
            self._local.session = session
        return session

    def _request(self, repo: Repository, path: str, *, method: str = "GET",
                 stream: bool = False) -> requests.Response | None:
        """One request with retries; None on 404/410. Raises _Transient when retries run out."""
        import requests

        url = f"{repo.url}/{path}"
        last: _Transient | None = None
        for attempt in range(self.policy.attempts):
            try:
                response = self._session().request(
                    method, url, auth=repo.auth, stream=stream, timeout=self.policy.timeout,
                    allow_redirects=True)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = _Transient(_describe(exc))
            else:
                status = response.status_code
                if status in (404, 410):
                    response.close()
                    return None
                if status == 429 or status >= 500:
                    last = _Transient(f"HTTP {status}", _retry_after(
                        response.headers.get("Retry-After")))
                    response.close()
                elif status in (401, 403):
                    response.close()
                    raise RepositoryError(
                        f"{repo.url} answered HTTP {status} for `{path}`.",
                        hint=f"Set {ENV_USERNAME} and {ENV_PASSWORD}, or put the user in the "
                        "repository URL.")
                elif status >= 400:
                    response.close()
                    raise RepositoryError(f"{repo.url} answered HTTP {status} for `{path}`.")
                else:
                    return response
            if attempt + 1 < self.policy.attempts:
                wait = self.policy.delay(attempt, last.retry_after)
                if self._on_retry:
                    self._on_retry(f"{repo.url}: {last.reason}; retrying in {wait:.1f}s")
                self._sleep(wait)
        assert last is not None
        raise last

    def _mark_unreachable(self, repo: Repository, reason: str) -> None:
        with self._lock:
            self.unreachable.setdefault(repo.url, reason)

    def _usable(self) -> list[Repository]:
        return [r for r in self.repos if r.url not in self.unreachable]

    # -- reading -----------------------------------------------------------------------------
    def read(self, path: str, repo: Repository) -> bytes | None:
        """A small file (POM, checksum, metadata) from one repository; None when absent."""
        if repo.is_local:
            file = repo.root / path
            return file.read_bytes() if file.is_file() else None
        try:
            response = self._request(repo, path)
        except _Transient as exc:
            self._mark_unreachable(repo, exc.reason)
            raise
        if response is None:
            return None
        with response:
            return response.content

    def find(self, path: str, coordinate: Coordinate | str, *, needed_by: Iterable[str] = (),
             prefer: str | None = None) -> tuple[Repository, bytes]:
        """The first repository holding ``path``, with the file's bytes."""
        tried: list[tuple[str, str]] = []
        order = sorted(self._usable(), key=lambda r: r.url != prefer) if prefer else \
            self._usable()
        for repo in order:
            try:
                data = self.read(path, repo)
            except _Transient as exc:
                tried.append((repo.url, f"unreachable ({exc.reason})"))
                continue
            if data is not None:
                return repo, data
            tried.append((repo.url, "not found"))
        tried += [(url, f"unreachable ({reason})") for url, reason in self.unreachable.items()
                  if url not in {t[0] for t in tried}]
        raise ArtifactNotFoundError(coordinate, tried, needed_by=needed_by)

    def size(self, path: str, coordinate: Coordinate | str, *, needed_by: Iterable[str] = (),
             prefer: str | None = None) -> tuple[Repository, int | None]:
        """The first repository holding ``path`` and the file's size (None when not told)."""
        tried: list[tuple[str, str]] = []
        order = sorted(self._usable(), key=lambda r: r.url != prefer) if prefer else \
            self._usable()
        for repo in order:
            if repo.is_local:
                file = repo.root / path
                if file.is_file():
                    return repo, file.stat().st_size
                tried.append((repo.url, "not found"))
                continue
            try:
                response = self._request(repo, path, method="HEAD")
            except _Transient as exc:
                self._mark_unreachable(repo, exc.reason)
                tried.append((repo.url, f"unreachable ({exc.reason})"))
                continue
            if response is None:
                tried.append((repo.url, "not found"))
                continue
            with response:
                length = response.headers.get("Content-Length")
                return repo, int(length) if length and length.isdigit() else None
        tried += [(url, f"unreachable ({reason})") for url, reason in self.unreachable.items()
                  if url not in {t[0] for t in tried}]
        raise ArtifactNotFoundError(coordinate, tried, needed_by=needed_by)

    def published_checksum(self, path: str, repo: Repository) -> tuple[str, str] | None:
        """The strongest checksum published beside ``path``: (algorithm, hex digest)."""
        for algorithm in CHECKSUMS:
            try:
                data = self.read(f"{path}.{algorithm}", repo)
            except _Transient:
                return None
            if data:
                text = data.decode("ascii", "replace").strip()
                digest = text.split()[0].lower() if text else ""
                if digest:
                    return algorithm, digest
        return None

    def download(self, path: str, repo: Repository, out: IO[bytes], coordinate: str, *,
                 checksum: tuple[str, str] | None,
                 advance: Callable[[int], None] = lambda n: None) -> Fetched:
        """Stream ``path`` into ``out``, retrying a failed transfer from the start.

        ``advance`` is told each chunk and, before a retry, minus what the failed try wrote.
        Raises :class:`ChecksumMismatchError` when the content does not match ``checksum``.
        """
        import requests

        last_reason = ""
        for attempt in range(self.policy.attempts):
            out.seek(0)
            out.truncate()
            written = 0
            hashes = {"sha256": hashlib.sha256()}
            if checksum:
                hashes.setdefault(checksum[0], hashlib.new(checksum[0]))
            try:
                if repo.is_local:
                    with open(repo.root / path, "rb") as src:
                        while chunk := src.read(_CHUNK):
                            out.write(chunk)
                            for h in hashes.values():
                                h.update(chunk)
                            written += len(chunk)
                            advance(len(chunk))
                else:
                    response = self._request(repo, path, stream=True)
                    if response is None:
                        raise ArtifactNotFoundError(coordinate, [(repo.url, "not found")])
                    with response:
                        expected = response.headers.get("Content-Length")
                        for chunk in response.iter_content(_CHUNK):
                            out.write(chunk)
                            for h in hashes.values():
                                h.update(chunk)
                            written += len(chunk)
                            advance(len(chunk))
                        if expected and expected.isdigit() and written != int(expected):
                            raise _Transient(
                                f"connection closed after {written} of {expected} bytes")
            except _Transient as exc:
                last_reason = exc.reason
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                last_reason = _describe(exc)
            else:
                out.flush()
                if checksum:
                    actual = hashes[checksum[0]].hexdigest()
                    if actual != checksum[1]:
                        raise ChecksumMismatchError(coordinate, repo.url, checksum[0],
                                                    checksum[1], actual)
                    verdict = f"{checksum[0]} ok"
                else:
                    verdict = "none published"
                return Fetched(written, hashes["sha256"].hexdigest(), verdict)
            advance(-written)
            if attempt + 1 < self.policy.attempts:
                wait = self.policy.delay(attempt, None)
                if self._on_retry:
                    self._on_retry(f"{repo.url}: {last_reason}; retrying in {wait:.1f}s")
                self._sleep(wait)
        raise RepositoryError(
            f"downloading `{coordinate}` from {repo.url} failed {self.policy.attempts} times "
            f"(last: {last_reason}); nothing was installed.")


def _describe(exc: BaseException) -> str:
    """A short reason for a network error, without the URL (which may hold a path only)."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "Temporary failure in name resolution", "Connection reset",
                   "Connection aborted", "Remote end closed connection", "IncompleteRead",
                   "No route to host", "Network is unreachable"):
        if marker.lower() in text.lower():
            return marker.lower()
    return type(exc).__name__


def describe_repositories(repos: Iterable[Repository]) -> list[dict[str, Any]]:
    return [{"url": r.url, "source": r.source, "kind": r.kind, "auth": bool(r.auth)}
            for r in repos]
