"""One writer per workspace: a second writer waits (or fails with one line under --no-wait);
two real concurrent `features build` runs both succeed, one after the other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from configs.workspace_lock import LOCK_FILE, WorkspaceBusy, writer_lock

ROOT = Path(__file__).resolve().parents[1]


def test_second_writer_fails_without_wait_and_waits_otherwise(tmp_path: Path) -> None:
    released = threading.Event()
    held = threading.Event()

    def first() -> None:
        with writer_lock(tmp_path, "features build"):
            held.set()
            released.wait(10)

    t = threading.Thread(target=first)
    t.start()
    assert held.wait(10)
    busy = pytest.raises(WorkspaceBusy, match=r"`features build` \(pid \d+")
    with busy, writer_lock(tmp_path, "train", wait=False):
        pass
    messages: list[str] = []
    threading.Timer(0.3, released.set).start()
    started = time.monotonic()
    with writer_lock(tmp_path, "train", notify=messages.append):
        waited = time.monotonic() - started
        record = json.loads((tmp_path / LOCK_FILE).read_text())
    t.join()
    assert waited >= 0.2 and "waiting" in messages[0] and "features build" in messages[0]
    assert record["command"] == "train" and record["pid"] == os.getpid()


def test_lock_released_when_the_writer_dies(tmp_path: Path) -> None:
    code = (
        "import os, sys; from pathlib import Path; from configs.workspace_lock import writer_lock\n"
        f"with writer_lock(Path({str(tmp_path)!r}), 'ingest'):\n    os._exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False)
    assert done.returncode == 3
    with writer_lock(tmp_path, "train", wait=False):  # no stale lock left behind
        pass


def _cli(ws: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "grouppush.cli", "--workspace", str(ws), *args]


@pytest.mark.slow  # simulate + two full tiny builds: ~2 min on the shared machine
@pytest.mark.integration
def test_two_concurrent_feature_builds_on_tiny(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    env = {**os.environ, "FEAST_USAGE": "False"}
    sim = _cli(ws, "simulate", "--preset", "tiny")
    subprocess.run(sim, cwd=ROOT, env=env, check=True, capture_output=True)
    build = _cli(ws, "features", "build", "--full")
    first = subprocess.Popen(
        build, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    lock = ws / LOCK_FILE
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    busy = subprocess.run([*build, "--no-wait"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert busy.returncode == 1
    said = " ".join(busy.stderr.split())  # one message (rich may wrap it), no traceback
    assert "being written by `features build`" in said and "Traceback" not in said
    second = subprocess.run(build, cwd=ROOT, env=env, capture_output=True, text=True)
    out, err = first.communicate()
    assert first.returncode == 0, err.decode()[-2000:]
    assert second.returncode == 0, second.stderr[-2000:]
    assert "waiting for it to finish" in second.stderr
    built = json.loads((ws / "features" / "offline" / "_built.json").read_text(encoding="utf-8"))
    assert built


def test_next_writer_clears_temp_files_of_killed_runs(tmp_path: Path) -> None:
    data, feast = tmp_path / "data", tmp_path / "features" / "feast"
    (data / "truth").mkdir(parents=True)
    feast.mkdir(parents=True)
    leftovers = [
        data / ".orders.parquet.k2j3.tmp",
        data / "truth" / ".labels.parquet.tmp",
        feast / ".online_store.db.4242.loading",
    ]
    kept = [data / "orders.parquet", feast / "online_store.db", data / ".keep"]
    for path in [*leftovers, *kept]:
        path.write_bytes(b"x" * 1000)
    messages: list[str] = []
    with writer_lock(tmp_path, "ingest", notify=messages.append, clear=(data, feast)):
        assert not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in kept)
    assert messages == ["removed 3 temp file(s) of interrupted runs (0 MB)"]
