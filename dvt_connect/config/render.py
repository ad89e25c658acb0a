"""Reading YAML and rendering ``{{ env_var(...) }}`` the way dbt does.

YAML is parsed first and each string value is rendered on its own, only for the profile in use,
so an error names the file and the exact key, and a variable missing from an unused target is
not an error.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import yaml

from dvt_connect import secrets
from dvt_connect.errors import ConfigError

SECRET_ENV_PREFIX = "DVT_ENV_SECRET_"
# dbt's own prefix too: a dbt user's profiles.yml marks its secrets that way
SECRET_ENV_PREFIXES = (SECRET_ENV_PREFIX, "DBT_ENV_SECRET_")
_UNSET = object()


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; syntax errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        raise ConfigError(
            "cannot read the file (permission denied).",
            path=path,
            hint="Check its owner and mode (chmod 600 is recommended).",
        ) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a YAML file.", path=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text ({exc.reason}).", path=path) from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            f"YAML syntax error: {problem}.", path=path, line=line, hint="Fix the YAML and retry."
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}.", path=path) from None


class Renderer:
    """Renders templated strings with ``env_var``; records which values came from secret vars."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)
        self._secret_used = False

    def render_value(self, value: Any, key: str) -> Any:
        if isinstance(value, str):
            return self._render_string(value, key)
        if isinstance(value, dict):
            return {k: self.render_value(v, f"{key}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.render_value(v, f"{key}[{i}]") for i, v in enumerate(value)]
        return value

    def render_string(self, value: str, key: str) -> tuple[str, bool]:
        """Render one string; also say whether a ``DVT_ENV_SECRET_`` variable went into it."""
        self._secret_used = False
        rendered = self._render_string(value, key)
        return rendered, self._secret_used

    def _render_string(self, value: str, key: str) -> Any:
        if "{{" not in value and "{%" not in value:
            return value
        try:
            template = self._env.from_string(value)
            result = template.render(env_var=self._env_var_for(key))
        except _MissingEnvVar as exc:
            raise ConfigError(
                f"environment variable `{exc.name}` is not set.",
                path=self.path,
                key=key,
                hint=f"Set it, or give a default: {{{{ env_var('{exc.name}', 'default') }}}}.",
            ) from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"template error: {exc}.", path=self.path, key=key) from None
        return _coerce(result)

    def _env_var_for(self, key: str) -> Callable[..., str]:
        def env_var(name: str, default: Any = _UNSET) -> str:
            if name in os.environ:
                value = os.environ[name]
                if name.startswith(SECRET_ENV_PREFIXES):
                    secrets.register(value)
                    self._secret_used = True
                return value
            if default is not _UNSET:
                return str(default)
            raise _MissingEnvVar(name)

        return env_var


class _MissingEnvVar(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


def _coerce(value: str) -> Any:
    """Rendered text is text, except plain integers and booleans (ports, flags), as in dbt."""
    stripped = value.strip()
    if stripped.isdigit() and not (len(stripped) > 1 and stripped.startswith("0")):
        return int(stripped)
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    return value


def render_tree(
    renderer: Renderer, data: dict[str, Any], key: str, secret_fields: Iterable[str]
) -> dict[str, Any]:
    """Render every value of a mapping; register secret fields and secret-variable values."""
    secret_names = {f.lower() for f in secret_fields}
    out: dict[str, Any] = {}
    for name, value in data.items():
        sub_key = f"{key}.{name}"
        if isinstance(value, str):
            rendered, from_secret_var = renderer.render_string(value, sub_key)
            out[name] = rendered
            if from_secret_var or str(name).lower() in secret_names:
                secrets.register(str(rendered))
        else:
            rendered_any = renderer.render_value(value, sub_key)
            out[name] = rendered_any
            if str(name).lower() in secret_names:
                secrets.register(_secret_leaves(rendered_any))
    return out


_SECRET_KEY_WORDS = ("key", "secret", "token", "password", "passphrase", "credential")


def _secret_leaves(value: Any) -> Any:
    """The parts of a structured secret that are secret. A service-account key (dbt's
    ``keyfile_json``) also holds ordinary words (``type: service_account``, URLs) that would
    otherwise be masked everywhere they appear, output names included."""
    if isinstance(value, dict):
        leaves: list[Any] = []
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                leaves.append(_secret_leaves(v))
            elif any(word in str(k).lower() for word in _SECRET_KEY_WORDS):
                leaves.append(v)
        return leaves
    if isinstance(value, list):
        return [_secret_leaves(v) for v in value]
    return value


def loose_permissions(path: Path) -> bool:
    """True when a file is readable by its group or by others."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))
