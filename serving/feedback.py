"""Push outcomes (pushed / clicked / ordered): one durable log per deployment, read back in order.

- `FileFeedback`: JSON lines in the workspace (`feedback/feedback.jsonl`), flushed and fsynced
  before /feedback answers; worker processes of one host append to the same file.
- `RedisFeedback` (features.online_store = redis): one Redis stream that every replica
  appends to, so replicas' feedback lands in one place instead of one file per replica.

Both read "everything after a mark" (file: byte offset; stream: entry id), which is how the
snapshot (all events up to its mark) and a live worker (events after it) split the log without
counting an event twice.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from configs.settings import FeatureSettings
from configs.workspace import Workspace

FEEDBACK_FILE = "feedback.jsonl"
STREAM_KEY = "grouppush:feedback"
READ_BATCH = 10_000  # stream entries per XRANGE call
_LOCK = threading.Lock()
log = logging.getLogger(__name__)

Mark = int | str | None  # file byte offset / stream entry id; None: the log's start
Rows = list[dict[str, Any]]
Positioned = list[tuple[Mark, dict[str, Any]]]  # (the mark just after the event, the event)


class FeedbackLog(Protocol):
    def append(self, events: Iterable[Mapping[str, Any]]) -> int: ...

    def read(self, after: Mark = None) -> tuple[Positioned, Mark]: ...


def mark_key(mark: Mark) -> tuple[int, int]:
    """A sortable key of a mark: byte offsets and stream ids ("<ms>-<seq>") both order."""
    if mark is None:
        return (-1, -1)
    if isinstance(mark, int):
        return (mark, 0)
    ms, _, seq = str(mark).partition("-")
    return (int(ms), int(seq or 0))


def feedback_path(folder: Path) -> Path:
    return folder / FEEDBACK_FILE


def _lines(events: Iterable[Mapping[str, Any]]) -> list[str]:
    return [json.dumps(dict(e), default=str, ensure_ascii=False) for e in events]


def append_feedback(folder: Path, events: Iterable[Mapping[str, Any]]) -> int:
    """Append one JSON line per event, flushed and fsynced before returning.

    A process-wide lock keeps lines whole between threads; O_APPEND writes of one buffer keep
    them whole between worker processes.
    """
    lines = "".join(line + "\n" for line in _lines(events))
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


def read_feedback(folder: Path) -> Rows:
    """Every recorded event of the workspace's file (for tests and retraining jobs)."""
    return [row for _, row in FileFeedback(folder).read()[0]]


class FileFeedback:
    """The workspace's JSON-lines file; the mark is the byte offset read up to. A line that is
    not an event fails the read when STRICT (exports), else is logged and skipped (the service
    keeps serving and counting the other events)."""

    def __init__(self, folder: Path, strict: bool = False) -> None:
        self.folder, self.strict = folder, strict

    def append(self, events: Iterable[Mapping[str, Any]]) -> int:
        return append_feedback(self.folder, events)

    def read(self, after: Mark = None) -> tuple[Positioned, Mark]:
        """Whole lines after byte offset AFTER (a line still being written waits)."""
        start = int(after or 0)
        path = feedback_path(self.folder)
        if not path.exists():
            return [], start
        with path.open("rb") as fh:
            fh.seek(start)
            data = fh.read()
        rows: Positioned = []
        pos = 0
        while (end := data.find(b"\n", pos)) >= 0:
            if data[pos:end].strip():
                row = _parse(data[pos:end], path, start + pos, self.strict)
                if row is not None:
                    rows.append((start + end + 1, row))
            pos = end + 1
        return rows, start + pos


def _parse(line: bytes, path: Path, offset: int, strict: bool) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except ValueError:
        row = None
    if isinstance(row, dict):
        return row
    message = f"{path}: byte {offset}: not a JSON feedback event; fix or remove that line"
    if strict:
        raise ValueError(message)
    log.warning("%s (skipped)", message)
    return None


class RedisFeedback:
    """One Redis stream shared by every replica; the mark is the last entry id read."""

    def __init__(self, client: Any, key: str = STREAM_KEY) -> None:
        self.client, self.key = client, key

    def append(self, events: Iterable[Mapping[str, Any]]) -> int:
        lines = _lines(events)
        if not lines:
            return 0
        pipe = self.client.pipeline(transaction=True)  # all of a request's events, or none
        for line in lines:
            pipe.xadd(self.key, {"e": line})
        pipe.execute()
        return len(lines)

    def read(self, after: Mark = None) -> tuple[Positioned, Mark]:
        rows: Positioned = []
        mark = after
        while True:
            start = f"({mark}" if mark else "-"
            batch = self.client.xrange(self.key, min=start, max="+", count=READ_BATCH)
            for entry_id, fields in batch:
                mark = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                rows.append((mark, json.loads(fields.get(b"e", fields.get("e")))))
            if len(batch) < READ_BATCH:
                return rows, mark


def feedback_log(ws: Workspace, cfg: FeatureSettings, strict: bool = False) -> FeedbackLog:
    """The deployment's log: the Redis stream with a Redis online store (shared by replicas),
    else the workspace's file."""
    if cfg.online_store == "redis":
        from features.redis_snapshot import redis_client

        return RedisFeedback(redis_client(cfg.redis_connection_string))
    return FileFeedback(ws.feedback, strict)
