"""Bulk loader for Feast's SQLite online store: the rows Feast writes, into a fresh file.

Feast's SQLite store keeps one row per (entity, feature): entity_key = the v3-serialized
EntityKey, value = a serialized feast.types.Value, value_text, event_ts = epoch seconds. Its
writer runs one upsert per value from Python (~1k entities/s with 38 features); 1M users x 44
features are 44M rows. Measured on demo data (1.9M rows of user_activity, same run):
- `executemany` of 6 Python objects per row took ~8 s, SQLite copying the same rows ~0.4 s:
  the binding is the cost. So each chunk is staged as ONE row per entity (all values
  concatenated; offsets and lengths one character each, decoded with unicode(substr())) and an
  `INSERT .. SELECT` over `stage CROSS JOIN features` cuts it into Feast's rows inside SQLite
  (~2.6 s), in primary-key order (rows sorted by encoded key first: B-tree appends), with the
  GIL released while a thread encodes the next chunk (online_encode.py). Fixed-width
  slots instead of offsets, page sizes 16/64 KiB and dropping OR REPLACE changed nothing
  measurable; value_text (Feast's filter column, exact str() of each value) is ~1/3 of it;
- the table is created here with Feast's columns and PRIMARY KEY but WITHOUT ROWID: the key is
  the table, no second B-tree (demo file 364 -> 166 MB; large 7 -> 4.9 GB). Feast reads
  `WHERE entity_key IN (..) ORDER BY entity_key`, which that key serves; its `<table>_ek` index
  would duplicate it, so the name is held by an empty partial index and Feast's
  `CREATE .. IF NOT EXISTS` on the next apply leaves both alone;
- everything goes into a new file (journal off: it is not live yet), which is fsynced and
  renamed over the store. Readers see the old store or the new one, never half a load; a Feast
  connection that was open keeps the old file until it reconnects (online.py resets
  the loading store's).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa

from features.store.catalog import FeatureTable
from features.store.online_encode import encode_values, key_order, lengths, prefetched, value_texts

_BASE = 32  # code point of length/offset 0 (31 = a null value_text; below: control chars)
_SURROGATES = 0xD800  # code points from here skip the 0x800 surrogates
_PRAGMAS = (
    "PRAGMA journal_mode = OFF",
    "PRAGMA synchronous = OFF",
    "PRAGMA cache_size = -262144",  # 256 MiB
    "PRAGMA temp_store = MEMORY",
)


def feast_ddl(table: str) -> list[str]:
    """Feast's table (same columns and key as SqliteOnlineStore.update), WITHOUT ROWID, and
    the empty index that holds the name of Feast's redundant entity_key index."""
    q = _quote(table)
    return [
        f"CREATE TABLE {q} (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT, "
        "vector_value BLOB, event_ts timestamp, created_ts timestamp, "
        "PRIMARY KEY(entity_key, feature_name)) WITHOUT ROWID",
        f"CREATE INDEX {_quote(table + '_ek')} ON {q} (entity_key) WHERE 0",
    ]


def feast_epoch(ts: datetime) -> int:
    """event_ts as Feast stores it: the naive UTC time through sqlite3's epoch adapter."""
    return int(ts.astimezone(UTC).replace(tzinfo=None).timestamp())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _chars(values: np.ndarray) -> list[str]:
    """Each row of non-negative ints (n x m) as an m-character string, one character each."""
    code = values + _BASE
    code = np.where(code >= _SURROGATES, code + 0x800, code)
    if code.size and code.max() > 0x10FFFF:
        raise ValueError("a value over 1 MB per entity cannot be staged")
    flat = np.ascontiguousarray(code.astype("<u4"))
    return flat.view(f"<U{values.shape[1]}").ravel().tolist()


def _decode(column: str, wide: bool) -> str:
    """SQL turning character i of COLUMN back into its int (inverse of _chars); WIDE when
    some code point skipped the surrogates (an entity with over ~55 kB of values)."""
    c = f"unicode(substr(s.{column}, f.i, 1))"
    return (
        f"({c} - {_BASE} - 2048 * ({c} >= {_SURROGATES + 0x800}))" if wide else f"({c} - {_BASE})"
    )


def _insert_sql(table: str, wide: bool) -> str:
    """Cut the staged rows into Feast's rows, in (entity_key, feature_name) order."""
    vs, vl, ts, tl = (_decode(col, wide) for col in ("vs", "vl", "ts", "tl"))
    return (
        f"INSERT OR REPLACE INTO {_quote(table)} (entity_key, feature_name, value, value_text, "
        f"event_ts, created_ts) SELECT s.k, f.name, substr(s.v, {vs} + 1, {vl}), "
        f"CAST(substr(s.t, {ts} + 1, NULLIF({tl}, -1)) AS TEXT), ?, NULL "
        "FROM temp.stage s CROSS JOIN temp.features f"
    )


def _concat(cols: list[pa.Array]) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """Per row: the columns' bytes concatenated, each one's start and length."""
    size = np.stack([lengths(c) for c in cols], axis=1)
    joined = pa.compute.binary_join_element_wise(
        *[c.cast(pa.binary()).fill_null(b"") for c in cols], pa.scalar(b"", pa.binary())
    )
    return joined.to_pylist(), np.cumsum(size, axis=1) - size, size


def _stage_rows(
    table: FeatureTable, rows: pa.Table, keys: pa.Array
) -> tuple[list[tuple[Any, ...]], bool]:
    """One staging row per entity (key, values, their starts and lengths, texts, theirs), and
    whether any character code needed the wide decoding."""
    features = sorted(table.features, key=lambda f: f.name)
    cols = {f.name: rows.column(f.name).combine_chunks() for f in features}
    values, v_start, v_len = _concat([encode_values(cols[f.name], f.dtype) for f in features])
    texts = [value_texts(cols[f.name], f.dtype) for f in features]
    text, t_start, t_len = _concat(texts)
    t_len = np.where(np.stack([np.asarray(t.is_valid()) for t in texts], axis=1), t_len, -1)
    biggest = max(int((v_start + v_len).max(initial=0)), int((t_start + t_len).max(initial=0)))
    staged = list(
        zip(
            keys.to_pylist(),
            values,
            _chars(v_start),
            _chars(v_len),
            text,
            _chars(t_start),
            _chars(t_len),
            strict=True,
        )
    )
    return staged, biggest + _BASE >= _SURROGATES


class SqliteLoad:
    """A fresh online-store file next to DB_PATH, filled table by table; `finish` swaps it in
    (tables not written are copied from the live file), leaving the block aborts it."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        self.tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.loading")
        self.tmp.unlink(missing_ok=True)
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(self.tmp, isolation_level=None)
        for pragma in _PRAGMAS:
            self.con.execute(pragma)
        self.written: set[str] = set()

    def write(
        self,
        sqlite_table: str,
        table: FeatureTable,
        rows: pa.Table,
        event_ts: datetime,
        chunk_rows: int,
    ) -> int:
        """Create SQLITE_TABLE and insert ROWS (one per entity) as Feast's (entity, feature)
        rows."""
        con = self.con
        for ddl in feast_ddl(sqlite_table):
            con.execute(ddl)
        self.written.add(sqlite_table)
        con.execute("DROP TABLE IF EXISTS temp.features")
        con.execute("CREATE TEMP TABLE features (i INTEGER PRIMARY KEY, name TEXT)")
        names = sorted(f.name for f in table.features)
        con.executemany("INSERT INTO temp.features VALUES (?, ?)", enumerate(names, 1))
        con.execute("DROP TABLE IF EXISTS temp.stage")
        con.execute("CREATE TEMP TABLE stage (k BLOB, v BLOB, vs, vl, t BLOB, ts, tl)")
        rows, keys = key_order(rows, table.entity)
        bounds = range(0, rows.num_rows, chunk_rows)
        epoch = feast_epoch(event_ts)
        con.execute("BEGIN")
        for (staged, wide), start_next in prefetched(
            lambda lo: _stage_rows(table, rows.slice(lo, chunk_rows), keys.slice(lo, chunk_rows)),
            bounds,
        ):
            con.executemany("INSERT INTO temp.stage VALUES (?, ?, ?, ?, ?, ?, ?)", staged)
            start_next()  # encode the next chunk while SQLite runs the INSERT .. SELECT
            con.execute(_insert_sql(sqlite_table, wide), (epoch,))
            con.execute("DELETE FROM temp.stage")
        con.execute("COMMIT")
        return rows.num_rows

    def _copy_unwritten(self) -> None:
        """Tables (and their indexes) of the live file that this load did not write."""
        if not self.path.exists():
            return
        con = self.con
        con.execute("ATTACH DATABASE ? AS live", (str(self.path),))
        objects = con.execute(
            "SELECT type, name, tbl_name, sql FROM live.sqlite_master "
            "WHERE sql IS NOT NULL AND tbl_name NOT LIKE 'sqlite_%' ORDER BY type DESC"
        ).fetchall()  # tables before indexes
        con.execute("BEGIN")
        for kind, name, tbl, sql in objects:
            if tbl in self.written:
                continue
            con.execute(sql)
            if kind == "table":
                con.execute(f"INSERT INTO main.{_quote(name)} SELECT * FROM live.{_quote(name)}")
        con.execute("COMMIT")
        con.execute("DETACH DATABASE live")

    def finish(self) -> None:
        """Copy what was not written, fsync, and rename the new file over the live one."""
        self._copy_unwritten()
        self.con.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        for suffix in ("-journal", "-wal", "-shm"):  # the old file's, never the new one's
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Drop the new file; the live store stays as it was."""
        self.con.close()  # closing twice is harmless
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> SqliteLoad:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.abort()
            return
        try:
            self.finish()
        except BaseException:
            self.abort()
            raise
