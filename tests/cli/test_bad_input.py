"""Every bad input gets one clear error line and exit code 2, with no traceback.

The same table runs through every command that reads the configuration: `dvt debug` (which
shows all it can and ends on the error), `dvt debug --json`, `dvt sync --dry-run` and
`dvt transfer --dry-run` (which stop at the first error, through the one CLI error handler).
"""

from __future__ import annotations

import importlib.util
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import Dvt

# A valid base: a Derby source and a Parquet lake (no jars, no server needed).
BASE_PROFILES = """
default:
  target: lake
  outputs:
    src: {type: derby, path: /tmp/dvt-bad-input-db}
    lake: {type: files, path: /tmp/dvt-bad-input-lake}
"""


def _buckets(output: str) -> str:
    return "default:\n  outputs:\n" + textwrap.indent(textwrap.dedent(output).strip(), "    ")


def _profiles_with_src(src: str) -> str:
    return BASE_PROFILES.replace("src: {type: derby, path: /tmp/dvt-bad-input-db}", src)


@dataclass
class Case:
    id: str
    message: str  # regex the error line must match
    profiles: str = BASE_PROFILES
    buckets: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    special: str | None = None  # how to break the file beyond its text


CASES = [
    Case("yaml-syntax", r"profiles\.yml, line 6: YAML syntax error",
         profiles=BASE_PROFILES.replace("lake: {type: files,", "lake: {type: files,,]")),
    Case("yaml-syntax-buckets", r"buckets\.yml, line 2: YAML syntax error",
         buckets="default:\n  outputs: ]\n"),
    Case("unknown-adapter",
         r"unknown adapter type `postgress`; valid: .*`postgres`.*Did you mean `postgres`",
         profiles=_profiles_with_src("src: {type: postgress, host: h, user: u, dbname: d}")),
    Case("unknown-bucket-type",
         r"unknown bucket type `s4`; valid: `azure`, `gcs`, `local`, `s3`",
         buckets=_buckets("b: {type: s4, bucket: x}")),
    Case("s3-missing-bucket", r"s3 bucket `b` is missing required field\(s\): `bucket`",
         buckets=_buckets("b: {type: s3, region: us-east-1}")),
    Case("s3-missing-region", r"s3 bucket `b` is missing required field\(s\): `region`",
         buckets=_buckets("b: {type: s3, bucket: x}")),
    Case("gcs-missing-bucket", r"gcs bucket `b` is missing required field\(s\): `bucket`",
         buckets=_buckets("b: {type: gcs, project: p}")),
    Case("gcs-missing-project", r"gcs bucket `b` is missing required field\(s\): `project`",
         buckets=_buckets("b: {type: gcs, bucket: x}")),
    Case("azure-missing-account",
         r"azure bucket `b` is missing required field\(s\): `storage_account`",
         buckets=_buckets("b: {type: azure, container: c, sas_token: t}")),
    Case("azure-missing-container",
         r"azure bucket `b` is missing required field\(s\): `container`",
         buckets=_buckets("b: {type: azure, storage_account: a, sas_token: t}")),
    Case("local-missing-path", r"local bucket `b` is missing required field\(s\): `path`",
         buckets=_buckets("b: {type: local}")),
    Case("azure-without-credentials",
         r"requires one of: `account_key`, `sas_token`, `connection_string`",
         buckets=_buckets("b: {type: azure, storage_account: a, container: c}")),
    Case("output-not-a-mapping", r"output `src` must be a mapping with a `type`, not a string",
         profiles=_profiles_with_src("src: postgres")),
    Case("bucket-not-a-mapping", r"bucket output `b` must be a mapping with a `type`, not str",
         buckets=_buckets("b: s3://somewhere")),
    Case("unknown-key-in-buckets",
         r"unknown key `regoin` for a s3 bucket.*Did you mean `region`",
         buckets=_buckets("b: {type: s3, bucket: x, region: us-east-1, regoin: us-east-1}")),
    Case("wrong-value-type-in-buckets", r"`bucket` must be a string, not list",
         buckets=_buckets("b: {type: gcs, bucket: [x], project: p}")),
    Case("missing-env-var",
         r"profiles\.yml: key `default\.outputs\.src\.path`: environment variable "
         r"`DVT_BAD_INPUT_UNSET` is not set",
         profiles=_profiles_with_src(
             "src: {type: derby, path: \"{{ env_var('DVT_BAD_INPUT_UNSET') }}\"}")),
    Case("unknown-profile", r"unknown profile `defualt`.*Did you mean `default`",
         args=("--profile", "defualt")),
    Case("unknown-output", r"unknown output `laek`.*Did you mean `lake`",
         args=("--target", "laek")),
    Case("profiles-is-a-folder", r"profiles\.yml: is a folder, not a YAML file",
         special="folder"),
    Case("profiles-not-text", r"profiles\.yml: is not UTF-8 text", special="binary"),
    Case("profiles-unreadable", r"profiles\.yml: cannot read the file \(permission denied\)",
         special="chmod"),
    Case("no-profiles", r"no profiles\.yml found \(looked in .*\).*dvt init", special="absent"),
]


COMMANDS = {
    "debug": ("debug",),
    "debug-json": ("debug", "--json"),
    "sync": ("sync", "--dry-run", "--offline"),
    "transfer": ("transfer", "--dry-run", "--source", "src", "--table", "APP.T"),
}
MODULES = {"sync": "dvt_connect.cli.sync", "transfer": "dvt_connect.cli.transfer"}
# Known gaps, reported to their owner: `dvt sync` reports an output it cannot read as one of
# its per-need errors and exits 1, where the issue asks for exit code 2. Strict: when sync is
# fixed these xfails fail, and this set must be emptied.
KNOWN_GAPS: set[tuple[str, str]] = set()


def _setup(case: Case, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir()
    profiles = folder / "profiles.yml"
    if case.special == "folder":
        profiles.mkdir()
    elif case.special == "binary":
        profiles.write_bytes(b"default:\n  target: \xff\xfe\n")
    elif case.special != "absent":
        profiles.write_text(case.profiles)
        profiles.chmod(0o000 if case.special == "chmod" else 0o600)
    if case.buckets is not None:
        (folder / "buckets.yml").write_text(case.buckets)
    monkeypatch.delenv("DVT_BAD_INPUT_UNSET", raising=False)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, command: str, dvt: Dvt, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if (command, case.id) in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="dvt sync exits 1 for an output it cannot read (owner: sync)"))
    if command in MODULES and importlib.util.find_spec(MODULES[command]) is None:
        pytest.skip(f"`dvt {command}` does not exist yet")
    if case.special == "chmod" and os.geteuid() == 0:
        pytest.skip("root reads any file; the other unreadable cases cover this path")
    folder = tmp_path / "cfg"
    _setup(case, folder, monkeypatch)
    argv = COMMANDS[command][:1] + ("--profiles-dir", str(folder)) + COMMANDS[command][1:]
    result = dvt(*argv, *case.args)

    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    error_lines = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.err
    assert re.search(case.message, error_lines[0]), error_lines[0]
    if command == "debug-json":
        doc = result.json()  # stdout stays one valid document
        assert doc["exit_code"] == 2
        assert re.search(case.message, doc["summary"])


def test_debug_flag_shows_the_traceback(dvt: Dvt, tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "profiles.yml").write_text(_profiles_with_src("src: postgres"))
    plain = dvt("transfer", "--profiles-dir", str(folder), "--dry-run", "--source", "src",
                "--table", "T")
    assert plain.code == 2 and "Traceback" not in plain.text
    loud = dvt("transfer", "--debug", "--profiles-dir", str(folder), "--dry-run", "--source",
               "src", "--table", "T")
    assert loud.code == 2 and "Traceback" in loud.err
