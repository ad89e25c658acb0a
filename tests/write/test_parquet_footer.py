"""The Parquet footer reader planning uses instead of pyarrow: each field it keeps equals what
pyarrow's own reader (``pq.read_metadata``) gives for the same file, for files written with the
options that change a footer's shape; a footer it cannot take is one FooterError."""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dvt_connect.connectors import parquet_footer
from dvt_connect.connectors.parquet_footer import FooterError, read_footer, read_footers


def _as_pyarrow_reads(path: Path) -> tuple[Any, ...]:
    meta = pq.read_metadata(path)
    return (meta.num_rows, tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups)),
            tuple(meta.schema.to_arrow_schema().names), dict(meta.metadata or {}))


def _as_read_here(path: Path) -> tuple[Any, ...]:
    footer = read_footer(path)
    return footer.num_rows, footer.row_groups, footer.columns, footer.metadata


def _wide(rows: int) -> pa.Table:
    """40 columns (a list header longer than the short form), nested types, many values."""
    columns: dict[str, Any] = {f"c{i:02d}": pa.array(range(rows), pa.int64()) for i in range(30)}
    columns.update({
        "name": pa.array([f"name {i}" * (i % 5) for i in range(rows)]),
        "amount": pa.array([decimal.Decimal(i) / 100 for i in range(rows)], pa.decimal128(12, 2)),
        "at": pa.array([datetime.datetime(2026, 1, 1) + datetime.timedelta(seconds=i)
                        for i in range(rows)], pa.timestamp("us", tz="UTC")),
        "flag": pa.array([i % 2 == 0 for i in range(rows)]),
        "ratio": pa.array([i / 7 for i in range(rows)], pa.float32()),
        "tags": pa.array([[str(i)] * (i % 3) for i in range(rows)]),
        "pair": pa.array([{"x": i, "y": [i]} for i in range(rows)]),
        "scores": pa.array([[("k", float(i))] for i in range(rows)],
                           pa.map_(pa.string(), pa.float64())),
        "maybe": pa.array([None if i % 4 else i for i in range(rows)], pa.int32()),
        "day": pa.array([datetime.date(2026, 1, 1)] * rows),
    })
    return pa.table(columns)


@pytest.mark.parametrize("options", [
    {},
    {"row_group_size": 700},  # several row groups
    {"compression": "none", "use_dictionary": False},
    {"data_page_version": "2.0", "write_statistics": False},
    {"write_page_index": True, "write_page_checksum": True},
    {"version": "1.0", "use_deprecated_int96_timestamps": True},
    {"store_schema": False},
], ids=["defaults", "row-groups", "plain", "page-v2", "page-index", "v1-int96", "no-arrow-schema"])
def test_the_footer_read_here_equals_pyarrows(tmp_path: Path, options: dict[str, Any]) -> None:
    path = tmp_path / "a.parquet"
    table = _wide(3000).replace_schema_metadata({
        b"org.apache.spark.sql.parquet.row.metadata": b'{"type":"struct","fields":[]}' * 40,
        b"empty": b"", b"\xc3\xa9 key": "é value".encode()})
    pq.write_table(table, path, **options)
    assert _as_read_here(path) == _as_pyarrow_reads(path)
    if options.get("store_schema", True):  # else pyarrow writes no key-value metadata
        assert read_footer(path).metadata[b"empty"] == b""


def test_an_empty_table_and_one_column(tmp_path: Path) -> None:
    for name, table in (("empty", _wide(0)), ("one", pa.table({"id": [1, 2, 3]}))):
        pq.write_table(table, tmp_path / f"{name}.parquet")
        assert _as_read_here(tmp_path / f"{name}.parquet") == _as_pyarrow_reads(
            tmp_path / f"{name}.parquet"), name
    assert read_footer(tmp_path / "empty.parquet").row_groups in ((), (0,))


def test_equal_schemas_have_equal_bytes(tmp_path: Path) -> None:
    """Two files of one schema compare equal (a folder's footer stands for the folder); a
    type, a name or a nullability changed compares unequal."""
    pq.write_table(pa.table({"id": [1], "s": ["a"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [2, 3], "s": ["b", "c"]}), tmp_path / "b.parquet",
                   row_group_size=1)
    others = {
        "type": pa.table({"id": pa.array([1], pa.int32()), "s": ["a"]}),
        "name": pa.table({"id": [1], "t": ["a"]}),
        "required": pa.Table.from_arrays([pa.array([1]), pa.array(["a"])], schema=pa.schema(
            [pa.field("id", pa.int64(), nullable=False), pa.field("s", pa.string())])),
    }
    for name, table in others.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    same = read_footers([str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")])
    assert same[0].schema == same[1].schema and same[1].row_groups == (1, 1)
    first = same[0].schema
    for name in others:
        assert read_footer(tmp_path / f"{name}.parquet").schema != first, name


def test_many_footer_bytes_are_read_by_pyarrow(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Past PYTHON_FOOTER_BYTES in all, pyarrow reads the footers: the same fields, its own
    schema standing for the bytes (equal within the folder)."""
    paths = []
    for i, rows in enumerate((10, 2000)):
        paths.append(str(tmp_path / f"{i}.parquet"))
        pq.write_table(_wide(rows), paths[-1], row_group_size=500)
    here = read_footers(paths)
    monkeypatch.setattr(parquet_footer, "PYTHON_FOOTER_BYTES", 0)
    by_pyarrow = read_footers(paths)
    for ours, theirs in zip(here, by_pyarrow, strict=True):
        assert (ours.num_rows, ours.row_groups, ours.columns, ours.metadata) == (
            theirs.num_rows, theirs.row_groups, theirs.columns, theirs.metadata)
    assert isinstance(here[0].schema, bytes) and not isinstance(by_pyarrow[0].schema, bytes)
    assert by_pyarrow[0].schema == by_pyarrow[1].schema
    (tmp_path / "bad.parquet").write_bytes(b"PAR1" + b"\0" * 20 + (8).to_bytes(4, "little")
                                           + b"PAR1")
    with pytest.raises(FooterError, match="bad.parquet"):
        read_footers([*paths, str(tmp_path / "bad.parquet")])


def test_a_footer_it_cannot_take_is_one_footer_error(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(_wide(100), good)
    data = good.read_bytes()
    length = int.from_bytes(data[-8:-4], "little")
    cases = {
        "empty": b"",
        "not parquet": b"id,name\n1,a\n" * 10,
        "encrypted": data[:-4] + b"PARE",
        "length past the start": data[:-8] + (len(data)).to_bytes(4, "little") + b"PAR1",
        # the footer's first half, its length and magic put back: the bytes stop mid-struct
        "cut footer": data[:-8 - length] + data[-8 - length:-8 - length // 2]
        + (length - length // 2).to_bytes(4, "little") + b"PAR1",
        "garbage footer": data[:-8 - length] + bytes([0x1C, 0xFF, 0x0D]) * (length // 3)
        + (length // 3 * 3).to_bytes(4, "little") + b"PAR1",
    }
    for name, content in cases.items():
        path = tmp_path / f"{name}.parquet"
        path.write_bytes(content)
        with pytest.raises(FooterError) as caught:
            read_footer(path)
        assert str(path) in str(caught.value), name
