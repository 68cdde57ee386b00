"""Real servers for the scale-out tests, started and stopped here, bound to 127.0.0.1 only.

- `redis_url`: a throwaway `redis-server` (no persistence) on a free port.
- `mlflow_uri`: a `mlflow server` subprocess (SQLite backend + proxied artifacts in tmp).
- `tiny_data`: the tiny preset simulated once per session (contract tables only).
Tests that need a missing binary or package are skipped with the reason, never silently passed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from configs.settings import Settings, load_settings
from configs.workspace import resolve_workspace
from tests.scale.scale_helpers import LOOPBACK, free_port


def wait_until(
    ready: Callable[[], bool],
    proc: subprocess.Popen,
    timeout: float,
    what: str,
    log: Path | None = None,
) -> None:
    """Poll READY until true; fail with the server's log when it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if ready():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    stop(proc)
    raise RuntimeError(f"{what} did not start (exit code {proc.poll()}):\n{tail}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's own process group (its workers too), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of a fresh redis-server (Feast's connection-string format)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    import redis

    from features.store.redis_snapshot import local_server_command

    port = free_port()
    work = tmp_path_factory.mktemp("redis")
    log = work / "redis.log"  # written by the server
    proc = subprocess.Popen(
        local_server_command(port, work, exe),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = redis.Redis(host=LOOPBACK, port=port)
    try:
        wait_until(lambda: bool(client.ping()), proc, 20, "redis-server", log)
        yield f"{LOOPBACK}:{port}"
    finally:
        client.close()
        stop(proc)


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """http://127.0.0.1:N of a `mlflow server` with its own SQLite store and artifacts."""
    import httpx

    port = free_port()
    work = tmp_path_factory.mktemp("mlflow_server")
    log = work / "server.log"
    uri = f"http://{LOOPBACK}:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{work / 'mlflow.db'}",
                "--artifacts-destination",
                str(work / "artifacts"),
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=work,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: httpx.get(f"{uri}/health", timeout=2).status_code == 200,
            proc,
            120,
            "mlflow server",
            log,
        )
        yield uri
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def tiny_settings() -> Settings:
    """The tiny preset as shipped (3 training snapshots: train, validation, holdout)."""
    return load_settings("tiny")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory, tiny_settings: Settings) -> Path:
    """The tiny preset's contract tables, simulated once; copy them, never write here."""
    from features.simulator.simulate import simulate

    ws = resolve_workspace(tmp_path_factory.mktemp("tiny_source"))
    simulate(tiny_settings, ws.data, ws.truth, show_progress=False)
    return ws.data


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Spark standalone master and two workers on 127.0.0.1 (tests/scale/spark_cluster.py)."""
    pytest.importorskip("pyspark", reason="pyspark is the optional `spark` extra")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime (17+) on PATH")
    from tests.scale.spark_cluster import standalone_cluster

    with standalone_cluster(tmp_path_factory.mktemp("spark_cluster")) as cluster:
        yield cluster
