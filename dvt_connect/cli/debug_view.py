"""How `dvt debug`'s report looks: four tables and a summary for people, one JSON document for
scripts. The checks themselves live in :mod:`dvt_connect.doctor` and return a :class:`Report`."""

from __future__ import annotations

from collections.abc import Iterable

from dvt_connect.cli.clean_view import show_leftovers
from dvt_connect.console import Console
from dvt_connect.doctor import ERROR, OK, SKIP, WARN, JarStatus, Reach, Report

_STYLES = {OK: None, WARN: "yellow", ERROR: "red", SKIP: "dim"}


def show_report(report: Report, console: Console, *, as_json: bool) -> None:
    """Tables in order (Environment, Configuration, Buckets, Connections) and a summary line,
    or one JSON document."""
    if as_json:
        console.json(report.to_dict())
        if not report.ok:
            console.error(report.summary())  # to stderr: stdout holds only the document
        return
    if "environment" in report.sections:
        console.table("Environment", ["Check", "Value", "Status", "Details"],
                      [[e.name, e.value, e.status, e.detail] for e in report.environment],
                      styles=[_STYLES[e.status] for e in report.environment])
    console.table(
        f"Configuration (folder {report.directory}, chosen by {report.chosen_by})",
        ["File", "Path", "Found", "Valid", "Details"],
        [[f.name, f.path, f.found, _valid(f.valid), f.detail] for f in report.files],
        styles=[_STYLES[f.status] for f in report.files],
    )
    unchecked = "(not checked: profiles.yml did not load)"
    if "buckets" in report.sections:
        console.table(
            "Buckets (* = target)",
            ["Bucket", "Type", "Location", "Credentials", "Jars", "Status"],
            [[_star(b.name, b.default), b.type, _lines(b.location, b.spark_path),
              b.credentials, _jars_text(b.jars) if b.jars else "-",
              _status_text(b.status, b.error, b.notes, b.reach)]
             for b in report.buckets]
            or [["(none)" if report.profile else unchecked, "", "", "", "", ""]],
            styles=[_STYLES[b.status] for b in report.buckets],
        )
    live = ("live check: a socket or a path, no login" if report.connect
            else "live check skipped")
    console.table(
        f"Connections (profile `{report.profile or '?'}`, * = target; {live})",
        ["Output", "Type", "Connector", "Jars", "Live check", "Status"],
        [[_star(c.name, c.is_target), _lines(c.type, c.location), _lines(c.connector, c.reason),
          _jars_text(c.jars), _lines(c.reach.check, c.reach.result) if c.reach else "-",
          _status_text(c.status, c.error, c.notes, None)] for c in report.connections]
        or [["(none)" if report.profile else unchecked, "", "", "", "", ""]],
        styles=[_STYLES[c.status] for c in report.connections],
    )
    if report.leftovers is not None:
        show_leftovers(console, report.leftovers)
    for warning in report.warnings:
        console.warn(warning)
    if report.ok:
        console.success(report.summary())
    else:
        console.error(report.summary())


def _lines(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def _valid(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _star(name: str, marked: bool) -> str:
    return f"{name} *" if marked else name


def _status_text(status: str, error: str | None, notes: Iterable[str],
                 reach: Reach | None) -> str:
    lines = [status]
    if error:
        lines.append(error)
    if reach is not None:
        lines.append(reach.describe())
    lines.extend(notes)
    return "\n".join(lines)


def _jars_text(jars: JarStatus) -> str:
    if jars.present is None:
        return _lines(*jars.coordinates) or "unknown"
    if not jars.coordinates:
        return "none needed" if jars.present else "not in jars folder"
    state = "in jars folder" if jars.present else "not in jars folder"
    return _lines(*jars.coordinates, f"({state})")
