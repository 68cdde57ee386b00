"""SIGTERM / SIGINT to a real `grouppush serve` stop the whole tree and free the port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from configs.workspace import Workspace
from grouppush.runner import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited early"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("not ready")


@pytest.fixture(scope="module")
def serve_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A serving workspace that passes `grouppush serve`'s preflight (orders present, feature
    tables built); no champions: the stop does not depend on the models."""
    import pandas as pd

    from configs import columns as C
    from features.contract.io import write_parquet_atomic
    from tests.serving.conftest import write_workspace

    ws = write_workspace(
        tmp_path_factory.mktemp("clean_stop"), n_users=60, n_cats=4, products_per_cat=4, n_groups=3
    )
    order = {C.ORDER_ID: ["o1"], C.USER_ID: ["u0"], C.ORDERED_AT: [pd.Timestamp("2025-12-01")]}
    write_parquet_atomic(pd.DataFrame(order), ws.data / "orders.parquet")
    return ws


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_service_tree(serve_ws: Workspace, sig: signal.Signals) -> None:
    import psutil

    port = free_port()
    env = {
        **os.environ,
        "GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS": "0",
        "BENTOML_HOME": str(serve_ws.root / ".bentoml"),
    }
    cmd = [sys.executable, "-m", "grouppush.cli", "--workspace", str(serve_ws.root)]
    proc = subprocess.Popen([*cmd, "serve", "--port", str(port)], cwd=ROOT, env=env)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc)
        tree = _descendants(proc.pid)
        assert tree, "the BentoML server runs as a child"
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while any(psutil.pid_exists(p) for p in tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = [p for p in tree if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
        assert not alive, alive
        with socket.socket() as s:  # the port is free for the next start
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    finally:
        if proc.poll() is None:
            proc.kill()
