"""PostgreSQL's reader library (ADBC 1.8.0's optimised build, :mod:`dvt_connect.reader_libraries`):
what `dvt sync` fetches and refuses, and that the Spark tasks of a native read load it, or the
installed package where it is switched off or missing, reading the values psycopg reads."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest
from write.fixtures import create_pg_typed, pg_rows
from write.fixtures import normalize as normalized

from dvt_connect.databases import database
from dvt_connect.errors import DvtError
from dvt_connect.reader_libraries import fetch, path_of, present

LIBRARY = database("postgres").native.reader_library  # type: ignore[union-attr]
TESTS = Path(__file__).resolve().parent.parent


def a_wheel(folder: Path, content: bytes) -> Path:
    """A wheel of the pinned name and version holding ``content`` as the library file, in a
    folder pip reads with --find-links (pip's own download code runs, no index)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "adbc_driver_postgresql-1.8.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(LIBRARY.member, content)
        archive.writestr("adbc_driver_postgresql-1.8.0.dist-info/METADATA",
                         "Metadata-Version: 2.1\nName: adbc-driver-postgresql\nVersion: 1.8.0\n")
        archive.writestr("adbc_driver_postgresql-1.8.0.dist-info/WHEEL",
                         "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    return wheel


def offline(folder: Path) -> list[str]:
    return ["--no-index", "--find-links", str(folder)]


def test_a_wheel_whose_hash_is_not_the_pinned_one_is_refused_and_nothing_is_kept(
        tmp_path: Path) -> None:
    a_wheel(tmp_path / "index", b"\x7fELF not the pinned build")
    cache = tmp_path / "cache"

    with pytest.raises(DvtError) as caught:
        fetch(LIBRARY, cache, pip_args=offline(tmp_path / "index"))

    assert f"not the pinned {LIBRARY.sha256}" in str(caught.value)
    assert "adbc_driver_postgresql-1.8.0-py3-none-any.whl has SHA-256" in str(caught.value)
    assert not path_of(LIBRARY, cache).exists()
    assert [p.name for p in path_of(LIBRARY, cache).parent.iterdir()] == []  # no leftovers


def test_the_pinned_wheel_s_library_is_kept_once(tmp_path: Path) -> None:
    content = b"\x7fELF a library"
    wheel = a_wheel(tmp_path / "index", content)
    pinned = dataclasses.replace(LIBRARY, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
    cache = tmp_path / "cache"

    first = fetch(pinned, cache, pip_args=offline(tmp_path / "index"))
    wheel.unlink()  # a second fetch does not download
    second = fetch(pinned, cache, pip_args=offline(tmp_path / "index"))

    assert (first.state, second.state) == ("fetched", "present")
    assert first.path == second.path == path_of(pinned, cache)
    assert path_of(pinned, cache).read_bytes() == content
    assert present(pinned, cache) == path_of(pinned, cache)


def test_a_wheel_pip_cannot_find_is_one_message_naming_it(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DvtError) as caught:
        fetch(LIBRARY, tmp_path / "cache", pip_args=offline(tmp_path / "empty"))
    assert str(caught.value).startswith("pip download adbc-driver-postgresql==1.8.0 failed: ")
    assert "Traceback" not in str(caught.value)


def test_another_platform_is_skipped_and_reads_through_the_installed_package(
        tmp_path: Path) -> None:
    elsewhere = dataclasses.replace(LIBRARY, platform="macosx-11.0-arm64")
    done = fetch(elsewhere, tmp_path)
    assert (done.state, done.path) == ("skipped", None)
    assert "the installed package reads" in done.note
    assert present(elsewhere, tmp_path) is None


def test_the_switch_turns_the_library_off(tmp_path: Path, monkeypatch: Any) -> None:
    content = b"\x7fELF"
    wheel = a_wheel(tmp_path / "index", content)
    pinned = dataclasses.replace(LIBRARY, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
    fetch(pinned, tmp_path / "cache", pip_args=offline(tmp_path / "index"))
    monkeypatch.setenv("DVT_READER_LIBRARIES", "0")
    assert present(pinned, tmp_path / "cache") is None


@pytest.mark.pypi
def test_the_package_index_serves_the_pinned_wheel(tmp_path: Path) -> None:
    done = fetch(LIBRARY, tmp_path)  # the SHA-256 is checked on the way
    assert done.state == "fetched"
    assert done.path is not None and done.path.read_bytes()[:4] == b"\x7fELF"


# ---- a native read's Spark tasks ---------------------------------------------------------------

PROBE = r"""
import json, os, pickle, sys
sys.path[:0] = [sys.argv[4], sys.argv[4] + "/../tools"]
from conftest import debian_jdbc_jars
from write.fixtures import pg_connection
from dvt_connect import spark as spark_mod
from dvt_connect.connectors.base import ReadRequest, TableRef
from dvt_connect.connectors.postgres_native.connector import PostgresNativeConnector

pg, table, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
spark = spark_mod.get_session(spark_mod.session_spec(
    master="local[2]", jars=[str(p) for p in debian_jdbc_jars()]))
native = PostgresNativeConnector(spark, pg_connection(pg))
plan = native.plan_read(ReadRequest(table=TableRef(table)))
elsewhere = os.environ.get("PROBE_ELSEWHERE")  # the driver's path absent where tasks run
if elsewhere:
    from dvt_connect.connectors.arrow_bulk.columns import READER_LIBRARY, BulkRead
    import dataclasses
    spec = BulkRead.from_json(plan.spec_json)
    if os.environ.get("PROBE_SEND"):  # as a cluster's job sends it (executors.ship_file)
        from dvt_connect.executors import ship_file
        ship_file(spark, spec.options[READER_LIBRARY])
    spec = dataclasses.replace(spec, options={**spec.options, READER_LIBRARY: elsewhere})
    plan = dataclasses.replace(plan, spec_json=spec.to_json())
rows = [r.asDict() for r in native.load(plan).collect()]
with open(out, "wb") as f:
    pickle.dump(rows, f)

def descendants(root):
    children = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                text = open(f"/proc/{p}/stat").read()
            except OSError:
                continue
            children.setdefault(int(text[text.rindex(")") + 2:].split()[1]), []).append(int(p))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found

loaded = set()
for pid in descendants(os.getpid()):
    try:
        with open(f"/proc/{pid}/maps") as maps:
            loaded |= {line.split()[-1] for line in maps if "libadbc_driver_postgresql" in line}
    except OSError:
        pass
import hashlib
digests = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in sorted(loaded)]
print(json.dumps({"loaded": sorted(loaded), "digests": digests, "notes": list(plan.notes)}))
"""


@pytest.mark.spark
@pytest.mark.postgres
@pytest.mark.parametrize("how", ["library", "switched off", "missing on the worker",
                                 "sent with the job"])
def test_a_native_read_s_tasks_load_the_reader_library_and_read_what_psycopg_reads(
        pg: dict[str, Any], pg_names: Any, run_probe: Any, monkeypatch: Any, tmp_path: Path,
        how: str) -> None:
    library = present(LIBRARY)
    assert library is not None  # the pg fixture fetched it into the machine's cache
    source = pg_names("reader")
    create_pg_typed(pg, source)
    if how == "switched off":
        monkeypatch.setenv("DVT_READER_LIBRARIES", "0")
    if how in ("missing on the worker", "sent with the job"):
        monkeypatch.setenv("PROBE_ELSEWHERE", "/nowhere/libadbc_driver_postgresql.so")
    if how == "sent with the job":
        monkeypatch.setenv("PROBE_SEND", "1")
    out = tmp_path / "rows.pickle"

    seen = run_probe(PROBE, json.dumps(pg), source, str(out), str(TESTS))

    import adbc_driver_postgresql

    package = Path(adbc_driver_postgresql.__file__).parent / "libadbc_driver_postgresql.so"
    loaded = [str(Path(p).resolve()) for p in seen["loaded"]]
    if how == "library":
        assert loaded == [str(library.resolve())]
    elif how == "sent with the job":  # SparkFiles' copy, in Spark's userFiles folder
        assert len(loaded) == 1 and "/userFiles-" in loaded[0], loaded
        assert seen["digests"] == [hashlib.sha256(library.read_bytes()).hexdigest()]
    else:
        assert loaded == [str(package.resolve())]
    note = "tasks read through adbc-driver-postgresql 1.8.0's library from the dvt cache"
    assert any(n.startswith(note) for n in seen["notes"]) == (how != "switched off")
    got = sorted((normalized(r, instants_as_utc=("tstz",)) for r in pickle.loads(
        out.read_bytes())), key=lambda r: r["id"])
    assert got == sorted((normalized(r, instants_as_utc=("tstz",)) for r in pg_rows(pg, source)),
                         key=lambda r: r["id"])
