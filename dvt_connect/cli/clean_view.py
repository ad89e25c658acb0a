"""How the leftovers of killed runs look (`dvt clean`, and a section of `dvt debug`)."""

from __future__ import annotations

from typing import Any

from dvt_connect.console import Console


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (an older name)"
    minutes, hours, days = seconds / 60, seconds / 3600, seconds / 86400
    if days >= 1:
        return f"{days:.1f} d"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{minutes:.0f} min"


def show_leftovers(console: Console, scan: dict[str, Any]) -> None:
    """One table: every leftover (output, kind, name, age), then what was not looked at."""
    older = age_text(scan["older_than_seconds"])
    found = scan["leftovers"]
    console.table(
        f"Leftovers of killed runs (staging older than {older}; `dvt clean` lists, "
        "`dvt clean --yes` removes)",
        ["Output", "Kind", "Name", "Age"],
        [[item["output"], item["kind"], item["name"], age_text(item["age_seconds"])]
         for item in found] or [["(none)", "", "", ""]],
        styles=["yellow" for _ in found])
    for line in scan["not_scanned"]:
        console.info(f"not scanned for leftovers: {line}")
