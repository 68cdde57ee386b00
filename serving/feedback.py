"""Push outcomes (pushed / clicked / ordered) appended durably as JSON lines for retraining."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FEEDBACK_FILE = "feedback.jsonl"
KEYS_FILE = "feedback_keys.jsonl"  # idempotency keys seen, with the count each call stored
_LOCK = threading.RLock()


def feedback_path(folder: Path) -> Path:
    return folder / FEEDBACK_FILE


def append_feedback(folder: Path, events: Iterable[Mapping[str, Any]]) -> int:
    """Append one JSON line per event, flushed and fsynced before returning.

    A process-wide lock keeps lines whole between threads; O_APPEND writes of one buffer keep
    them whole between worker processes.
    """
    with _LOCK:
        return _append_unlocked(folder, events)


def _append_unlocked(folder: Path, events: Iterable[Mapping[str, Any]]) -> int:
    lines = "".join(json.dumps(dict(e), default=str, ensure_ascii=False) + "\n" for e in events)
    if not lines:
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    data = lines.encode("utf-8")
    fd = os.open(feedback_path(folder), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    return lines.count("\n")


def append_once(folder: Path, key: str, events: list[Mapping[str, Any]]) -> tuple[int, bool]:
    """(accepted, replayed): EVENTS appended unless KEY was recorded before, then that
    call's count. Events are fsynced before the key, so a crash in between can duplicate a
    retried call but never lose one; the key file is locked (flock) across workers."""
    folder.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(folder / KEYS_FILE, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        for line in fh:  # keys are small; a day of retries is a few thousand lines
            if line.startswith(f'{{"key": {json.dumps(key)},'):
                return int(json.loads(line)["accepted"]), True
        accepted = _append_unlocked(folder, events)
        fh.write(json.dumps({"key": key, "accepted": accepted}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return accepted, False


def read_feedback(folder: Path) -> list[dict[str, Any]]:
    """Every recorded event (for tests and retraining jobs)."""
    path = feedback_path(folder)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
