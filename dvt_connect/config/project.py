"""The configuration in use: one profile of ``profiles.yml`` and its buckets from ``buckets.yml``.

Files are parsed whole but rendered lazily, output by output, so a variable missing from a target
nobody asked for is not an error (dbt's rule), and ``dvt debug`` can show each output's own error.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvt_connect import secrets
from dvt_connect.adapters import COMMON_SECRET_FIELDS, adapter
from dvt_connect.config.buckets import Bucket, parse_bucket
from dvt_connect.config.profiles import Connection, parse_connection
from dvt_connect.config.render import Renderer, loose_permissions, read_yaml, render_tree
from dvt_connect.errors import ConfigError, DvtError, NotFoundError
from dvt_connect.paths import ConfigPaths, find_config_dir
from dvt_connect.secrets import is_secret_conf_key

# Top-level keys of profiles.yml that are settings, not profiles (dbt has `config`).
RESERVED_TOP_LEVEL = ("config", "repositories")
BUCKET_SECRET_FIELDS = ("aws_secret_access_key", "aws_session_token", "credentials_json",
                        "account_key", "sas_token", "connection_string")


@dataclass
class Project:
    """A resolved profile: its outputs (rendered on first use), buckets and settings."""

    paths: ConfigPaths
    profile_name: str
    target_name: str
    raw_outputs: dict[str, Any]
    raw_spark: dict[str, Any]
    repositories: tuple[str, ...]
    bucket_profile: str | None
    bucket_target: str | None
    raw_buckets: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    # a buckets.yml that cannot be read at all; raised when buckets are used, so `dvt debug`
    # can still show the connections
    buckets_error: DvtError | None = None
    _connections: dict[str, Connection] = field(default_factory=dict, repr=False)
    _buckets: dict[str, Bucket] | None = field(default=None, repr=False)

    # -- connections -------------------------------------------------------------------------
    @property
    def output_names(self) -> list[str]:
        return list(self.raw_outputs)

    def connection(self, name: str | None = None) -> Connection:
        """The named output (default: the profile's target), rendered and validated."""
        name = name or self.target_name
        if name not in self.raw_outputs:
            raise NotFoundError("output", name, self.raw_outputs, path=self.paths.profiles,
                                key=f"{self.profile_name}.outputs")
        if name not in self._connections:
            key = f"{self.profile_name}.outputs.{name}"
            raw = self.raw_outputs[name]
            renderer = Renderer(self.paths.profiles)
            if isinstance(raw, dict):
                secret_fields = set(COMMON_SECRET_FIELDS)
                if isinstance(raw.get("type"), str):
                    with contextlib.suppress(DvtError):  # parse_connection reports it
                        secret_fields |= set(adapter(raw["type"]).secret_fields)
                raw = render_tree(renderer, raw, key, secret_fields)
            self._connections[name] = parse_connection(name, raw, path=self.paths.profiles,
                                                       key=key)
        return self._connections[name]

    def connections(self) -> dict[str, Connection]:
        """Every output of the profile; the first broken one raises."""
        return {name: self.connection(name) for name in self.raw_outputs}

    def connection_results(self) -> dict[str, Connection | DvtError]:
        """Every output, or the error that output has (for `dvt debug`)."""
        results: dict[str, Connection | DvtError] = {}
        for name in self.raw_outputs:
            try:
                results[name] = self.connection(name)
            except DvtError as exc:
                results[name] = exc
        return results

    # -- buckets -----------------------------------------------------------------------------
    @property
    def buckets(self) -> dict[str, Bucket]:
        """The buckets of this profile (empty when buckets.yml is absent or has none); the
        first broken one raises."""
        if self._buckets is None:
            parsed: dict[str, Bucket] = {}
            for name, result in self.bucket_results().items():
                if isinstance(result, DvtError):
                    raise result
                parsed[name] = result
            self._buckets = parsed
        return self._buckets

    def bucket_results(self) -> dict[str, Bucket | DvtError]:
        """Every bucket, or the error that bucket has (for `dvt debug`). A buckets.yml that
        cannot be read at all raises."""
        if self.buckets_error is not None:
            raise self.buckets_error
        results: dict[str, Bucket | DvtError] = {}
        for name, raw in self.raw_buckets.items():
            key = f"{self.bucket_profile}.outputs.{name}"
            try:
                if isinstance(raw, dict):
                    raw = render_tree(Renderer(self.paths.buckets), raw, key,
                                      BUCKET_SECRET_FIELDS)
                results[name] = parse_bucket(name, raw, path=self.paths.buckets, key=key)
            except DvtError as exc:
                results[name] = exc
        return results

    def bucket(self, name: str | None = None) -> Bucket | None:
        """The named bucket, else the bucket profile's target, else None."""
        buckets = self.buckets
        if name:
            if name not in buckets:
                raise NotFoundError("bucket", name, buckets, path=self.paths.buckets)
            return buckets[name]
        if self.bucket_target:
            return buckets.get(self.bucket_target)
        return None

    @property
    def spark_conf(self) -> dict[str, str]:
        """The profile's `spark.conf`, as written; values under secret-looking keys are
        registered so every display masks them."""
        conf = self.raw_spark.get("conf") or {}
        if not isinstance(conf, dict):
            raise ConfigError("`spark.conf` must be a mapping of Spark settings to values.",
                              path=self.paths.profiles, key=f"{self.profile_name}.spark.conf")
        result = {str(k): str(v) for k, v in conf.items()}
        for key, value in result.items():
            if is_secret_conf_key(key):
                secrets.register(value)
        return result

    @property
    def spark_master(self) -> str | None:
        master = self.raw_spark.get("master")
        return str(master) if master else None


def load_project(
    profiles_dir: str | Path | None = None,
    profile: str | None = None,
    target: str | None = None,
) -> Project:
    """Find and load the configuration, choosing the profile and target as dbt does."""
    paths = find_config_dir(profiles_dir)
    if not paths.profiles.exists():
        raise ConfigError(
            f"no profiles.yml found (looked in {paths.directory}, from {paths.source}).",
            hint="Run `dvt init` to create one, or pass --profiles-dir.",
        )
    data = read_yaml(paths.profiles)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of profile names to profiles.", path=paths.profiles)
    profiles = {k: v for k, v in data.items() if k not in RESERVED_TOP_LEVEL}
    if not profiles:
        raise ConfigError("defines no profiles.", path=paths.profiles,
                          hint="Run `dvt init` for a template.")

    profile = profile or os.environ.get("DVT_PROFILE")
    if profile is None:
        if "default" in profiles:
            profile = "default"
        elif len(profiles) == 1:
            profile = next(iter(profiles))
        else:
            raise ConfigError(
                "has several profiles and none is called `default`; choose one with "
                "--profile or DVT_PROFILE: " + ", ".join(f"`{p}`" for p in profiles) + ".",
                path=paths.profiles,
            )
    if profile not in profiles:
        raise NotFoundError("profile", profile, profiles, path=paths.profiles)
    body = profiles[profile]
    if not isinstance(body, dict):
        raise ConfigError("a profile must be a mapping with `target` and `outputs`.",
                          path=paths.profiles, key=profile)
    outputs = body.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        raise ConfigError("missing or empty `outputs` mapping.", path=paths.profiles,
                          key=f"{profile}.outputs")
    renderer = Renderer(paths.profiles)
    target_name = target or renderer.render_value(body.get("target"), f"{profile}.target")
    if not target_name:
        target_name = next(iter(outputs))
    target_name = str(target_name)
    if target_name not in outputs:
        raise NotFoundError("output", target_name, outputs, path=paths.profiles,
                            key=f"{profile}.target")
    spark = body.get("spark") or {}
    if not isinstance(spark, dict):
        raise ConfigError("`spark` must be a mapping with `master` and/or `conf`.",
                          path=paths.profiles, key=f"{profile}.spark")
    spark = renderer.render_value(spark, f"{profile}.spark")
    repositories = _repositories(data.get("repositories"), body.get("repositories"), paths=paths)

    project = Project(
        paths=paths,
        profile_name=profile,
        target_name=target_name,
        raw_outputs=outputs,
        raw_spark=spark,
        repositories=repositories,
        bucket_profile=None,
        bucket_target=None,
        raw_buckets={},
    )
    try:
        _load_buckets(project, profile)
    except ConfigError as exc:
        project.buckets_error = exc
    _warn_permissions(project, data)
    return project


def _repositories(*values: Any, paths: ConfigPaths) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError("`repositories` must be a list of repository URLs.",
                              path=paths.profiles, key="repositories")
        found.extend(v for v in value if v not in found)
    return tuple(found)


def _load_buckets(project: Project, profile: str) -> None:
    path = project.paths.buckets
    if not path.exists():
        return
    data = read_yaml(path)
    if data is None:
        return
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of profile names to bucket profiles.", path=path)
    name = profile if profile in data else ("default" if "default" in data else None)
    if name is None:
        return
    body = data[name]
    if not isinstance(body, dict):
        raise ConfigError("a bucket profile must be a mapping with `target` and `outputs`.",
                          path=path, key=name)
    unknown = sorted(set(body) - {"target", "outputs"})
    if unknown:
        raise ConfigError(f"unknown key `{unknown[0]}`; valid keys: outputs, target.",
                          path=path, key=f"{name}.{unknown[0]}")
    outputs = body.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise ConfigError("`outputs` must be a mapping of bucket names to buckets.",
                          path=path, key=f"{name}.outputs")
    target = body.get("target")
    if target is not None and str(target) not in outputs:
        raise NotFoundError("bucket", str(target), outputs, path=path, key=f"{name}.target")
    project.bucket_profile = name
    project.bucket_target = str(target) if target is not None else (
        next(iter(outputs)) if len(outputs) == 1 else None
    )
    project.raw_buckets = outputs


def _warn_permissions(project: Project, profiles_data: dict[str, Any]) -> None:
    """Warn when a file that holds literal secrets is readable by group or others."""
    checks = [(project.paths.profiles, project.raw_outputs, COMMON_SECRET_FIELDS),
              (project.paths.buckets, project.raw_buckets, BUCKET_SECRET_FIELDS)]
    for path, outputs, secret_fields in checks:
        if not path.exists() or not loose_permissions(path):
            continue
        if any(_holds_secret(o, secret_fields) for o in outputs.values()):
            project.warnings.append(
                f"{path} holds secrets and is readable by group or others; "
                f"run `chmod 600 {path}`."
            )


def _holds_secret(output: Any, secret_fields: tuple[str, ...]) -> bool:
    if not isinstance(output, dict):
        return False
    return any(
        output.get(f) not in (None, "") and "{{" not in str(output.get(f)) for f in secret_fields
    )
