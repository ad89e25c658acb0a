"""A Maven repository the tests write: POMs, jars and checksum files, and the resolution
scenario whose resolved set Maven itself agrees with."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path


# -- a repository the tests write ------------------------------------------------------------
def jar_bytes(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        zf.writestr(f"{name}.txt", f"{name}\n" * 50)
    return buffer.getvalue()


class RepoWriter:
    """Writes POMs, jars and checksum files in the Maven 2 layout."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _write(self, path: Path, data: bytes, checksums: tuple[str, ...]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        for algorithm in checksums:
            Path(f"{path}.{algorithm}").write_text(hashlib.new(algorithm, data).hexdigest())

    def artifact(self, group: str, artifact: str, version: str, *, deps: str = "",
                 parent: tuple[str, str, str] | None = None, properties: dict[str, str] | None
                 = None, managed: str = "", packaging: str = "jar",
                 checksums: tuple[str, ...] = ("sha1",), jar: bytes | None = None,
                 extra: str = "") -> Path:
        base = self.root / group.replace(".", "/") / artifact / version
        parent_xml = ""
        if parent:
            parent_xml = (f"<parent><groupId>{parent[0]}</groupId><artifactId>{parent[1]}"
                          f"</artifactId><version>{parent[2]}</version></parent>")
        props = "".join(f"<{k}>{v}</{k}>" for k, v in (properties or {}).items())
        pom = f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  {parent_xml}
  <groupId>{group}</groupId>
  <artifactId>{artifact}</artifactId>
  <version>{version}</version>
  <packaging>{packaging}</packaging>
  <properties>{props}</properties>
  <dependencyManagement><dependencies>{managed}</dependencies></dependencyManagement>
  <dependencies>{deps}</dependencies>
  {extra}
</project>
"""
        self._write(base / f"{artifact}-{version}.pom", pom.encode(), checksums)
        if packaging != "pom":
            self._write(base / f"{artifact}-{version}.jar",
                        jar if jar is not None else jar_bytes(f"{artifact}-{version}"),
                        checksums)
        return base


def dep(group: str, artifact: str, version: str | None = None, *, scope: str | None = None,
        optional: bool = False, type: str | None = None,  # noqa: A002 - Maven's name
        exclusions: tuple[tuple[str, str], ...] = (), extra: str = "") -> str:
    parts = [f"<groupId>{group}</groupId><artifactId>{artifact}</artifactId>"]
    if version:
        parts.append(f"<version>{version}</version>")
    if type:
        parts.append(f"<type>{type}</type>")
    if scope:
        parts.append(f"<scope>{scope}</scope>")
    if optional:
        parts.append("<optional>true</optional>")
    if exclusions:
        parts.append("<exclusions>" + "".join(
            f"<exclusion><groupId>{g}</groupId><artifactId>{a}</artifactId></exclusion>"
            for g, a in exclusions) + "</exclusions>")
    parts.append(extra)
    return "<dependency>" + "".join(parts) + "</dependency>"


G = "dvttest"


def write_scenario(root: Path) -> RepoWriter:
    """The resolution scenario: a two-level parent chain, interpolated versions, an imported
    BOM, exclusions, provided/optional/test/system scopes and version conflicts.

    Maven resolves `dvttest:app:1.0` to exactly EXPECTED below.
    """
    w = RepoWriter(root)
    (root / "system").mkdir(parents=True, exist_ok=True)
    (root / "system" / "sys-s.jar").write_bytes(jar_bytes("sys-s"))
    w.artifact(G, "bom", "3.0", packaging="pom", managed=(
        dep(G, "lib-c", "2.0") + dep(G, "lib-b", "1.1")))
    w.artifact(G, "parent-root", "1", packaging="pom",
               properties={"dvt.d.version": "1.5", "runtime.version": "1.0"},
               managed=dep(G, "bom", "3.0", type="pom", scope="import")
               + dep(G, "lib-d", "${dvt.d.version}"))
    w.artifact(G, "parent-mid", "1", packaging="pom", parent=(G, "parent-root", "1"),
               properties={"dvt.d.version": "1.5"})
    w.artifact(G, "app", "1.0", parent=(G, "parent-mid", "1"), deps=(
        dep(G, "lib-a", "${project.version}", exclusions=((G, "excluded-x"),))
        + dep(G, "lib-c")
        + dep(G, "lib-d", scope="runtime")
        + dep(G, "provided-p", "1.0", scope="provided")
        + dep(G, "test-t", "1.0", scope="test")
        + dep(G, "optional-o", "1.0", optional=True)
        + dep(G, "sys-s", "1.0", scope="system",
              extra=f"<systemPath>{root}/system/sys-s.jar</systemPath>")
    ))
    w.artifact(G, "lib-a", "1.0", deps=dep(G, "lib-b", "1.0") + dep(G, "excluded-x", "1.0")
               + dep(G, "lib-e", "1.0"))
    w.artifact(G, "lib-b", "1.0", deps=dep(G, "lib-f", "1.0"))
    w.artifact(G, "lib-b", "2.0")
    w.artifact(G, "lib-c", "2.0", properties={"r.version": "${runtime.version}"},
               parent=(G, "parent-root", "1"),
               deps=dep(G, "lib-b", "2.0") + dep(G, "lib-f", "2.0")
               + dep(G, "runtime-r", "${runtime.version}", scope="runtime")
               + dep(G, "opt-y", "1.0", optional=True))
    w.artifact(G, "lib-d", "1.5", deps=dep(G, "lib-e", "2.0")
               + dep(G, "prov-q", "1.0", scope="provided"))
    for name, version in (("lib-e", "1.0"), ("lib-e", "2.0"), ("lib-f", "1.0"), ("lib-f", "2.0"),
                          ("runtime-r", "1.0"), ("excluded-x", "1.0"), ("provided-p", "1.0"),
                          ("test-t", "1.0"), ("optional-o", "1.0"), ("opt-y", "1.0"),
                          ("prov-q", "1.0")):
        w.artifact(G, name, version)
    return w


EXPECTED = {
    f"{G}:app:1.0": "compile",
    f"{G}:lib-a:1.0": "compile",
    f"{G}:lib-c:2.0": "compile",
    f"{G}:lib-d:1.5": "runtime",
    f"{G}:lib-b:1.0": "compile",
    f"{G}:lib-e:1.0": "compile",
    f"{G}:lib-f:2.0": "compile",
    f"{G}:runtime-r:1.0": "runtime",
}
