"""Checks a command makes before any work, so a mistake costs a second and one line, not a
traceback after minutes (and a mistyped --workspace never becomes a new empty workspace)."""

from __future__ import annotations

import socket
from pathlib import Path

from configs.workspace import Workspace
from grouppush.errors import fail

EXPORT_SUFFIXES = (".parquet", ".csv")


def command(ws: Workspace, explicit: bool, rest: str) -> str:
    """`grouppush [--workspace W] REST`, as the user would type it next."""
    flag = f" --workspace {ws.root}" if explicit else ""
    return f"`grouppush{flag} {rest}`"


def require_orders(ws: Workspace, explicit: bool = True) -> None:
    """The workspace exists and holds at least one order line."""
    start = (
        f"{command(ws, explicit, 'ingest --source FILE')} or "
        f"{command(ws, explicit, 'simulate --preset tiny')}"
    )
    if not ws.root.is_dir():
        fail(f"workspace {ws.root} does not exist: check the path, or create it with {start}")
    orders = ws.data / "orders.parquet"
    if not orders.exists():
        fail(f"no orders in workspace {ws.root}: run {start}")
    if _rows(orders) == 0:
        fail(
            f"the orders table of workspace {ws.root} is empty (a header-only file, or every "
            f"line rejected: see {ws.quarantine}): run "
            f"{command(ws, explicit, 'ingest --source FILE')} with order lines"
        )


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except IsADirectoryError:
        return int(sum(pq.ParquetFile(f).metadata.num_rows for f in path.glob("*.parquet")))


def require_features(ws: Workspace, explicit: bool = True) -> None:
    """Every offline feature table has at least one built date (what the serving snapshot
    reads); without them a BentoML worker would fail at start and restart every 10 s."""
    from features.store.catalog import TABLES
    from features.store.offline_tables import table_files

    missing = [name for name in TABLES if not table_files(ws.offline, name)]
    if missing:
        fail(
            f"no feature tables in workspace {ws.root} ({', '.join(missing)} missing): "
            f"run {command(ws, explicit, 'features build')}"
        )


def require_export_suffix(out: Path) -> None:
    if out.suffix.lower() not in EXPORT_SUFFIXES:
        fail(f"--out {out}: unsupported suffix {out.suffix or '(none)'!r}; use .parquet or .csv")


def require_free_port(host: str, port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            sock.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port/--host")
