"""One writer per workspace: an advisory lock (flock) on a file in the workspace root.

Why: two `features build --full` at once crashed one or both in 5 of 6 tries (each removed
the other's staging folders) and once left `_built.json` empty. Writers (simulate, ingest,
features build, train) hold this lock for their whole run; a second writer waits with one
message (or, with `--no-wait`, fails with one line naming the holder). Readers (serve,
evaluate, exports) never take it: every writer publishes by atomic renames, so they never
block. flock locks belong to the open file: a killed writer releases it with its process,
so a stale lock file never needs cleaning; the temp files it left are deleted by the next
writer that takes the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = ".grouppush-writer.lock"
LEFTOVER_SUFFIXES = frozenset({".tmp", ".loading"})


class WorkspaceBusy(RuntimeError):
    """Another writer holds the workspace (raised without waiting)."""


def _holder(fd: int) -> str:
    """Who holds the lock, from the record the holder wrote (best effort)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another writer"
    return (
        f"`{info.get('command', '?')}` (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
        f"since {info.get('started', '?')})"
    )


def _record(fd: int, command: str) -> None:
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    info = {"command": command, "pid": os.getpid(), "host": socket.gethostname()}
    data = json.dumps({**info, "started": started}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def clear_leftovers(folders: Iterable[Path]) -> list[tuple[Path, int]]:
    """Delete the temp files writers leave when killed (`.<name>.tmp`, `.<db>.<pid>.loading`)
    under FOLDERS; (path, bytes) of each. Safe only under the writer lock: then no writer
    is running, so every such file is a leftover (a killed ingest left 89 MB, a killed
    online load 217 MB, and later successful runs kept them)."""
    gone: list[tuple[Path, int]] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob(".*"):
            if path.suffix in LEFTOVER_SUFFIXES and path.is_file():
                try:
                    size = path.stat().st_size
                    path.unlink()
                except OSError:
                    continue
                gone.append((path, size))
    return gone


@contextmanager
def writer_lock(
    root: Path,
    command: str,
    *,
    wait: bool = True,
    notify: Callable[[str], object] | None = None,
    clear: Iterable[Path] = (),
) -> Iterator[None]:
    """Hold ROOT's writer lock while the block runs. Busy: WorkspaceBusy (WAIT false), else
    NOTIFY(message) once and block until the holder finishes. Once held, the temp files of
    killed writers under the folders CLEAR are deleted (clear_leftovers)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            busy = f"workspace {root} is being written by {_holder(fd)}"
            if not wait:
                raise WorkspaceBusy(f"{busy}; try again when it has finished") from None
            if notify is not None:
                notify(f"{busy}; waiting for it to finish (Ctrl-C to stop)")
            started = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_EX)
            if notify is not None:
                notify(f"workspace free after {time.monotonic() - started:.0f} s; running")
        _record(fd, command)
        gone = clear_leftovers(clear)
        if gone and notify is not None:
            size = sum(size for _, size in gone) / 2**20
            notify(f"removed {len(gone)} temp file(s) of interrupted runs ({size:,.0f} MB)")
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
