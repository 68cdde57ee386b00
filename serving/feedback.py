"""Push outcomes (pushed / clicked / ordered) appended durably as JSON lines for retraining."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FEEDBACK_FILE = "feedback.jsonl"
_LOCK = threading.Lock()


def feedback_path(folder: Path) -> Path:
    return folder / FEEDBACK_FILE


def append_feedback(folder: Path, events: Iterable[Mapping[str, Any]]) -> int:
    """Append one JSON line per event, flushed and fsynced before returning.

    A process-wide lock keeps lines whole between threads; O_APPEND writes of one buffer keep
    them whole between worker processes.
    """
    lines = "".join(json.dumps(dict(e), default=str, ensure_ascii=False) + "\n" for e in events)
    if not lines:
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    data = lines.encode("utf-8")
    with _LOCK:
        fd = os.open(feedback_path(folder), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
    return lines.count("\n")


def read_feedback(folder: Path) -> list[dict[str, Any]]:
    """Every recorded event (for tests and retraining jobs)."""
    path = feedback_path(folder)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
