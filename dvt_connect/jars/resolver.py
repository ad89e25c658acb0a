"""Dependency resolution as Maven 3 does it, returning a plan and downloading nothing.

The top-level coordinates of every need are the direct dependencies of one virtual project.
Their transitive dependencies come from the effective POMs (see :mod:`.pom`): compile and
runtime scopes are followed, test, provided and system are not, optional dependencies of
dependencies are dropped, exclusions apply to everything below the dependency that declares
them, and conflicts are settled by nearest wins (the first declared wins between equals). The
result is the set ``mvn dependency:list`` prints for the same project.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from dvt_connect.errors import DvtError, ResolveError
from dvt_connect.jars.coordinates import Coordinate, MavenVersion, in_range, is_range
from dvt_connect.jars.pom import ModelBuilder
from dvt_connect.jars.spark_versions import Shipped, ShippedJar, SparkInstall

TRANSITIVE_SCOPES = ("compile", "runtime")


@dataclass(frozen=True)
class Need:
    """Something in the configuration that needs jars, and the top-level coordinates for it.

    ``problem`` says why nothing can be resolved for it (no connector release fits the
    installed Spark); ``note`` is advice shown with it (BigQuery's JDBC driver is not on Maven
    Central). ``transitive=False`` takes the coordinates alone (shaded jars).
    """

    key: str
    coordinates: tuple[Coordinate, ...] = ()
    transitive: bool = True
    problem: str | None = None
    note: str | None = None
    warning: str | None = None  # e.g. the connector release is built for another Spark minor


@dataclass
class Node:
    coordinate: Coordinate
    scope: str
    depth: int
    parent: Coordinate | None
    needed_by: list[str] = field(default_factory=list)
    shipped: ShippedJar | None = None
    pom_repository: str | None = None

    @property
    def is_jar(self) -> bool:
        return self.coordinate.extension == "jar"


@dataclass(frozen=True)
class Conflict:
    """Two versions of one artifact were asked for; ``chosen`` is the one that is used."""

    artifact: str
    chosen: str
    omitted: str
    requested_by: str
    kind: str  # "nearest" (Maven mediation) or "spark" (the installed Spark ships another)

    def describe(self) -> str:
        if self.kind == "spark":
            return (f"`{self.artifact}`: {self.requested_by} asks for {self.omitted}, but "
                    f"Spark ships {self.chosen} and Spark's copy is the one loaded. If the "
                    "connector fails with NoSuchMethodError or ClassNotFoundException, this is "
                    "the likely cause.")
        return (f"`{self.artifact}`: {self.requested_by} asks for {self.omitted}; "
                f"{self.chosen} is nearer and wins.")


@dataclass
class Plan:
    """What sync will do: every artifact the needs resolve to, where each comes from."""

    spark: SparkInstall
    needs: list[Need]
    nodes: list[Node]
    conflicts: list[Conflict]
    failures: dict[str, DvtError]

    @property
    def jars(self) -> list[Node]:
        """Jar files the needs resolve to that Spark does not already ship."""
        return [n for n in self.nodes if n.is_jar and n.shipped is None]

    @property
    def shipped(self) -> list[Node]:
        return [n for n in self.nodes if n.shipped is not None]

    def requirements(self) -> dict[str, list[str]]:
        return {n.key: [str(c) for c in n.coordinates] for n in self.needs if n.problem is None
                and n.key not in self.failures}

    def tree(self) -> list[tuple[int, Node]]:
        """(depth, node) in depth-first order from each top-level coordinate."""
        children: dict[Coordinate | None, list[Node]] = {}
        for node in self.nodes:
            children.setdefault(node.parent, []).append(node)
        lines: list[tuple[int, Node]] = []

        def walk(parent: Coordinate | None, depth: int) -> None:
            for child in children.get(parent, []):
                lines.append((depth, child))
                walk(child.coordinate, depth + 1)

        walk(None, 0)
        return lines


class NoVersionInRangeError(ResolveError):
    pass


def _excluded(coordinate: Coordinate, exclusions: Iterable[tuple[str, str]]) -> bool:
    return any(g in ("*", coordinate.group) and a in ("*", coordinate.artifact)
               for g, a in exclusions)


@dataclass
class _Item:
    coordinate: Coordinate
    scope: str
    depth: int
    exclusions: frozenset[tuple[str, str]]
    parent: Coordinate | None
    need: str


class Resolver:
    """Resolves needs through a :class:`ModelBuilder`; pure apart from reading POMs."""

    def __init__(self, builder: ModelBuilder, shipped: Shipped, *,
                 versions: Callable[[str, str], Sequence[str]] | None = None,
                 pom_origin: Callable[[Coordinate], str | None] | None = None) -> None:
        self.builder = builder
        self.shipped = shipped
        self._versions = versions
        self._pom_origin = pom_origin or (lambda c: None)

    def _pin(self, coordinate: Coordinate) -> Coordinate:
        if not is_range(coordinate.version):
            return coordinate
        candidates = [v for v in (self._versions(coordinate.group, coordinate.artifact)
                                  if self._versions else []) if in_range(v, coordinate.version)]
        if not candidates:
            raise NoVersionInRangeError(
                f"no published version of `{coordinate.group}:{coordinate.artifact}` is in "
                f"the range {coordinate.version}.")
        return coordinate.with_version(max(candidates, key=MavenVersion))

    def collect(self, roots: Sequence[tuple[Coordinate, str, bool]]
                ) -> tuple[list[Node], list[Conflict]]:
        """Breadth first from the roots, nearest wins. ``roots``: (coordinate, need,
        transitive)."""
        selected: dict[tuple[str, str, str, str], Node] = {}
        order: list[Node] = []
        conflicts: list[Conflict] = []
        transitive_roots = {c for c, _, t in roots if t}
        queue: deque[_Item] = deque(
            _Item(c, "compile", 1, frozenset(), None, need) for c, need, _ in roots)
        while queue:
            item = queue.popleft()
            coordinate = item.coordinate
            existing = selected.get(coordinate.key)
            if existing is not None:
                if existing.coordinate.version != coordinate.version and not is_range(
                        coordinate.version):
                    conflicts.append(Conflict(
                        f"{coordinate.group}:{coordinate.artifact}",
                        existing.coordinate.version, coordinate.version,
                        str(item.parent) if item.parent else item.need, "nearest"))
                if item.need not in existing.needed_by:
                    existing.needed_by.append(item.need)
                continue
            coordinate = self._pin(coordinate)
            follow = item.depth > 1 or coordinate in transitive_roots
            model = self.builder.model(coordinate) if follow else None
            while model is not None and model.relocated_to is not None:
                coordinate = Coordinate(model.relocated_to.group, model.relocated_to.artifact,
                                        model.relocated_to.version, coordinate.classifier,
                                        coordinate.extension)
                model = self.builder.model(coordinate)
            node = Node(coordinate, item.scope, item.depth, item.parent, [item.need],
                        pom_repository=self._pom_origin(coordinate) if follow else None)
            selected[item.coordinate.key] = node
            selected.setdefault(coordinate.key, node)
            order.append(node)
            if model is None:
                continue
            for dep in model.dependencies:
                if dep.scope not in TRANSITIVE_SCOPES or dep.optional:
                    continue
                child = dep.coordinate()
                if _excluded(child, item.exclusions):
                    continue
                scope = "runtime" if "runtime" in (item.scope, dep.scope) else "compile"
                queue.append(_Item(child, scope, item.depth + 1,
                                   item.exclusions | frozenset(dep.exclusions), coordinate,
                                   item.need))
        return order, conflicts

    def plan(self, spark: SparkInstall, needs: Sequence[Need]) -> Plan:
        """Resolve every need; a need that fails is reported and the others still resolve."""
        failures: dict[str, DvtError] = {}
        members: dict[str, set[tuple[str, str, str, str]]] = {}
        for need in needs:
            if need.problem or not need.coordinates:
                continue
            try:
                nodes, _ = self.collect([(c, need.key, need.transitive)
                                         for c in need.coordinates])
            except DvtError as exc:
                failures[need.key] = exc
                continue
            members[need.key] = {n.coordinate.key for n in nodes}
        roots: list[tuple[Coordinate, str, bool]] = []
        seen: set[Coordinate] = set()
        for need in needs:
            if need.key in members:
                for c in need.coordinates:
                    if c not in seen:
                        seen.add(c)
                        roots.append((c, need.key, need.transitive))
        nodes, conflicts = self.collect(roots)
        for node in nodes:
            node.needed_by = [k for k in members if node.coordinate.key in members[k]] or \
                node.needed_by
            shipped = self.shipped.get(node.coordinate.group, node.coordinate.artifact)
            if shipped is not None:
                node.shipped = shipped
                if MavenVersion(shipped.version) != MavenVersion(node.coordinate.version):
                    conflicts.append(Conflict(
                        f"{node.coordinate.group}:{node.coordinate.artifact}",
                        shipped.version, node.coordinate.version,
                        str(node.parent) if node.parent else ", ".join(node.needed_by),
                        "spark"))
        return Plan(spark, list(needs), nodes, conflicts, failures)
