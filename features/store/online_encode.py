"""The bytes Feast's online stores hold, computed for whole Arrow columns with numpy.

Feast encodes one value at a time in Python (a `feast.types.Value` protobuf per feature per
entity, `serialize_entity_key` per entity). Both bulk loaders (online_sqlite.py,
online_redis.py) need the same bytes for ~40M values, so this module builds them per
column: protobuf wire format (tag byte(s), varint lengths, little-endian payload), NaN/None ->
the empty Value (what Feast writes for nulls), and v3 entity keys. `value_texts` gives the
`value_text` column of Feast's SQLite store (str() of numbers, the string itself).
tests/features/store/test_feature_online.py checks every function against Feast's own encoder.
`prefetched` overlaps encoding of the next chunk with writing of the current one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_VALUE_TYPE_STRING = 2  # feast ValueType.STRING
_TAG = {
    "float": b"\x29",
    "int": b"\x20",
    "str": b"\x12",
    "str_array": b"\x62",
    "float_array": b"\x82\x01",
}  # (field number << 3) | wire type, as varints
_LIST_ITEM_TAG = b"\x0a"  # field 1 of FloatList / StringList, length-delimited
SCALAR = ("float", "int", "str")

T = TypeVar("T")
R = TypeVar("R")


def binary_array(offsets: np.ndarray, data: np.ndarray) -> pa.BinaryArray:
    """A binary array over DATA cut at OFFSETS (no copy of the bytes into Python objects)."""
    n = len(offsets) - 1
    return pa.BinaryArray.from_buffers(
        pa.binary(),
        n,
        [
            None,
            pa.py_buffer(np.ascontiguousarray(offsets, np.int32)),
            pa.py_buffer(np.ascontiguousarray(data, np.uint8)),
        ],
    )


def varint(values: np.ndarray) -> pa.BinaryArray:
    """Protobuf varints of unsigned (or two's-complement int64) VALUES, one binary each."""
    v = np.asarray(values).astype(np.int64).view(np.uint64)
    groups = np.empty((len(v), 10), np.uint8)
    nbytes = np.ones(len(v), np.int64)
    rest = v.copy()
    for i in range(10):  # over the 10 possible byte positions, not over rows
        groups[:, i] = (rest & np.uint64(0x7F)).astype(np.uint8)
        rest >>= np.uint64(7)
        if i < 9:
            nbytes += rest > 0
    pos = np.arange(10)[None, :]
    groups[pos < nbytes[:, None] - 1] |= 0x80
    data = groups[pos < nbytes[:, None]]
    return binary_array(np.concatenate([[0], np.cumsum(nbytes)]), data)


def join(*parts: pa.Array | bytes) -> pa.Array:
    """Element-wise concatenation of binary arrays and constant byte strings."""
    arrays = [
        pa.scalar(p, pa.binary()) if isinstance(p, bytes) else p.cast(pa.binary()) for p in parts
    ]
    return pc.binary_join_element_wise(*arrays, pa.scalar(b"", pa.binary()))


def lengths(arr: pa.Array) -> np.ndarray:
    """Byte length of each element (null -> 0)."""
    return np.asarray(pc.binary_length(arr.cast(pa.binary())).fill_null(0), np.int64)


def _offsets(arr: pa.Array) -> np.ndarray:
    """Offsets of a binary/list array, rebased to start at 0 (slices keep absolute ones)."""
    off = np.asarray(arr.offsets, dtype=np.int64)
    return off - off[0]


def _delimited(tag: bytes, payload: pa.Array) -> pa.Array:
    """tag + varint(len) + payload, per element."""
    return join(tag, varint(lengths(payload)), payload)


def _float_payload(col: pa.ListArray) -> pa.Array:
    """FloatList message bytes: packed field 1 (empty list -> empty message)."""
    flat = np.asarray(col.flatten().fill_null(0).cast(pa.float32()), np.float32)
    offsets = _offsets(col) * 4
    packed = binary_array(offsets, flat.view(np.uint8))
    return pc.if_else(
        pa.array(np.diff(offsets) > 0),
        _delimited(_LIST_ITEM_TAG, packed),
        pa.scalar(b"", pa.binary()),
    )


def _string_payload(col: pa.ListArray) -> pa.Array:
    """StringList message bytes: one length-delimited field 1 per element."""
    items = _delimited(_LIST_ITEM_TAG, col.flatten().fill_null(""))
    item_off = np.frombuffer(items.buffers()[1], np.int32)[
        items.offset : items.offset + len(items) + 1
    ].astype(np.int64)
    data = np.frombuffer(items.buffers()[2], np.uint8)[item_off[0] : item_off[-1]]
    return binary_array((item_off - item_off[0])[_offsets(col)], data)


def encode_values(col: pa.Array, dtype: str) -> pa.Array:
    """Serialized feast Value protobufs of one column (binary; nulls -> b'')."""
    valid = pc.is_valid(col)
    if dtype == "float":
        arr = np.asarray(col.fill_null(np.nan), np.float64)
        valid = pa.array(~np.isnan(arr))
        body = binary_array(np.arange(len(arr) + 1) * 8, arr.view(np.uint8))
        encoded = join(_TAG["float"], body)
    elif dtype == "int":
        encoded = join(_TAG["int"], varint(np.asarray(col.fill_null(0), np.int64)))
    elif dtype == "str":
        encoded = _delimited(_TAG["str"], col.fill_null(""))
    elif dtype == "float_array":
        encoded = _delimited(_TAG["float_array"], _float_payload(col))
    elif dtype == "str_array":
        encoded = _delimited(_TAG["str_array"], _string_payload(col))
    else:
        raise ValueError(f"unsupported feature dtype {dtype!r}")
    return pc.if_else(valid, encoded, pa.scalar(b"", pa.binary()))


def value_texts(col: pa.Array, dtype: str) -> pa.Array:
    """Feast's SQLite `value_text` per value: str() of a number, the string itself, null for
    nulls and lists. Floats go through Python's str() (Arrow prints 3.0 as "3")."""
    if dtype == "float":  # str() once per distinct value (days, counts, prices repeat a lot)
        encoded = pc.dictionary_encode(col)
        texts = [None if v != v else str(v) for v in encoded.dictionary.to_pylist()]
        return pa.array(texts, pa.string()).take(encoded.indices)
    if dtype in SCALAR:
        return col.cast(pa.string())
    return pa.nulls(len(col), pa.string())


def encode_entity_keys(join_key: str, values: pa.Array) -> pa.Array:
    """Feast v3 entity-key bytes for one string join key (<I counts/types/lengths + utf8)."""
    name = join_key.encode("utf8")
    prefix = np.array([1, _VALUE_TYPE_STRING, len(name)], "<u4").tobytes() + name
    strings = values.cast(pa.string())
    n_bytes = np.asarray(pc.binary_length(strings), np.uint32)
    header = np.empty((len(n_bytes), 2), "<u4")
    header[:, 0], header[:, 1] = _VALUE_TYPE_STRING, n_bytes
    head = binary_array(np.arange(len(n_bytes) + 1) * 8, header.view(np.uint8).ravel())
    return join(prefix, head, strings)


def key_order(table: pa.Table, join_key: str) -> tuple[pa.Table, pa.Array]:
    """TABLE sorted by its encoded entity keys (byte order = SQLite's BLOB order), and the
    sorted keys."""
    keys = encode_entity_keys(join_key, table.column(join_key).combine_chunks())
    order = pc.sort_indices(keys)
    return table.take(order), keys.take(order)


def prefetched(fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[R, Callable[[], None]]]:
    """(fn(item), start_next) per item: start_next() begins fn(next item) in a thread (called
    anyway before the next result is awaited). Call it just before a step that releases the
    GIL for long (one SQLite statement, one socket send): a thread running Python while the
    caller makes many short GIL-releasing calls would make each of them wait for the GIL."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        futures: dict[int, Future[R]] = {}
        submitted = 0

        def start(upto: int) -> None:
            nonlocal submitted
            while submitted <= min(upto, len(items) - 1):
                futures[submitted] = pool.submit(fn, items[submitted])
                submitted += 1

        for i in range(len(items)):
            start(i)
            yield futures.pop(i).result(), partial(start, i + 1)
