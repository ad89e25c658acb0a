"""`{{ env_var(...) }}` in both files: rendered before use, only for the profile in use."""

from __future__ import annotations

import pytest

from dvt_connect import secrets
from dvt_connect.config import load_project
from dvt_connect.errors import ConfigError

from .conftest import PG_PROFILE, WriteConfig

TEMPLATED = """
    default:
      target: "{{ env_var('DVT_TEST_TARGET', 'dev') }}"
      outputs:
        dev:
          type: postgres
          host: "{{ env_var('DVT_TEST_HOST') }}"
          port: "{{ env_var('DVT_TEST_PORT', '5433') }}"
          user: "{{ env_var('DVT_TEST_USER', 'etl') }}"
          password: "{{ env_var('DVT_TEST_PASSWORD', '') }}"
          dbname: shop
        other:
          type: postgres
          host: "{{ env_var('DVT_TEST_UNSET_OTHER_HOST') }}"
          user: u
          dbname: d
    unused:
      target: x
      outputs:
        x:
          type: postgres
          host: "{{ env_var('DVT_TEST_UNSET_IN_UNUSED_PROFILE') }}"
          user: u
          dbname: d
"""


def test_env_var_and_default(write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_TEST_HOST", "db.internal")
    dev = load_project(write_config(TEMPLATED)).connection()
    assert (dev.host, dev.port, dev.user, dev.password) == ("db.internal", 5433, "etl", "")
    monkeypatch.setenv("DVT_TEST_PORT", "6543")
    assert load_project(write_config(TEMPLATED)).connection().port == 6543


def test_target_itself_may_be_templated(write_config: WriteConfig,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_TEST_TARGET", "other")
    monkeypatch.setenv("DVT_TEST_UNSET_OTHER_HOST", "h2")
    assert load_project(write_config(TEMPLATED)).connection().host == "h2"


def test_missing_variable_names_variable_file_and_key(write_config: WriteConfig) -> None:
    folder = write_config(TEMPLATED)
    project = load_project(folder)  # loading alone renders nothing it does not need
    with pytest.raises(ConfigError) as info:
        project.connection()
    message = str(info.value)
    assert "`DVT_TEST_HOST` is not set" in message
    assert str(folder / "profiles.yml") in message
    assert "key `default.outputs.dev.host`" in message
    assert "env_var('DVT_TEST_HOST', 'default')" in message  # what to do next


def test_unused_targets_and_profiles_are_not_rendered(write_config: WriteConfig,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_TEST_HOST", "db.internal")
    project = load_project(write_config(TEMPLATED))
    assert project.connection().host == "db.internal"
    results = project.connection_results()  # `other` is broken, but only when asked for
    assert isinstance(results["other"], ConfigError)
    assert "DVT_TEST_UNSET_OTHER_HOST" in str(results["other"])


def test_rendered_text_is_not_reparsed_as_yaml(write_config: WriteConfig,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_TEST_HOST", "h: {x: 1}")
    monkeypatch.setenv("DVT_TEST_PASSWORD", "007")
    dev = load_project(write_config(TEMPLATED)).connection()
    assert dev.host == "h: {x: 1}"
    assert dev.password == "007"  # a leading zero stays text


def test_template_errors_name_the_key(write_config: WriteConfig) -> None:
    folder = write_config("""
        default:
          target: dev
          outputs:
            dev:
              type: postgres
              host: "{{ env_var('X' }}"
              user: u
              dbname: d
    """)
    with pytest.raises(ConfigError, match=r"key `default.outputs.dev.host`: template error"):
        load_project(folder).connection()


def test_templates_cannot_reach_python(write_config: WriteConfig) -> None:
    folder = write_config("""
        default:
          target: dev
          outputs:
            dev:
              type: postgres
              host: "{{ ''.__class__.__mro__[1].__subclasses__() }}"
              user: u
              dbname: d
    """)
    with pytest.raises(ConfigError, match="template error"):
        load_project(folder).connection()


def test_buckets_are_rendered_too(write_config: WriteConfig,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    buckets = """
        default:
          outputs:
            s3:
              type: s3
              bucket: "{{ env_var('DVT_TEST_BUCKET') }}"
              region: us-east-1
    """
    with pytest.raises(ConfigError) as info:
        load_project(write_config(PG_PROFILE, buckets)).buckets  # noqa: B018
    assert "`DVT_TEST_BUCKET` is not set" in str(info.value)
    assert "buckets.yml" in str(info.value)
    assert "key `default.outputs.s3.bucket`" in str(info.value)
    monkeypatch.setenv("DVT_TEST_BUCKET", "from-env")
    bucket = load_project(write_config(PG_PROFILE, buckets)).buckets["s3"]
    assert bucket.warehouse_uri() == "s3://from-env"


def test_secret_prefix_variables_are_masked_in_any_field(
        write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVT_ENV_SECRET_HOSTNAME", "secret-host.internal")
    monkeypatch.setenv("DBT_ENV_SECRET_USER", "dbt-secret-user")
    folder = write_config("""
        default:
          target: dev
          outputs:
            dev:
              type: postgres
              host: "{{ env_var('DVT_ENV_SECRET_HOSTNAME') }}"
              user: "{{ env_var('DBT_ENV_SECRET_USER') }}"
              dbname: d
    """)
    dev = load_project(folder).connection()
    assert dev.host == "secret-host.internal"  # the value is used...
    shown = secrets.redact(f"{dev.location()} {dev.display()} {dev!r}")
    assert "secret-host.internal" not in shown  # ...and never shown
    assert "dbt-secret-user" not in shown
