"""Switch a set of staged tables into place as one step: a journal, rolled forward if cut short.

Why: ingest replaced its tables one rename at a time; a crash after the first left new
`users` with old `orders` (24,964 orders pointing at users that no longer exist). Here
every table is staged (written and fsynced) first; then one journal file naming every move
and removal is written atomically; then the renames run and the journal is deleted. A
crash before the journal leaves the old tables whole; a crash after it leaves the journal,
and the next writer (`finish_commit`, run under the workspace lock before anything else)
completes the same moves: the tables are all old or all new, never a mix that survives.
Light imports only: the CLI calls finish_commit before every writing command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

JOURNAL = ".commit-journal.json"


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (its entries) by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move(staged: Path, final: Path) -> None:
    os.replace(staged, final)


def _apply(folder: Path, moves: list[list[str]], removals: list[str]) -> None:
    """Idempotent: a move whose staged file is gone was done before the cut."""
    for staged, final in moves:
        if Path(staged).exists():
            _move(Path(staged), Path(final))
    for path in removals:
        Path(path).unlink(missing_ok=True)
    fsync_path(folder)
    (folder / JOURNAL).unlink(missing_ok=True)
    fsync_path(folder)


def commit_tables(folder: Path, moves: Mapping[Path, Path], removals: Iterable[Path] = ()) -> None:
    """Move every staged file (key) to its final path (value) in FOLDER and delete REMOVALS,
    all or nothing across a crash (the staged files must be in FOLDER: renames stay on one
    file system)."""
    for staged in moves:
        fsync_path(staged)
    pairs = [[str(s), str(f)] for s, f in moves.items()]
    gone = [str(p) for p in removals]
    record = {"moves": pairs, "remove": gone}
    tmp = folder / f"{JOURNAL}.writing"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / JOURNAL)  # from here on, the switch completes (now or next run)
    fsync_path(folder)
    _apply(folder, pairs, gone)


def committing(folder: Path) -> bool:
    """True while FOLDER holds a commit that has not finished (its staged files are kept)."""
    return (folder / JOURNAL).exists()


def finish_commit(folder: Path) -> bool:
    """Complete a commit a crash cut short; True when there was one."""
    path = folder / JOURNAL
    if not path.exists():
        return False
    record = json.loads(path.read_text(encoding="utf-8"))
    _apply(folder, record["moves"], record["remove"])
    return True
