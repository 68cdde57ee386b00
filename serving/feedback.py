"""Push outcomes (pushed / clicked / ordered): one durable log per deployment, read back in order.

- `FileFeedback`: JSON lines in the workspace (`feedback/feedback.jsonl`), flushed and fsynced
  before /feedback answers; worker processes of one host append to the same file.
- `RedisFeedback` (features.online_store = redis): one Redis stream that every replica
  appends to, so replicas' feedback lands in one place instead of one file per replica.

Both honour /feedback's idempotency keys (`append_once`): a retried call with a key seen
before stores nothing and answers the first call's count. File: `feedback_keys.jsonl` next to
the events, under flock; stream: the hash `grouppush:feedback:keys`, written in one Lua script
with the events.

Both read "everything after a mark" (file: byte offset; stream: entry id), which is how the
snapshot (all events up to its mark) and a live worker (events after it) split the log without
counting an event twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from configs.settings import FeatureSettings
from configs.workspace import Workspace

FEEDBACK_FILE = "feedback.jsonl"
KEYS_FILE = "feedback_keys.jsonl"  # idempotency keys seen, with the count each call stored
STREAM_KEY = "grouppush:feedback"
READ_BATCH = 10_000  # stream entries per XRANGE call
_LOCK = threading.RLock()
log = logging.getLogger(__name__)

Mark = int | str | None  # file byte offset / stream entry id; None: the log's start
Rows = list[dict[str, Any]]
Positioned = list[tuple[Mark, dict[str, Any]]]  # (the mark just after the event, the event)


class FeedbackLog(Protocol):
    def append(self, events: Iterable[Mapping[str, Any]]) -> int: ...

    def append_once(self, key: str, events: Sequence[Mapping[str, Any]]) -> tuple[int, bool]: ...

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
    with _LOCK:
        return _append_unlocked(folder, events)


def _append_unlocked(folder: Path, events: Iterable[Mapping[str, Any]]) -> int:
    lines = "".join(line + "\n" for line in _lines(events))
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


def append_once(folder: Path, key: str, events: Sequence[Mapping[str, Any]]) -> tuple[int, bool]:
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

    def append_once(self, key: str, events: Sequence[Mapping[str, Any]]) -> tuple[int, bool]:
        """append_once on the workspace file (keys in KEYS_FILE next to it)."""
        return append_once(self.folder, key, events)

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


# KEYS: stream, keys hash; ARGV: idempotency key, then one JSON line per event. Redis runs a
# script as one step: the events and the key land together or not at all, and of two replicas
# sending the same key at once one stores and the other replays.
_APPEND_ONCE = """
local done = redis.call('HGET', KEYS[2], ARGV[1])
if done then return {tonumber(done), 1} end
for i = 2, #ARGV do redis.call('XADD', KEYS[1], '*', 'e', ARGV[i]) end
redis.call('HSET', KEYS[2], ARGV[1], #ARGV - 1)
return {#ARGV - 1, 0}
"""


class RedisFeedback:
    """One Redis stream shared by every replica; the mark is the last entry id read.
    Idempotency keys live in the hash `<stream>:keys` (key -> count stored), shared by
    replicas."""

    def __init__(self, client: Any, key: str = STREAM_KEY) -> None:
        self.client, self.key = client, key
        self.keys = f"{key}:keys"

    def append(self, events: Iterable[Mapping[str, Any]]) -> int:
        lines = _lines(events)
        if not lines:
            return 0
        pipe = self.client.pipeline(transaction=True)  # all of a request's events, or none
        for line in lines:
            pipe.xadd(self.key, {"e": line})
        pipe.execute()
        return len(lines)

    def append_once(self, key: str, events: Sequence[Mapping[str, Any]]) -> tuple[int, bool]:
        """(accepted, replayed): EVENTS added to the stream unless KEY was recorded before,
        then that call's count; atomic across replicas (one Lua script)."""
        accepted, replayed = self.client.eval(
            _APPEND_ONCE, 2, self.key, self.keys, key, *_lines(events)
        )
        return int(accepted), bool(replayed)

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
        from features.store.redis_snapshot import redis_client

        return RedisFeedback(redis_client(cfg.redis_connection_string))
    return FileFeedback(ws.feedback, strict)
