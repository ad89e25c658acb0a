"""One error hierarchy for everything dvt-connect reports to a user.

Each subclass carries structure (file, key, object, what was tried) and builds its own message,
so the CLI has a single handler: print ``str(error)``, exit with ``error.exit_code``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class DvtError(Exception):
    """Root of every error a user may see. ``exit_code`` 1 is a failure, 2 a usage/config error."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(DvtError):
    """A configuration file or option is wrong; names the file and the key where known."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        key: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.key = key
        self.line = line
        where = []
        if self.path is not None:
            where.append(f"{self.path}" + (f", line {line}" if line is not None else ""))
        if key:
            where.append(f"key `{key}`")
        prefix = f"{': '.join(where)}: " if where else ""
        super().__init__(f"{prefix}{message}", hint=hint)


class UsageError(DvtError):
    """A command-line option is wrong or missing."""

    exit_code = 2


class NotFoundError(ConfigError):
    """A named profile, output, bucket or adapter does not exist; suggests the closest name."""

    def __init__(
        self,
        kind: str,
        name: str,
        valid: Iterable[str],
        *,
        path: Path | str | None = None,
        key: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        close = difflib.get_close_matches(name, self.valid, n=1)
        hint = f"Did you mean `{close[0]}`?" if close else None
        listed = ", ".join(f"`{v}`" for v in self.valid) or "none"
        super().__init__(
            f"unknown {kind} `{name}`; valid: {listed}.", path=path, key=key, hint=hint
        )


class JavaError(DvtError):
    """Java is missing or too old for the installed Spark."""


class JarsMissingError(DvtError):
    """Jars a transfer needs are not in the jars folder."""

    def __init__(self, missing: Iterable[str], command: str) -> None:
        self.missing = sorted(missing)
        super().__init__(
            f"missing jars: {', '.join(self.missing)}.", hint=f"Run `{command}` to download them."
        )


class ServerDriverMissingError(DvtError):
    """A Spark Connect server lacks the JDBC driver an output needs: its jars are the server's,
    fixed when it started, so only the server's operator can add it."""

    def __init__(self, server: str, driver: str, packages: Iterable[str], output: str) -> None:
        self.server = server
        self.driver = driver
        self.packages = tuple(packages)
        self.output = output
        needs = ", ".join(self.packages) or "its driver jar"
        super().__init__(
            f"the Spark Connect server {server} has no JDBC driver {driver} (output "
            f"`{output}` needs {needs}); nothing was written.",
            hint="Start the server with that jar: `dvt server stop` then `dvt server start` "
                 "loads the jars `dvt sync` downloaded; start a remote server with `--jars "
                 "<jar>` or `--conf spark.jars.packages=" + (",".join(self.packages)
                                                              or "<group:artifact:version>")
                 + "`.")


class ResolveError(DvtError):
    """A Maven coordinate could not be resolved or downloaded."""


class TransferError(DvtError):
    """A transfer failed; the target is left as it was."""


class SourceError(TransferError):
    """The source or target database refused a query (bad credentials, missing table, SQL)."""


class UnreachableError(SourceError):
    """Nothing listens where an output points (connection refused): no retry helps a plan."""
