"""Maven coordinates: parsing, the paths they have in a repository, and version order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from dvt_connect.errors import ResolveError


class CoordinateError(ResolveError):
    """A coordinate string that is not ``group:artifact:version[:classifier]``."""

    exit_code = 2

    def __init__(self, text: str, where: str | None = None) -> None:
        self.text = text
        place = f" in {where}" if where else ""
        super().__init__(
            f"`{text}`{place} is not a Maven coordinate.",
            hint="Write `group:artifact:version`, `group:artifact:version:classifier` or "
            "`group:artifact:extension:classifier:version`.",
        )


_PART = re.compile(r"^[A-Za-z0-9_.\-+\[\](),${}]+$")


@dataclass(frozen=True, order=True)
class Coordinate:
    """One artifact of a Maven repository."""

    group: str
    artifact: str
    version: str
    classifier: str = ""
    extension: str = "jar"

    @classmethod
    def parse(cls, text: str, where: str | None = None) -> Coordinate:
        """``g:a:v``, ``g:a:v:classifier`` (Spark's and Gradle's order) or Maven's long form
        ``g:a:extension:classifier:version``."""
        parts = text.strip().split(":")
        if len(parts) == 3:
            group, artifact, version = parts
            classifier, extension = "", "jar"
        elif len(parts) == 4:
            group, artifact, version, classifier = parts
            extension = "jar"
        elif len(parts) == 5:
            group, artifact, extension, classifier, version = parts
        else:
            raise CoordinateError(text, where)
        if not all(parts[:3]) or not all(_PART.match(p) for p in parts if p):
            raise CoordinateError(text, where)
        return cls(group, artifact, version, classifier, extension or "jar")

    @property
    def ga(self) -> tuple[str, str]:
        return (self.group, self.artifact)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What Maven mediates versions on: group, artifact, extension and classifier."""
        return (self.group, self.artifact, self.extension, self.classifier)

    def with_version(self, version: str) -> Coordinate:
        return Coordinate(self.group, self.artifact, version, self.classifier, self.extension)

    def pom(self) -> Coordinate:
        return Coordinate(self.group, self.artifact, self.version, "", "pom")

    @property
    def directory(self) -> str:
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}"

    @property
    def repo_file_name(self) -> str:
        suffix = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.{self.extension}"

    @property
    def path(self) -> str:
        """Path relative to a repository root (Maven 2 layout)."""
        return f"{self.directory}/{self.repo_file_name}"

    @property
    def jar_name(self) -> str:
        """File name in the jars folder: the group keeps two groups' same-named jars apart."""
        return f"{self.group}_{self.repo_file_name}"

    def __str__(self) -> str:
        if self.extension != "jar":
            return (f"{self.group}:{self.artifact}:{self.extension}:{self.classifier}:"
                    f"{self.version}")
        if self.classifier:
            return f"{self.group}:{self.artifact}:{self.version}:{self.classifier}"
        return f"{self.group}:{self.artifact}:{self.version}"


# -- versions --------------------------------------------------------------------------------
# Maven's ComparableVersion, reduced to what release coordinates use: numbers compare as
# numbers, the well-known qualifiers in their order, anything else after them alphabetically.
_QUALIFIERS = {"alpha": 1, "a": 1, "beta": 2, "b": 2, "milestone": 3, "m": 3, "rc": 4, "cr": 4,
               "snapshot": 5, "": 6, "ga": 6, "final": 6, "release": 6, "sp": 7}


@total_ordering
class MavenVersion:
    def __init__(self, text: str) -> None:
        self.text = text
        items: list[tuple[int, int | str]] = []
        for token in re.findall(r"\d+|[A-Za-z]+", text.lower()):
            if token.isdigit():
                items.append((2, int(token)))
            elif token in _QUALIFIERS:
                items.append((0, _QUALIFIERS[token]))
            else:
                items.append((1, token))
        while items and items[-1] in ((2, 0), (0, 6)):
            items.pop()
        self.items = items

    def _pairs(self, other: MavenVersion
               ) -> list[tuple[tuple[int, int | str], tuple[int, int | str]]]:
        length = max(len(self.items), len(other.items))
        a: list[tuple[int, int | str] | None] = [*self.items, *[None] * (length - len(self.items))]
        b: list[tuple[int, int | str] | None] = [
            *other.items, *[None] * (length - len(other.items))
        ]
        pairs = []
        for x, y in zip(a, b, strict=False):
            # a missing item is 0 beside a number and "release" beside a qualifier
            x = x or ((2, 0) if y and y[0] == 2 else (0, 6))
            y = y or ((2, 0) if x[0] == 2 else (0, 6))
            pairs.append((x, y))
        return pairs

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MavenVersion):
            return NotImplemented
        return all(x == y for x, y in self._pairs(other))

    def __lt__(self, other: MavenVersion) -> bool:
        for x, y in self._pairs(other):
            if x == y:
                continue
            if x[0] != y[0]:
                # numbers beat words beat qualifiers (1.0.1 > 1.0-foo > 1.0-rc1)
                return x[0] < y[0]
            return x[1] < y[1]  # type: ignore[operator]
        return False

    def __hash__(self) -> int:
        return hash(tuple(self.items))

    def __repr__(self) -> str:
        return f"MavenVersion({self.text!r})"


def is_range(version: str) -> bool:
    return version[:1] in "[(" and version[-1:] in "])"


def in_range(version: str, spec: str) -> bool:
    """Whether ``version`` satisfies a Maven range such as ``[1.0,2.0)`` or ``[1.2]``."""
    v = MavenVersion(version)
    for part in re.findall(r"[\[(][^\])]*[\])]", spec):
        inner = part[1:-1]
        if "," not in inner:
            if MavenVersion(inner.strip()) == v:
                return True
            continue
        low, high = (s.strip() for s in inner.split(",", 1))
        ok = True
        if low:
            lo = MavenVersion(low)
            ok = ok and (lo < v or (part[0] == "[" and lo == v))
        if high:
            hi = MavenVersion(high)
            ok = ok and (v < hi or (part[-1] == "]" and hi == v))
        if ok:
            return True
    return False
