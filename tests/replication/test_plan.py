"""The replication file and the stream planner, without Spark: both are pure given a catalog.

The catalog here is a fixed listing (what a source's catalog answers), not a double of any
server behaviour: wildcard expansion against a real PostgreSQL catalog is in test_run.py.
"""

from __future__ import annotations

import pytest

from dvt_connect.errors import ConfigError, UsageError
from dvt_connect.replication.plan import plan_streams
from dvt_connect.replication.results import Verification
from dvt_connect.replication.spec import parse_spec


class ListedCatalog:
    def __init__(self, tables: dict[str, dict[str, int]], default: str = "public") -> None:
        self._tables, self._default = tables, default

    @property
    def default_schema(self) -> str | None:
        return self._default

    def tables(self, schema: str | None) -> list[str]:
        return sorted(self._tables.get(schema or "", {}))

    def estimate(self, schema: str | None, table: str) -> int | None:
        return self._tables[schema or ""][table]


CATALOG = ListedCatalog({
    "sales": {"orders": 1_000, "order_items": 5_000, "customers": 10, "returns": 50},
    "crm": {"customers": 20},
    "public": {"events": 7},
})


def plan(doc: dict, **kwargs):  # type: ignore[no-untyped-def]
    spec = parse_spec({"source": "pg", "target": "lake", **doc})
    return plan_streams(spec, kwargs.pop("catalog", CATALOG), source_name="pg", **kwargs)


def test_wildcards_expand_from_the_catalog_largest_first():
    streams = plan({"streams": {"sales.*": None, "events": None}})
    assert [s.name for s in streams] == ["sales.order_items", "sales.orders", "sales.returns",
                                         "sales.customers", "events"]
    assert [s.estimated_rows for s in streams] == [5_000, 1_000, 50, 10, 7]
    assert str(streams[0].table) == "sales.order_items"
    assert str(streams[-1].table) == "public.events"  # the source's default schema


def test_prefix_wildcard_and_explicit_stream_overrides():
    streams = plan({
        "defaults": {"mode": "append", "partitions": 2},
        "streams": {"sales.order_*": {"partitions": 4},
                    "sales.orders": {"mode": "overwrite", "where": "id > 10"}},
    })
    by_name = {s.name: s for s in streams}
    assert set(by_name) == {"sales.orders", "sales.order_items"}
    # the explicit stream beats the wildcard; defaults fill what neither sets
    assert by_name["sales.orders"].mode == "overwrite"
    assert by_name["sales.orders"].options.partitions == 2
    assert by_name["sales.orders"].read_request().where == "id > 10"
    assert by_name["sales.order_items"].mode == "append"
    assert by_name["sales.order_items"].options.partitions == 4


def test_target_naming_template_and_target_schema():
    streams = plan({"defaults": {"object": "{schema}_{table}"},
                    "streams": {"sales.customers": None, "crm.customers": None}},
                   target_schema="staging")
    assert sorted(str(s.target_table) for s in streams) == [
        "staging.crm_customers", "staging.sales_customers"]
    files = plan({"defaults": {"object": "raw.{stream}"}, "streams": {"crm.customers": None}},
                 target_is_files=True)
    assert str(files[0].target_table) == "raw.crm_customers"


def test_two_streams_writing_the_same_target_is_an_error():
    with pytest.raises(ConfigError, match=r"key `streams\.crm\.customers`: streams "
                                          r"`sales\.customers` and `crm\.customers` both write "
                                          r"to `customers`.*\{schema\}_\{table\}"):
        plan({"streams": {"sales.customers": None, "crm.customers": None}})


def test_query_stream_is_named_by_its_key():
    streams = plan({"streams": {"big": {"sql": "SELECT 1 AS x"}}})
    assert streams[0].query == "SELECT 1 AS x" and streams[0].table is None
    assert str(streams[0].target_table) == "big"


def test_select_and_exclude_patterns():
    doc = {"streams": {"sales.*": None, "crm.customers": {"object": "crm_customers"}}}
    assert [s.name for s in plan(doc, select=("sales.order*",))] == [
        "sales.order_items", "sales.orders"]
    assert [s.name for s in plan(doc, select=("customers",))] == [
        "crm.customers", "sales.customers"]
    assert [s.name for s in plan(doc, exclude=("sales.*",))] == ["crm.customers"]
    with pytest.raises(UsageError, match=r"--select `nothing\*` matches no stream"):
        plan(doc, select=("nothing*",))


def test_a_stream_matching_nothing_names_the_key_and_close_tables():
    with pytest.raises(ConfigError, match=r"key `streams\.sales\.ordres`: stream "
                                          r"`sales\.ordres` matches no table in schema `sales` "
                                          r"of output `pg`.*Did you mean `orders`"):
        plan({"streams": {"sales.ordres": None}})
    with pytest.raises(ConfigError, match=r"streams\.sales\.zz_\*.*Tables in schema `sales`"):
        plan({"streams": {"sales.zz_*": None}})


def test_a_wildcard_over_a_files_source_is_an_error():
    with pytest.raises(ConfigError, match=r"key `streams\.raw\.\*`: a wildcard needs a "
                                          r"database source's catalog"):
        plan({"streams": {"raw.*": None}}, catalog=None)
    assert [s.name for s in plan({"streams": {"raw.events": None}}, catalog=None)] == [
        "raw.events"]


@pytest.mark.parametrize(("doc", "message"), [
    ({"source": "pg", "target": "lake", "streams": {"a": None}, "stream": {}},
     r"key `stream`: unknown key `stream`; valid keys: source, target, defaults, streams\. "
     r"Did you mean `streams`"),
    ({"source": "pg", "target": "lake", "streams": {"a": {"partitons": 2}}},
     r"key `streams\.a\.partitons`: unknown key.*Did you mean `partitions`"),
    ({"source": "pg", "target": "lake", "streams": {"a": {"mode": "merge"}}},
     r"key `streams\.a`: mode `merge` needs `primary_key`"),
    ({"source": "pg", "target": "lake", "streams": {"a": {"mode": "incremental",
                                                          "primary_key": ["id"]}}},
     r"key `streams\.a`: mode `incremental` needs `update_key`"),
    ({"source": "pg", "target": "lake", "streams": {"a": {"primary_key": "id"}}},
     r"key `streams\.a`: `primary_key` applies to mode `merge` and incremental, not "
     r"`overwrite`"),
    ({"source": "pg", "target": "lake", "streams": {"a": {"mode": "backfill",
                                                          "update_key": "ts"}}},
     r"key `streams\.a`: mode `backfill` needs `update_key` and `range` START\.\.END"),
    ({"source": "pg", "target": "lake", "defaults": {"mode": "incremental", "update_key": "ts"},
      "streams": {"a": {"lookback": "2x", "primary_key": ["id"]}}},
     r"key `streams\.a`: `lookback` `2x` is neither a duration"),
    ({"source": "pg", "target": "lake",
      "streams": {"q": {"sql": "SELECT 1", "mode": "incremental", "update_key": "ts"}}},
     r"key `streams\.q\.sql`: mode `incremental` reads a table"),
    ({"source": "pg", "target": "lake", "streams": {"a": {"lock_timeout": -1}}},
     r"key `streams\.a\.lock_timeout`: must be a number of seconds"),
    ({"source": "pg", "target": "lake", "streams": {"a": {"partitions": 0}}},
     r"key `streams\.a\.partitions`: must be a whole number of at least 1"),
    ({"source": "pg", "target": "lake", "streams": {}}, r"key `streams`: .*non-empty mapping"),
    ({"target": "lake", "streams": {"a": None}}, r"key `source`: .*must name an output"),
    ({"source": "pg", "target": "lake", "streams": {"s.*": {"sql": "SELECT 1"}}},
     r"key `streams\.s\.\*\.sql`: a wildcard stream cannot have `sql`"),
    ({"source": "pg", "target": "lake", "streams": {"a": {"connector": "fast"}}},
     r"key `streams\.a\.connector`: unknown connector `fast`"),
    ({"source": "pg", "target": "lake", "streams": {"a": {"object": "{tabel}"}}},
     r"key `streams\.a\.object`: unknown placeholder `\{tabel\}`"),
])
def test_bad_replication_documents(doc, message):
    with pytest.raises(ConfigError, match=message) as raised:
        spec = parse_spec(doc)
        plan_streams(spec, ListedCatalog({"public": {"a": 1}}), source_name="pg")
    assert raised.value.exit_code == 2


def test_keys_from_defaults_apply_to_the_streams_whose_mode_reads_them():
    doc = {"defaults": {"mode": "incremental", "update_key": "updated_at", "primary_key": ["id"],
                        "lookback": "1h", "lock_timeout": 5},
           "streams": {"sales.orders": None,
                       "sales.customers": {"mode": "merge", "primary_key": ["id", "region"],
                                           "tie_breaker": "updated_at"},
                       "sales.order_items": {"mode": "overwrite"},
                       "sales.returns": {"mode": "backfill", "range": "2024-01-01..2024-02-01"}}}
    catalog = ListedCatalog({"sales": {"orders": 9, "customers": 3, "order_items": 5,
                                       "returns": 1}})
    by_name = {s.name: s for s in plan_streams(parse_spec({"source": "pg", "target": "lake",
                                                           **doc}), catalog,
                                               source_name="pg")}
    orders = by_name["sales.orders"].write_request()
    assert (orders.mode, orders.primary_key, orders.update_key, orders.lookback,
            orders.lock_timeout) == ("incremental", ("id",), "updated_at", "1h", 5.0)
    customers = by_name["sales.customers"].write_request()
    # merge reads no update key and no lookback: the defaults' ones are left out
    assert (customers.mode, customers.primary_key, customers.update_key, customers.lookback,
            customers.tie_breaker) == ("merge", ("id", "region"), None, None, "updated_at")
    items = by_name["sales.order_items"].write_request()
    assert (items.mode, items.primary_key, items.update_key) == ("overwrite", (), None)
    returns = by_name["sales.returns"].write_request()
    assert (returns.mode, returns.update_key, returns.range, returns.primary_key) == (
        "backfill", "updated_at", "2024-01-01..2024-02-01", ())
    described = by_name["sales.orders"].describe()
    assert described["primary_key"] == ["id"] and described["update_key"] == "updated_at"


def test_env_var_is_rendered_and_a_missing_one_names_the_key(monkeypatch):
    monkeypatch.setenv("REPL_SCHEMA", "sales")
    spec = parse_spec({"source": "pg", "target": "lake",
                       "streams": {"{{ env_var('REPL_SCHEMA') }}.orders": None,
                                   "x": {"where": "{{ env_var('REPL_WHERE', 'id > 1') }}"}}})
    assert [e.key for e in spec.streams] == ["{{ env_var('REPL_SCHEMA') }}.orders", "x"]
    assert spec.streams[1].options.where == "id > 1"
    with pytest.raises(ConfigError, match=r"key `streams\.x\.where`: environment variable "
                                          r"`REPL_NOPE` is not set"):
        parse_spec({"source": "pg", "target": "lake",
                    "streams": {"x": {"where": "{{ env_var('REPL_NOPE') }}"}}})


@pytest.mark.parametrize(("source", "target", "moved", "mode", "ok"), [
    (100, 100, 100, "overwrite", True),
    (100, 99, 100, "overwrite", False),
    (100, 100, 99, "overwrite", False),
    (100, 250, 100, "append", True),
    (100, 50, 100, "append", False),
    (None, 100, 100, "overwrite", False),
    (100, 100, 100, "truncate", True),
    (100, 120, 100, "merge", True),
    (100, 90, 100, "merge", False),
    (100, 100, 3, "incremental", True),
    (100, 99, 3, "incremental", False),
    (10, 500, 10, "backfill", True),
])
def test_verification_compares_counts(source, target, moved, mode, ok):
    assert Verification(source, target, moved, mode).ok is ok
