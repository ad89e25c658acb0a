"""Maven itself, as the reference our resolver is compared with.

Maven fetches the plugin it needs (``maven-dependency-plugin``, pinned) from Maven Central into
a local repository that the test runs share (see ``maven_cache`` in conftest), so a fresh
machine needs no ``~/.m2``: the first run downloads about 20 MB, later runs none.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

# `+- group:artifact:jar[:classifier]:version:scope`, as dependency:tree writes it
_LINE = re.compile(r"[+\\]- ([^:\s]+):([^:]+):jar(?::([^:]+))?:([^:]+):(\w+)")


def maven_tree(coordinate: str, work: Path, local_repo: Path,
               repositories: dict[str, str] | None = None) -> dict[str, str]:
    """``group:artifact:version`` -> scope of everything Maven resolves for one dependency on
    ``coordinate`` (its ``dependency:tree``, which reads POMs and downloads no jars)."""
    if shutil.which("mvn") is None:
        pytest.fail("`mvn` is not installed: install Debian's `maven` package")
    parts = coordinate.split(":")
    g, a, v = parts[0], parts[1], parts[-1]
    classifier = parts[2] if len(parts) == 4 else None
    repos = "".join(
        f"<repository><id>{rid}</id><url>{url}</url></repository>"
        for rid, url in (repositories or {}).items())
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>check</groupId><artifactId>root</artifactId><version>1</version>"
        + (f"<repositories>{repos}</repositories>" if repos else "")
        + f"<dependencies><dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version>"
        + (f"<classifier>{classifier}</classifier>" if classifier else "")
        + "</dependency></dependencies></project>")
    out = work / "tree.txt"
    env = {k: val for k, val in os.environ.items() if not k.startswith("MAVEN_")}
    run = subprocess.run(
        ["mvn", "-B", "-q", f"-Dmaven.repo.local={local_repo}", f"{DEPENDENCY_PLUGIN}:tree",
         f"-DoutputFile={out}"],
        cwd=work, capture_output=True, text=True, timeout=600, env=env)
    if run.returncode != 0 or not out.is_file():
        pytest.fail(f"mvn dependency:tree failed for {coordinate}:\n{run.stdout[-3000:]}"
                    f"\n{run.stderr[-2000:]}")
    tree: dict[str, str] = {}
    for line in out.read_text().splitlines():
        match = _LINE.search(line)
        if match and match.group(5) != "system":  # a local file: nothing to download
            tree[f"{match.group(1)}:{match.group(2)}:{match.group(4)}"] = match.group(5)
    return tree
