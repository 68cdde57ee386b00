"""`grouppush ingest`: CSV/Parquet files -> validated contract tables, quarantine and a report.

Tables are read in chunks, validated, and streamed to temp Parquet files next to their final
place; only when every table is within the reject-share limit are they renamed into data_dir
(together with the derived tables), so a failed run leaves the previous data untouched.
Optional contract columns absent from the input are not created; downstream code must cope.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from configs.settings import IngestSettings
from features.contract.io import table_path, write_parquet_atomic
from features.contract.schema import STAND_INS, TABLES, Column, Table, stand_in
from features.contract.table_commit import commit_tables, committing, finish_commit
from features.ingest.derive import derive_tables
from features.ingest.quarantine import BAD_FIELDS, QuarantineWriter
from features.ingest.readers import (
    ENCODING_HINT,
    Renames,
    find_inputs,
    parse_maps,
    read_chunks,
    read_header,
)
from features.ingest.report import IngestError, IngestReport, capability_lines
from features.ingest.validate import REFERENCES, TableState, arrow_schema, validate_chunk

__all__ = ["IngestError", "IngestReport", "ingest"]

# Referenced tables first, so orders can be checked against the products/users given.
ORDER = ("users", "products", "inventory", "groups", "memberships", "orders", "pushes")


@dataclass(frozen=True)
class Plan:
    """One input file checked up front: its header, renames and the contract columns it has."""

    table: Table
    path: Path
    header: list[str]
    renames: dict[str, str]
    present: list[str]
    unknown: list[str]
    stand_ins: dict[str, Column] = field(default_factory=dict)  # target -> input-only column


def contract_text(table: Table) -> str:
    """The table's contract columns and what each means (* = required), for error messages."""
    parts = [
        f"{c.name}{'*' if c.required else ''}" + (f" = {c.meaning}" if c.meaning else "")
        for c in table.columns
    ]
    parts += [f"{c.name} = {c.meaning}" for c in STAND_INS.get(table.name, {}).values()]
    return f"contract of {table.name} (* required): " + "; ".join(parts)


def plan_file(name: str, path: Path, renames: Renames, encoding: str = "utf-8") -> Plan:
    """Fail at once, naming every absent required column (after --map renames) and what it
    means, when the file lacks any; a stand-in column (unit_price for amount) counts."""
    table = TABLES[name]
    header = read_header(path, encoding)
    rn = renames.for_table(name, header)
    renamed = [rn.get(c, c) for c in header]
    if len(set(renamed)) != len(renamed):
        clash = sorted({c for c in renamed if renamed.count(c) > 1})
        raise IngestError(f"{path}: --map gives two columns the name {clash}")
    stand_ins: dict[str, Column] = {}
    missing = []
    for col in table.required:
        if col in renamed:
            continue
        alt = stand_in(name, col)
        if alt is not None and alt.name in renamed:
            stand_ins[col] = alt
        else:
            missing.append(col)
    if missing:
        what = ", ".join(f"{c!r} ({table.column(c).meaning or 'required'})" for c in missing)
        example = missing[0]
        raise IngestError(
            f"{path}: missing required column(s) of table {name}: {what}. The file has: "
            f"{', '.join(header)}. Rename a column with --map SRC={example} (or --map "
            f"{name}:SRC={example}). {contract_text(table)}"
        )
    present = [c for c in table.names if c in renamed or c in stand_ins]
    used = {c.name for c in stand_ins.values()}
    unknown = [c for c in header if rn.get(c, c) not in table.names and rn.get(c, c) not in used]
    return Plan(table, path, header, rn, present, unknown, stand_ins)


def _cutoff(as_of: date | None) -> pd.Timestamp:
    """Timestamps at or after midnight UTC following the as-of date (default today) are future."""
    day = as_of or datetime.now(UTC).date()
    return pd.Timestamp(day, tz="UTC") + timedelta(days=1)


def _ingest_table(
    plan: Plan,
    staging: Path,
    quarantine_dir: Path,
    cfg: IngestSettings,
    known: Mapping[str, pa.Array],
    report: IngestReport,
    advance: Callable[[int], object],
) -> pa.Array | None:
    """Validate one file chunk by chunk into staging; returns its key ids when others need them."""
    name, table = plan.table.name, plan.table
    schema = arrow_schema(table, plan.present)
    back = {dst: src for src, dst in plan.renames.items()}
    str_cols = {back.get(c, c) for c in plan.present if table.column(c).kind == "str"}
    str_cols -= {back.get(t, t) for t in plan.stand_ins}  # not in the file: computed
    state, ids = TableState(), []
    counts = {"in": 0, "ok": 0}
    cutoff = _cutoff(cfg.as_of)
    reasons: Counter[str] = Counter()
    qpath = quarantine_dir / f"{name}.parquet"
    with (
        pq.ParquetWriter(staging, schema, compression="zstd") as writer,
        QuarantineWriter(qpath, plan.header, str(plan.path)) as quarantine,
    ):
        for chunk in read_chunks(
            plan.path, plan.header, cfg.chunk_rows, str_cols, cfg.csv_encoding
        ):
            renamed = chunk.table.rename_columns([plan.renames.get(c, c) for c in plan.header])
            ok, reason = validate_chunk(
                renamed, table, cutoff, state, known, plan.stand_ins, chunk.reasons
            )
            writer.write_table(ok.cast(schema))
            bad = reason != None  # noqa: E711 (elementwise)
            quarantine.write(chunk.table.filter(pa.array(bad)), reason[bad], chunk.rows[bad])
            quarantine.write_bad_lines(chunk.bad_lines)
            reasons.update(reason[bad].tolist() + [BAD_FIELDS] * len(chunk.bad_lines))
            n_in = chunk.table.num_rows + len(chunk.bad_lines)
            counts["in"] += n_in
            counts["ok"] += ok.num_rows
            if name in REFERENCES.values():
                ids.append(ok.column(table.key[0]))
            advance(n_in)
    report.rows_in[name], report.rows_ok[name] = counts["in"], counts["ok"]
    report.rows_rejected[name] = counts["in"] - counts["ok"]
    report.add_rejects(name, dict(reasons))
    report.sources[name] = plan.path
    if plan.unknown:
        report.unknown_columns[name] = plan.unknown
    report.derived += [
        f"{name}.{target} = {col.name} x quantity (the file has no {target})"
        for target, col in plan.stand_ins.items()
    ]
    if quarantine.rows:
        report.quarantine[name] = qpath
    return pa.concat_arrays([i.combine_chunks() for i in ids]) if ids else None


def _unused_maps(renames: Renames, plans: Mapping[str, Plan]) -> list[str]:
    """A --map that renamed nothing is likely a typo: say so (not an error)."""
    used = {(t, src) for t, plan in plans.items() for src in plan.renames}
    notes = [
        f"--map {s}={d} matched no column"
        for s, d in renames.plain.items()
        if not any(src == s for _, src in used)
    ]
    notes += [
        f"--map {t}:{s}={d} matched no column"
        for t, m in renames.by_table.items()
        for s, d in m.items()
        if (t, s) not in used
    ]
    return notes


def _over_limit(report: IngestReport, limit: float) -> list[str]:
    def hint(table: str) -> str:
        encoding = any(r.startswith("invalid ") and t == table for t, r in report.rejected)
        return f" ({ENCODING_HINT})" if encoding else ""

    return [
        f"{t}: {report.rows_rejected[t]} of {report.rows_in[t]} rows rejected "
        f"({report.reject_share(t):.2%}), above the limit max_reject_share={limit:.2%}"
        + (f"; see {report.quarantine[t]}" if t in report.quarantine else "")
        + hint(t)
        for t in report.rows_in
        if report.reject_share(t) > limit
    ]


def _commit(
    staged: dict[str, Path], derived: dict[str, pa.Table], data_dir: Path, report: IngestReport
) -> None:
    """Stage derived tables too, then switch every table into place and drop contract tables
    not produced, as one step (features.contract.table_commit: all old or all new after a crash)."""
    for name, table in derived.items():
        staged[f"{name}:derived"] = write_parquet_atomic(
            table, data_dir / f".{name}.derived-{os.getpid()}.tmp"
        )
    moves: dict[Path, Path] = {}
    for key, tmp in staged.items():
        name = key.removesuffix(":derived")
        if name in derived and not key.endswith(":derived"):
            continue  # replaced by its derived version
        moves[tmp] = report.outputs[name] = table_path(data_dir, name)
    removals = []
    for name in TABLES:
        stale = table_path(data_dir, name)
        if name not in report.outputs and stale.exists():
            removals.append(stale)
            report.notes.append(f"removed {stale}: no {name} in this source")
    commit_tables(data_dir, moves, removals)


def ingest(
    source: Path | None,
    data_dir: Path,
    quarantine_dir: Path,
    cfg: IngestSettings,
    *,
    maps: Sequence[str] = (),
    files: Mapping[str, Path] | None = None,
    show_progress: bool = True,
) -> IngestReport:
    """Validate the source files into contract tables in data_dir; rejects go to quarantine_dir.

    Raises IngestError for a missing orders file or required column (before reading any rows)
    and when a table's rejected share passes cfg.max_reject_share (after writing quarantine).
    """
    from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn

    started = time.perf_counter()
    renames = parse_maps(maps)
    inputs = find_inputs(source, files)
    plans = {n: plan_file(n, p, renames, cfg.csv_encoding) for n, p in inputs.items()}
    data_dir.mkdir(parents=True, exist_ok=True)
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    report = IngestReport(notes=_unused_maps(renames, plans))
    if finish_commit(data_dir):  # an earlier ingest was cut short mid-switch
        report.notes.append(f"completed the table switch an interrupted ingest left in {data_dir}")
    staged: dict[str, Path] = {}
    known: dict[str, pa.Array] = {}
    columns = (
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, disable=not show_progress, transient=False) as progress:
            for name in (n for n in ORDER if n in plans):
                task = progress.add_task(f"ingest {name}", total=None)
                fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=data_dir)
                os.close(fd)
                staged[name] = Path(tmp_name)

                def advance(n: int, task: TaskID = task) -> None:
                    progress.advance(task, n)

                ids = _ingest_table(
                    plans[name], staged[name], quarantine_dir, cfg, known, report, advance
                )
                if ids is not None:
                    known[name] = ids
        problems = _over_limit(report, cfg.max_reject_share)
        if problems:
            raise IngestError("too many rejected rows: " + "; ".join(problems))
        derived, said = derive_tables(staged)
        report.derived += said
        _commit(staged, derived, data_dir, report)
        written = {n: set(pq.read_schema(p).names) for n, p in report.outputs.items()}
        report.capabilities = capability_lines(written, set(derived) - set(staged))
    finally:
        if not committing(data_dir):  # a cut-short switch keeps its files for finish_commit
            for tmp in staged.values():
                tmp.unlink(missing_ok=True)
    report.seconds = time.perf_counter() - started
    return report
