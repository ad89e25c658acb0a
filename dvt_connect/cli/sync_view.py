"""How `dvt sync`'s outcome looks: the resolved tree (dry run) or the jars table, a summary line
and the errors, for people; one JSON document for scripts. The work is :func:`jars.sync.sync`."""

from __future__ import annotations

from dvt_connect.console import Console, human_size
from dvt_connect.jars.download import is_current
from dvt_connect.jars.sync import SyncOutcome


def show_sync(outcome: SyncOutcome, console: Console, *, as_json: bool) -> None:
    if as_json:
        _json(console, outcome)
        return
    _libraries(console, outcome)
    if outcome.up_to_date:
        _errors(console, outcome)
        console.success(f"Nothing to do: the {outcome.jar_count} jar(s) these needs take are "
                        f"present and verified ({outcome.seconds:.2f}s).")
        return
    if outcome.dry_run:
        _plan(console, outcome)
    elif outcome.result is not None:
        _result(console, outcome)
    _errors(console, outcome)


def _libraries(console: Console, outcome: SyncOutcome) -> None:
    for done in outcome.libraries:
        where = f": {done.path}" if done.path else ""
        note = f" ({done.note})" if done.note else ""
        console.info(f"Reader library {done.library.name} {done.state}{where}{note}")


def _errors(console: Console, outcome: SyncOutcome) -> None:
    for message in outcome.errors:
        console.error(message)


def _plan(console: Console, outcome: SyncOutcome) -> None:
    plan, manifest = outcome.plan, outcome.manifest
    if plan is None or manifest is None:
        return
    present = {c for c, e in manifest.by_coordinate().items() if is_current(manifest, e)}
    console.info(f"Resolved for {plan.spark.describe()}:")
    for depth, node in plan.tree():
        if node.shipped is not None:
            state = f"shipped by Spark ({node.shipped.version})"
        elif not node.is_jar:
            state = "pom only"
        elif str(node.coordinate) in present:
            state = "present"
        else:
            state = "would download"
        needed = f"  [{', '.join(node.needed_by)}]" if depth == 0 else ""
        console.info(f"{'  ' * depth}{node.coordinate} ({node.scope}) - {state}{needed}")
    top = [[n.key, ", ".join(str(c) for c in n.coordinates) or "-",
            "no release fits" if n.problem else "failed" if n.key in plan.failures
            else "ok" if n.coordinates else "nothing to fetch"]
           for n in plan.needs]
    console.table("Top-level coordinates", ["Need", "Coordinates", "State"], top)
    todo = [n for n in plan.jars if str(n.coordinate) not in present]
    console.info(f"Dry run: {len(plan.nodes)} artifact(s) resolved, {len(plan.shipped)} shipped "
                 f"by Spark, {len(todo)} jar(s) would be downloaded; nothing was written.")


def _result(console: Console, outcome: SyncOutcome) -> None:
    plan, result = outcome.plan, outcome.result
    if plan is None or result is None:
        return
    rows = []
    for jar in sorted(result.jars, key=lambda j: j.coordinate):
        rows.append([jar.coordinate, ", ".join(jar.needed_by), jar.status,
                     human_size(jar.size) if jar.size else "-"])
    for node in plan.shipped:
        rows.append([str(node.coordinate), ", ".join(node.needed_by),
                     f"shipped by Spark ({node.shipped.version})" if node.shipped else "", "-"])
    console.table("dvt sync", ["Artifact", "Needed by", "Status", "Size"], rows)
    downloaded = [j for j in result.jars if j.status == "downloaded"]
    cached = [j for j in result.jars if j.status == "cached"]
    console.info(
        f"Resolved {len(plan.nodes)}, downloaded {len(downloaded)} "
        f"({human_size(sum(j.size for j in downloaded))}), cached {len(cached)} "
        f"({human_size(sum(j.size for j in cached))}), shipped by Spark {len(plan.shipped)}, "
        f"failed {len(result.failed)} in {outcome.seconds:.1f}s.")
    if result.pruned:
        console.info(f"Pruned {len(result.pruned)} jar(s) no longer needed: "
                     f"{', '.join(result.pruned)}.")


def _json(console: Console, outcome: SyncOutcome) -> None:
    plan = outcome.plan
    manifest_path = (outcome.manifest.jars_dir if outcome.manifest else outcome.folder)
    console.json({
        "up_to_date": outcome.up_to_date,
        "dry_run": outcome.dry_run,
        "needs": {n.key: {"coordinates": [str(c) for c in n.coordinates],
                          "problem": n.problem, "note": n.note} for n in outcome.needs},
        "resolved": [{"coordinate": str(n.coordinate), "scope": n.scope, "depth": n.depth,
                      "needed_by": n.needed_by,
                      "shipped_by_spark": n.shipped.version if n.shipped else None}
                     for n in (plan.nodes if plan else [])],
        "conflicts": [c.__dict__ for c in (plan.conflicts if plan else [])],
        "jars": [{"coordinate": j.coordinate, "file": j.file, "status": j.status,
                  "size": j.size, "repository": j.repository}
                 for j in (outcome.result.jars if outcome.result else [])],
        "manifest": str(manifest_path / "manifest.json"),
        "reader_libraries": [{"distribution": d.library.distribution,
                              "version": d.library.version, "state": d.state,
                              "path": str(d.path) if d.path else None, "note": d.note}
                             for d in outcome.libraries],
        "errors": outcome.errors,
    })
