"""Finding input files, parsing --map renames and reading CSV/Parquet in bounded chunks.

Ids are opaque: CSV cells are read as strings (nothing stripped, empty stays ""), Parquet id
columns are cast to strings, so "0042", "a/b" or "店铺 7" come out exactly as written.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.contract.schema import STAND_INS, TABLES
from features.ingest.report import IngestError

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".csv.lz4")
PARQUET_SUFFIXES = (".parquet", ".pq")
ENCODING_HINT = "for a CSV not in UTF-8 set GROUPPUSH__INGEST__CSV_ENCODING (e.g. gb18030)"


@dataclass(frozen=True)
class Renames:
    """Parsed --map options: plain renames apply to every file, qualified ones to one table."""

    plain: dict[str, str] = field(default_factory=dict)
    by_table: dict[str, dict[str, str]] = field(default_factory=dict)

    def for_table(self, table: str, header: Sequence[str]) -> dict[str, str]:
        out = {src: dst for src, dst in self.plain.items() if src in header}
        out.update({s: d for s, d in self.by_table.get(table, {}).items() if s in header})
        return out


def parse_maps(maps: Sequence[str]) -> Renames:
    """'src=dst' or 'table:src=dst'; the target must be a contract column (catches typos)."""
    plain: dict[str, str] = {}
    by_table: dict[str, dict[str, str]] = {}
    for spec in maps:
        lhs, eq, dst = spec.partition("=")
        table, colon, src = lhs.rpartition(":") if ":" in lhs else ("", "", lhs)
        if not eq or not src or not dst or (colon and not table):
            raise IngestError(f"--map {spec!r}: expected src=dst or table:src=dst")
        if table:
            if table not in TABLES:
                raise IngestError(f"--map {spec!r}: unknown table {table!r}")
            if dst not in input_names(table):
                raise IngestError(f"--map {spec!r}: {table} has no contract column {dst!r}")
            by_table.setdefault(table, {})[src] = dst
        else:
            if not any(dst in input_names(t) for t in TABLES):
                raise IngestError(f"--map {spec!r}: {dst!r} is not a contract column")
            plain[src] = dst
    return Renames(plain, by_table)


def input_names(table: str) -> list[str]:
    """The columns an input file of TABLE may carry: the contract's plus its stand-ins."""
    return TABLES[table].names + [c.name for c in STAND_INS.get(table, {}).values()]


def _table_of(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in CSV_SUFFIXES + PARQUET_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in TABLES:
            return name[: -len(suffix)]
    return None


def find_inputs(source: Path | None, files: Mapping[str, Path] | None) -> dict[str, Path]:
    """Table -> file from a folder (files named by table), a single orders file and --table."""
    found: dict[str, Path] = {}
    if source is not None:
        if not source.exists():
            raise IngestError(f"--source {source}: no such file or folder")
        if source.is_file():
            found["orders"] = source
        else:
            for path in sorted(source.iterdir()):
                table = _table_of(path) if path.is_file() else None
                if table is None:
                    continue
                if table in found:
                    raise IngestError(
                        f"{source}: both {found[table].name} and {path.name} hold {table}"
                    )
                found[table] = path
    for table, path in (files or {}).items():
        if table not in TABLES:
            raise IngestError(f"--table {table}={path}: unknown table; one of {', '.join(TABLES)}")
        if not Path(path).is_file():
            raise IngestError(f"--table {table}={path}: no such file")
        found[table] = Path(path)
    if "orders" not in found:
        where = source if source is not None else "--table"
        raise IngestError(f"no orders file: expected orders.csv or orders.parquet in {where}")
    return found


def _escaped(text: str) -> bool:
    """Whether TEXT holds a byte its codec could not decode (surrogateescape)."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def is_csv(path: Path) -> bool:
    return not path.name.lower().endswith(PARQUET_SUFFIXES)


def read_header(path: Path, encoding: str = "utf-8") -> list[str]:
    """Column names as written in the file (a UTF-8 BOM is dropped)."""
    try:
        if not is_csv(path):
            return list(pq.ParquetFile(path).schema_arrow.names)
        with pa.input_stream(str(path), compression="detect") as raw:
            enc = (
                "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
            )
            # bad bytes further down are the rows' business (quarantined), not the header's
            text = io.TextIOWrapper(
                raw,  # type: ignore[arg-type]
                encoding=enc,
                newline="",
                errors="surrogateescape",
            )
            header = next(csv.reader(text), None)
    except (OSError, LookupError, pa.ArrowException, UnicodeDecodeError, csv.Error) as exc:
        raise IngestError(f"{path}: cannot read header ({exc}); {ENCODING_HINT}") from exc
    if any(_escaped(c) for c in header or []):
        raise IngestError(
            f"{path}: the header has bytes that are not valid {encoding}; {ENCODING_HINT}"
        )
    if not header:
        raise IngestError(f"{path}: empty file, expected a header line")
    if len(set(header)) != len(header):
        dupes = sorted({c for c in header if header.count(c) > 1})
        raise IngestError(f"{path}: repeated column name(s) {dupes}")
    return header


@dataclass
class Chunk:
    """One bounded slice of a file: its rows (original values) and 1-based data row numbers.

    reasons: per row None, or why the row is rejected before validation (bytes that are not
    valid in the file's encoding; those cells hold the text with the bad bytes escaped)."""

    table: pa.Table
    rows: np.ndarray
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (data row, raw text)
    reasons: np.ndarray | None = None


# A byte the file's codec rejects becomes one private-use character (MARK + byte) while the
# CSV is transcoded to UTF-8 for Arrow: the rest of the file parses, and the cells holding one
# are found afterwards (their row goes to quarantine) instead of the whole file failing.
MARK = 0xF700
_MARKED = "[\uf700-\uf7ff]"


def _mark_bad_bytes(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    return "".join(chr(MARK + b) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error("grouppush-mark", _mark_bad_bytes)


def unmark(text: str) -> str:
    """TEXT with each marked invalid byte written as \\xNN (what quarantine shows)."""
    return "".join(
        f"\\x{ord(ch) - MARK:02x}" if MARK <= ord(ch) <= MARK + 0xFF else ch for ch in text
    )


class _Transcoded(io.RawIOBase):
    """A binary stream of text in ENCODING, read as UTF-8 with invalid bytes marked."""

    def __init__(self, raw: pa.NativeFile, encoding: str) -> None:
        super().__init__()
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder(encoding)(errors="grouppush-mark")
        self.buffer = bytearray()
        self.done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = -1 if size is None else size
        while not self.done and (want < 0 or len(self.buffer) < want):
            block = self.raw.read(4 << 20)
            self.done = not block
            self.buffer += self.decoder.decode(block, final=self.done).encode("utf-8")
        n = len(self.buffer) if want < 0 else min(want, len(self.buffer))
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def close(self) -> None:
        self.raw.close()
        super().close()


def _bad_bytes(table: pa.Table, encoding: str) -> np.ndarray | None:
    """Per row the reason when a cell holds bytes invalid in ENCODING (None: no such row)."""
    reasons: np.ndarray | None = None
    for name in table.column_names:
        hit = pc.match_substring_regex(table.column(name), _MARKED)
        if not pc.any(hit).as_py():
            continue
        if reasons is None:
            reasons = np.full(table.num_rows, None, dtype=object)
        mask = np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)
        reasons[mask & (reasons == None)] = f"invalid {encoding} bytes in {name}"  # noqa: E711
    return reasons


def _unmarked(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """TABLE with the marked bytes of ROWS written out as \\xNN."""
    columns = []
    for col in table.columns:
        values = col.to_pylist()
        for i in np.flatnonzero(rows):
            values[i] = unmark(values[i])
        columns.append(pa.array(values, pa.string()))
    return pa.Table.from_arrays(columns, names=table.column_names)


def _csv_batches(
    path: Path, header: list[str], bad: list[tuple[int, str]], encoding: str
) -> Iterator[pa.Table]:
    """Batches of a CSV after its header (already read), every column as text."""

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((int(row.number or 0) - 1, unmark(row.text)))  # the header is row 1
        return "skip"

    raw = pa.input_stream(str(path), compression="detect")
    reader = pacsv.open_csv(
        _Transcoded(raw, encoding),
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=8 << 20, column_names=header, skip_rows=1
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header}, strings_can_be_null=False
        ),
    )
    for batch in reader:
        yield pa.Table.from_batches([batch])


def _parquet_batches(path: Path, chunk_rows: int, str_columns: set[str]) -> Iterator[pa.Table]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
        table = pa.Table.from_batches([batch])
        for i, name in enumerate(table.column_names):
            col = table.column(i)
            if name in str_columns and not pa.types.is_string(col.type):
                table = table.set_column(i, name, col.cast(pa.string()))
        yield table


def read_chunks(
    path: Path,
    header: list[str],
    chunk_rows: int,
    str_columns: set[str],
    encoding: str = "utf-8",
) -> Iterator[Chunk]:
    """Chunks of at most chunk_rows rows, columns as named in the file.

    CSV lines with the wrong number of fields are skipped by the parser and handed back as
    bad_lines (with their data row number) so they can be quarantined instead of lost.
    """
    bad: list[tuple[int, str]] = []
    csv_file = is_csv(path)
    batches = (
        _csv_batches(path, header, bad, encoding)
        if csv_file
        else _parquet_batches(path, chunk_rows, str_columns)
    )
    done = 0  # good rows emitted so far
    skipped: list[int] = []  # data row numbers of bad lines seen so far (ascending)
    try:
        for table in batches:
            for start in range(0, max(table.num_rows, 1), chunk_rows):
                part = table.slice(start, chunk_rows)
                reasons = _bad_bytes(part, encoding) if csv_file else None
                if reasons is not None:
                    part = _unmarked(part, reasons != None)  # noqa: E711
                skipped.extend(r for r, _ in bad)
                ordinals = np.arange(done + 1, done + part.num_rows + 1, dtype=np.int64)
                chunk = Chunk(part, _row_numbers(ordinals, skipped), list(bad), reasons)
                bad.clear()
                done += part.num_rows
                if part.num_rows or chunk.bad_lines:
                    yield chunk
        if bad:
            empty = pa.table({c: pa.array([], pa.string()) for c in header})
            yield Chunk(empty, np.empty(0, np.int64), list(bad))
    except pa.ArrowException as exc:
        raise IngestError(
            f"{path}: unreadable after data row {done} ({exc}); {ENCODING_HINT}"
        ) from exc


def _row_numbers(ordinals: np.ndarray, skipped: list[int]) -> np.ndarray:
    """Data row numbers of the g-th good rows, given the sorted row numbers of skipped lines."""
    if not skipped:
        return ordinals
    s = np.asarray(skipped, dtype=np.int64)
    shifted = s - np.arange(len(s))  # s_i - i is nondecreasing; row = g + #(shifted <= g)
    return ordinals + np.searchsorted(shifted, ordinals, side="right")
