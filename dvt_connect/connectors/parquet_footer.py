"""What planning needs from a Parquet file's footer, read without pyarrow: the driver of a
transfer from Parquet reads every footer of the folder before its tasks run, and importing
pyarrow for it cost 0.15-0.18 s of each run's fixed cost here (the tasks import it in their own
processes anyway).

The footer is the file's last ``4 + 4 + n`` bytes: a Thrift compact-protocol ``FileMetaData``
of ``n`` bytes, its length as a little-endian int32, the magic ``PAR1`` (the format's
``parquet.thrift``). Only four of its fields are kept: the schema (its raw bytes, to compare
two files' schemas, and its top-level column names), the row count, each row group's row count
and the key-value metadata; every other field is skipped by its wire type, so a newer writer's
fields are passed over. An encrypted footer (magic ``PARE``), a truncated file or bytes that
do not parse are one :class:`FooterError`; the caller then leaves the folder to Spark.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

MAGIC = b"PAR1"
ENCRYPTED_MAGIC = b"PARE"

# the compact protocol's wire types
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, \
    _STRUCT = range(13)
_NESTING = 64  # deeper structs than any Parquet writer makes: the bytes are not a footer


class FooterError(ValueError):
    """The file's footer is not one this reader takes (encrypted, truncated, not Parquet)."""


@dataclass(frozen=True)
class Footer:
    """What planning reads from one Parquet footer."""

    num_rows: int
    row_groups: tuple[int, ...]  # each row group's row count, in file order
    columns: tuple[str, ...]  # the top-level column names, in schema order
    schema: object  # the schema's encoded bytes (equal bytes, equal schemas), or pyarrow's
    metadata: dict[bytes, bytes]  # key-value metadata (a key without a value maps to b"")


# Python parses footers at about 16 MB/s here (0.6 ms for a file of 8 row groups of 8 columns,
# a 10 KB footer), pyarrow's C++ in 0.1 ms a file after its 0.15-0.18 s import: past this many
# footer bytes in one folder (about 65 ms here), pyarrow reads them
PYTHON_FOOTER_BYTES = 1 << 20


def read_footers(paths: Sequence[str]) -> list[Footer]:
    """The footers of the Parquet files at ``paths``: read here while they are small in all
    (:data:`PYTHON_FOOTER_BYTES`), else by pyarrow (whose schema then stands for the bytes).
    A footer neither reads raises :class:`FooterError`."""
    lengths = [_tail(path)[0] for path in paths]
    if sum(lengths) <= PYTHON_FOOTER_BYTES:
        return [read_footer(path) for path in paths]
    import pyarrow.parquet as pq

    footers = []
    for path in paths:
        try:
            meta = pq.read_metadata(path)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise FooterError(f"{path}'s footer does not read ({exc})") from exc
        footers.append(Footer(
            meta.num_rows, tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups)),
            tuple(meta.schema.to_arrow_schema().names), meta.schema, dict(meta.metadata or {})))
    return footers


def _tail(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(footer length, file size) of the Parquet file at ``path``."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size < 12:
            raise FooterError(f"{path} is too short to be a Parquet file ({size} bytes)")
        f.seek(size - 8)
        length, magic = struct.unpack("<i4s", f.read(8))
    if magic == ENCRYPTED_MAGIC:
        raise FooterError(f"{path} has an encrypted footer")
    if magic != MAGIC or not 0 < length <= size - 12:
        raise FooterError(f"{path} does not end as a Parquet file does")
    return length, size


def read_footer(path: str | os.PathLike[str]) -> Footer:
    """The footer of the Parquet file at ``path``."""
    length, size = _tail(path)
    with open(path, "rb") as f:
        f.seek(size - 8 - length)
        data = f.read(length)
    try:
        return _file_metadata(_Reader(data))
    except FooterError as exc:
        raise FooterError(f"{path}'s footer does not parse: {exc}") from exc
    except (IndexError, UnicodeDecodeError) as exc:
        raise FooterError(f"{path}'s footer does not parse ({type(exc).__name__})") from exc


def _file_metadata(r: _Reader) -> Footer:
    num_rows, row_groups, schema = -1, [], b""
    names: list[str] = []
    metadata: dict[bytes, bytes] = {}
    for field, wire in r.fields():
        if field == 2 and wire == _LIST:
            start = r.pos
            names = _top_level_names(r)
            schema = r.data[start:r.pos]
        elif field == 3 and wire == _I64:
            num_rows = r.varint_signed()
        elif field == 4 and wire == _LIST:
            row_groups = [_row_group_rows(r) for _ in r.list_of(_STRUCT)]
        elif field == 5 and wire == _LIST:
            for _ in r.list_of(_STRUCT):
                key, value = _key_value(r)
                metadata[key] = value
        else:
            r.skip(wire)
    if num_rows < 0 or not schema:
        raise FooterError("the footer has no row count or no schema")
    return Footer(num_rows, tuple(row_groups), tuple(names), schema, metadata)


def _top_level_names(r: _Reader) -> list[str]:
    """The names of the root's children in the flattened schema list (depth first: a group's
    ``num_children`` elements follow it)."""
    elements = [_schema_element(r) for _ in r.list_of(_STRUCT)]
    if not elements:
        raise FooterError("the footer's schema is empty")
    names, i = [], 1
    for _ in range(elements[0][1]):
        names.append(elements[i][0])
        pending = elements[i][1]
        i += 1
        while pending:  # skip the child's subtree
            pending += elements[i][1] - 1
            i += 1
    if i != len(elements):
        raise FooterError("the footer's schema does not nest as its counts say")
    return names


def _schema_element(r: _Reader) -> tuple[str, int]:
    name, children = "", 0
    for field, wire in r.fields():
        if field == 4 and wire == _BINARY:
            name = r.binary().decode()
        elif field == 5 and wire == _I32:
            children = r.varint_signed()
        else:
            r.skip(wire)
    if children < 0:
        raise FooterError("a schema element has a negative child count")
    return name, children


def _row_group_rows(r: _Reader) -> int:
    rows = -1
    for field, wire in r.fields():
        if field == 3 and wire == _I64:
            rows = r.varint_signed()
        else:
            r.skip(wire)
    if rows < 0:
        raise FooterError("a row group has no row count")
    return rows


def _key_value(r: _Reader) -> tuple[bytes, bytes]:
    key, value = b"", b""
    for field, wire in r.fields():
        if field == 1 and wire == _BINARY:
            key = r.binary()
        elif field == 2 and wire == _BINARY:
            value = r.binary()
        else:
            r.skip(wire)
    return key, value


class _Reader:
    """A cursor over compact-protocol bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.depth = data, 0, 0

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        value, self.pos = _varint_at(self.data, self.pos)
        return value

    def varint_signed(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)  # zigzag

    def binary(self) -> bytes:
        n = self.varint()
        end = self.pos + n
        if end > len(self.data):
            raise FooterError("a string runs past the footer")
        value = self.data[self.pos:end]
        self.pos = end
        return value

    def fields(self) -> Iterator[tuple[int, int]]:
        """Each field header of the struct at the cursor, (field id, wire type), up to its
        stop byte; the caller reads or skips each field's value before the next."""
        self.depth += 1
        if self.depth > _NESTING:
            raise FooterError("structs nest deeper than a footer's")
        last = 0
        while True:
            header = self.byte()
            wire = header & 0x0F
            if wire == _STOP:
                self.depth -= 1
                return
            delta = header >> 4
            last = last + delta if delta else self.varint_signed()
            yield last, wire

    def list_of(self, element: int) -> range:
        """The size of the list (or set) at the cursor, whose elements must be ``element``."""
        header = self.byte()
        size = header >> 4
        if size == 15:
            size = self.varint()
        if size and header & 0x0F != element:
            raise FooterError("a list holds another type than the format's")
        return range(size)

    def skip(self, wire: int) -> None:
        """Pass over one value of type ``wire``."""
        self.pos = _skip(self.data, self.pos, wire)
        if self.pos > len(self.data):
            raise FooterError("a value runs past the footer")


def _varint_at(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos``, and the position after it."""
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    shift, value = 7, b & 0x7F
    while True:
        pos += 1
        b = data[pos]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos + 1
        shift += 7
        if shift > 70:
            raise FooterError("a varint runs past 10 bytes")


def _skip(data: bytes, pos: int, wire: int) -> int:
    """The position after the value of type ``wire`` at ``pos``: most of a footer is column
    chunks' metadata that planning skips, so this is one loop with a stack of the structs and
    lists it is inside, not a call per value."""
    stack: list[list[int]] = []  # [_STRUCT] or [_LIST, elements left, element type]
    while True:
        if wire in (_I32, _I64, _I16):
            while data[pos] & 0x80:
                pos += 1
            pos += 1
        elif wire == _BINARY:
            size, pos = _varint_at(data, pos)
            pos += size
        elif wire == _STRUCT:
            if len(stack) >= _NESTING:
                raise FooterError("values nest deeper than a footer's")
            stack.append([_STRUCT])
        elif wire in (_LIST, _SET):
            header = data[pos]
            pos += 1
            size = header >> 4
            if size == 15:
                size, pos = _varint_at(data, pos)
            if len(stack) >= _NESTING:
                raise FooterError("values nest deeper than a footer's")
            stack.append([_LIST, size, header & 0x0F])
        elif wire == _BYTE:
            pos += 1
        elif wire == _DOUBLE:
            pos += 8
        elif wire == _MAP:
            raise FooterError("a map in a Parquet footer")  # the format has none
        elif wire not in (_TRUE, _FALSE):  # a bool field's value is its header
            raise FooterError(f"unknown wire type {wire}")
        # the next value: a field of the innermost struct, or the next element of its list
        while True:
            if not stack:
                return pos
            frame = stack[-1]
            if frame[0] == _STRUCT:
                header = data[pos]
                pos += 1
                wire = header & 0x0F
                if wire == _STOP:
                    stack.pop()
                    continue
                if header < 0x10:  # the field id written in full
                    while data[pos] & 0x80:
                        pos += 1
                    pos += 1
                break
            if frame[1] == 0:
                stack.pop()
                continue
            frame[1] -= 1
            wire = frame[2]
            if wire in (_TRUE, _FALSE):
                pos += 1  # in a list, a bool is one byte
                continue
            break
