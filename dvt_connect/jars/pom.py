"""POM files and the effective model Maven builds from them.

What a dependency resolver needs and no more: the parent chain, properties and their
interpolation (``${project.version}`` and friends), ``dependencyManagement`` with imported BOMs,
``activeByDefault`` profiles, scopes, optional flags, exclusions and relocations.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from dvt_connect.errors import ResolveError
from dvt_connect.jars.coordinates import Coordinate

# type -> (extension, classifier) as Maven's default artifact handlers define them
_TYPES = {"test-jar": ("jar", "tests"), "bundle": ("jar", ""), "maven-plugin": ("jar", ""),
          "ejb": ("jar", ""), "ejb-client": ("jar", "client"), "java-source": ("jar", "sources"),
          "javadoc": ("jar", "javadoc")}


class PomError(ResolveError):
    """A POM that cannot be read or builds no model (bad XML, a property cycle, no version)."""

    def __init__(self, coordinate: Coordinate | str, problem: str, *, chain: Iterable[str] = ()
                 ) -> None:
        self.coordinate = str(coordinate)
        via = list(chain)
        where = f" (needed by {' -> '.join(via)})" if via else ""
        super().__init__(f"POM of `{self.coordinate}`{where}: {problem}")


@dataclass(frozen=True)
class Dependency:
    group: str
    artifact: str
    version: str | None = None
    type: str = "jar"
    classifier: str = ""
    scope: str | None = None
    optional: bool = False
    exclusions: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.group, self.artifact, self.type, self.classifier)

    def coordinate(self) -> Coordinate:
        extension, classifier = _TYPES.get(self.type, (self.type, ""))
        return Coordinate(self.group, self.artifact, self.version or "", self.classifier
                          or classifier, extension)


@dataclass
class RawPom:
    """One POM file as written, before inheritance and interpolation."""

    group: str | None
    artifact: str
    version: str | None
    packaging: str
    parent: Coordinate | None
    properties: dict[str, str]
    dependencies: list[dict[str, object]]
    managed: list[dict[str, object]]
    relocation: dict[str, str | None] | None = None


@dataclass
class Model:
    """The effective model of one artifact: what its dependencies are, fully resolved."""

    coordinate: Coordinate
    packaging: str
    properties: dict[str, str]
    dependencies: list[Dependency]
    managed: dict[tuple[str, str, str, str], Dependency] = field(default_factory=dict)
    relocated_to: Coordinate | None = None


def _strip(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element | None, name: str) -> ET.Element | None:
    if element is None:
        return None
    for c in element:
        if _strip(c.tag) == name:
            return c
    return None


def _text(element: ET.Element | None, name: str) -> str | None:
    c = _child(element, name)
    if c is None or c.text is None:
        return None
    return c.text.strip()


def _elements(element: ET.Element | None) -> list[ET.Element]:
    return list(element) if element is not None else []


def _children(element: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in _elements(element) if _strip(c.tag) == name]


def _read_dependency(element: ET.Element) -> dict[str, object]:
    exclusions = []
    for ex in _children(_child(element, "exclusions"), "exclusion"):
        exclusions.append((_text(ex, "groupId") or "*", _text(ex, "artifactId") or "*"))
    return {
        "group": _text(element, "groupId") or "",
        "artifact": _text(element, "artifactId") or "",
        "version": _text(element, "version"),
        "type": _text(element, "type"),
        "classifier": _text(element, "classifier"),
        "scope": _text(element, "scope"),
        "optional": _text(element, "optional"),
        "exclusions": tuple(exclusions),
    }


def parse_pom(data: bytes, source: Coordinate | str) -> RawPom:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise PomError(source, f"not valid XML ({exc}).") from None
    if _strip(root.tag) != "project":
        raise PomError(source, "not a POM (the root element is not <project>).")
    parent_el = _child(root, "parent")
    parent = None
    if parent_el is not None:
        pg, pa, pv = (_text(parent_el, n) for n in ("groupId", "artifactId", "version"))
        if not (pg and pa and pv):
            raise PomError(source, "its <parent> lacks a groupId, artifactId or version.")
        parent = Coordinate(pg, pa, pv, "", "pom")
    properties: dict[str, str] = {}
    dependencies = [_read_dependency(d) for d in
                    _children(_child(root, "dependencies"), "dependency")]
    managed = [_read_dependency(d) for d in _children(
        _child(_child(root, "dependencyManagement"), "dependencies"), "dependency")]
    for p in _elements(_child(root, "properties")):
        properties[_strip(p.tag)] = (p.text or "").strip()
    for profile in _children(_child(root, "profiles"), "profile"):
        if _text(_child(profile, "activation"), "activeByDefault") == "true":
            for p in _elements(_child(profile, "properties")):
                properties[_strip(p.tag)] = (p.text or "").strip()
            dependencies += [_read_dependency(d) for d in
                             _children(_child(profile, "dependencies"), "dependency")]
            managed += [_read_dependency(d) for d in _children(
                _child(_child(profile, "dependencyManagement"), "dependencies"), "dependency")]
    relocation = None
    reloc_el = _child(_child(root, "distributionManagement"), "relocation")
    if reloc_el is not None:
        relocation = {n: _text(reloc_el, n) for n in ("groupId", "artifactId", "version")}
    artifact = _text(root, "artifactId")
    if not artifact:
        raise PomError(source, "it has no <artifactId>.")
    return RawPom(
        group=_text(root, "groupId"),
        artifact=artifact,
        version=_text(root, "version"),
        packaging=_text(root, "packaging") or "jar",
        parent=parent,
        properties=properties,
        dependencies=dependencies,
        managed=managed,
        relocation=relocation,
    )


_PROPERTY = re.compile(r"\$\{([^}]+)\}")


class ModelBuilder:
    """Builds effective models, fetching parents and imported BOMs through ``load``.

    ``load(coordinate_of_a_pom) -> bytes`` raises when the POM is nowhere; models are cached,
    so resolving many needs that share parents reads each POM once.
    """

    def __init__(self, load: Callable[[Coordinate], bytes]) -> None:
        self._load = load
        self._raw: dict[Coordinate, RawPom] = {}
        self._models: dict[Coordinate, Model] = {}

    def raw(self, coordinate: Coordinate) -> RawPom:
        pom = coordinate.pom()
        if pom not in self._raw:
            self._raw[pom] = parse_pom(self._load(pom), pom)
        return self._raw[pom]

    def model(self, coordinate: Coordinate, _importing: tuple[Coordinate, ...] = ()) -> Model:
        pom = coordinate.pom()
        if pom in self._models:
            return self._models[pom]
        if pom in _importing:
            raise PomError(pom, "imports itself through its BOMs.",
                           chain=[str(c) for c in _importing])
        chain = self._chain(pom)
        model = self._build(pom, chain, (*_importing, pom))
        self._models[pom] = model
        return model

    def _chain(self, pom: Coordinate) -> list[RawPom]:
        chain = [self.raw(pom)]
        seen = {pom}
        while chain[-1].parent is not None:
            parent = chain[-1].parent
            if parent in seen:
                raise PomError(pom, f"its parent chain loops at `{parent}`.")
            seen.add(parent)
            chain.append(self.raw(parent))
        return chain

    def _build(self, pom: Coordinate, chain: list[RawPom], importing: tuple[Coordinate, ...]
               ) -> Model:
        me = chain[0]
        group = me.group or (me.parent.group if me.parent else None)
        version = me.version or (me.parent.version if me.parent else None)
        if not group or not version:
            raise PomError(pom, "it has no groupId or version, and no parent to inherit one.")
        properties: dict[str, str] = {}
        for raw in reversed(chain):  # the root ancestor first; each child overrides
            properties.update(raw.properties)
        builtins = {
            "groupId": group, "artifactId": me.artifact, "version": version,
            "packaging": me.packaging,
        }
        for k, v in builtins.items():
            properties[f"project.{k}"] = properties[f"pom.{k}"] = v
            properties.setdefault(k, v)
        if me.parent is not None:
            for prefix in ("project.parent.", "parent."):
                properties[prefix + "groupId"] = me.parent.group
                properties[prefix + "artifactId"] = me.parent.artifact
                properties[prefix + "version"] = me.parent.version

        def interpolate(value: str | None) -> str | None:
            if value is None:
                return None
            for _ in range(20):  # properties may refer to properties
                new = _PROPERTY.sub(lambda m: properties.get(m.group(1), m.group(0)), value)
                if new == value:
                    break
                value = new
            return value

        dependencies = _merge([self._dep(d, interpolate) for raw in chain
                               for d in raw.dependencies])
        managed_list = _merge([self._dep(d, interpolate) for raw in chain for d in raw.managed])
        managed: dict[tuple[str, str, str, str], Dependency] = {}
        imports: list[Dependency] = []
        for d in managed_list:
            if d.scope == "import" and d.type == "pom":
                imports.append(d)
            else:
                managed.setdefault(d.key, d)
        for bom in imports:
            if not bom.version or "${" in bom.version:
                raise PomError(pom, f"imported BOM `{bom.group}:{bom.artifact}` has no version "
                               f"({bom.version or 'none given'}).")
            bom_model = self.model(Coordinate(bom.group, bom.artifact, bom.version, "", "pom"),
                                   importing)
            for key, d in bom_model.managed.items():
                managed.setdefault(key, d)

        resolved: list[Dependency] = []
        for d in dependencies:
            m = managed.get(d.key)
            if m is not None:
                d = replace(
                    d,
                    version=d.version or m.version,
                    scope=d.scope or m.scope,
                    exclusions=d.exclusions + tuple(e for e in m.exclusions
                                                    if e not in d.exclusions),
                )
            if d.version is None or "${" in d.version:
                raise PomError(pom, f"dependency `{d.group}:{d.artifact}` has no version "
                               f"({d.version or 'none given, and none managed'}).")
            resolved.append(replace(d, scope=d.scope or "compile"))

        relocated = None
        if me.relocation:
            target = Coordinate(
                interpolate(me.relocation.get("groupId")) or group,
                interpolate(me.relocation.get("artifactId")) or me.artifact,
                interpolate(me.relocation.get("version")) or version,
            )
            if target.pom() != Coordinate(group, me.artifact, version).pom():
                relocated = target
        return Model(
            coordinate=Coordinate(group, me.artifact, version, "", "pom"),
            packaging=me.packaging,
            properties=properties,
            dependencies=resolved,
            managed=managed,
            relocated_to=relocated,
        )

    @staticmethod
    def _dep(raw: dict[str, object], interpolate: Callable[[str | None], str | None]
             ) -> Dependency:
        def s(name: str) -> str | None:
            value = raw.get(name)
            return interpolate(value) if isinstance(value, str) else None

        exclusions = raw.get("exclusions") or ()
        assert isinstance(exclusions, tuple)
        return Dependency(
            group=s("group") or "",
            artifact=s("artifact") or "",
            version=s("version"),
            type=s("type") or "jar",
            classifier=s("classifier") or "",
            scope=s("scope"),
            optional=(s("optional") or "false").lower() == "true",
            exclusions=tuple((interpolate(g) or g, interpolate(a) or a) for g, a in exclusions),
        )


def _merge(dependencies: list[Dependency]) -> list[Dependency]:
    """Child entries first and winning, then what the parents add (Maven's inheritance order)."""
    merged: dict[tuple[str, str, str, str], Dependency] = {}
    for d in dependencies:
        merged.setdefault(d.key, d)
    return list(merged.values())
