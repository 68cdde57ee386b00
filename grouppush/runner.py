"""Runs the BentoML service as a subprocess and drives the end-to-end demo."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from configs.settings import Settings
from configs.workspace import REPO_ROOT, Workspace
from configs.workspace_lock import writer_lock
from features.contract.table_commit import finish_commit

# a first start scores the push champion's warm pairs into the snapshot: minutes on a busy
# machine (206 s seen on demo at load ~10); the service reports it if it dies meanwhile
FIRST_START_SECONDS = 900.0


def service_command(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "serving.service:GroupPush",
        "--host",
        host,
        "--port",
        str(port),
    ]


def service_env(ws: Workspace, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The service's environment: the workspace, BentoML's home in it, and BentoML usage
    tracking off unless the caller's environment asks for it (BENTOML_DO_NOT_TRACK=false)."""
    env = dict(os.environ, GROUPPUSH_WORKSPACE=str(ws.root), **(extra_env or {}))
    env.setdefault("BENTOML_HOME", str(ws.root / ".bentoml"))
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    return env


def start_service(
    ws: Workspace,
    host: str,
    port: int,
    extra_env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `bentoml serve` on the workspace in its own process group."""
    env = service_env(ws, extra_env)
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        service_command(host, port),
        cwd=REPO_ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
    )


def stop_service(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    """Poll /readyz until the service answers 200 (it loads the snapshot and models first)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited early with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"service at {url} not ready after {timeout:.0f}s")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Stopped(Exception):
    """SIGTERM or SIGINT arrived: stop the service tree, then exit."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise Stopped in the main thread while the block runs, so the
    caller's cleanup stops the service: it runs in its own session (start_new_session), and
    Python's default SIGTERM would exit without it, leaving the server holding the port."""

    def handler(signum: int, _frame: object) -> None:
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve_forever(ws: Workspace, host: str = "127.0.0.1", port: int = 3000) -> int:
    """Run the service until it exits or this process gets SIGTERM/SIGINT (then the whole
    service tree is stopped before returning 0)."""
    url = f"http://{host}:{port}"
    with stop_on_signals():
        proc = start_service(ws, host, port)
        print(f"starting the service at {url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
        try:
            try:
                wait_ready(url, proc, timeout=FIRST_START_SECONDS)
                ready = f"ready: POST {url}/push_lists (OpenAPI: {url}/docs.json)"
                print(ready, file=sys.stderr, flush=True)
            except (RuntimeError, TimeoutError):
                pass  # it stopped (its code is reported below) or is still loading: keep waiting
            code = proc.wait()
        except (KeyboardInterrupt, Stopped):
            return 0
        finally:
            stop_service(proc)
    if code != 0:
        print(f"error: the service stopped with exit code {code} (log above)", file=sys.stderr)
    return code


def sample_group(ws: Workspace) -> str | None:
    """The largest non-zombie group as of the latest snapshot: a meaningful sample request."""
    import pandas as pd

    from features.store.offline_tables import offline_path

    path = offline_path(ws.offline, "group_stats")
    if not path.exists():
        return None
    groups = pd.read_parquet(path)
    if groups.empty:
        return None
    latest = groups[groups["event_timestamp"] == groups["event_timestamp"].max()]
    live = latest[latest["stage"] != "zombie"]
    pick = (live if not live.empty else latest).sort_values(
        ["n_members", "group_id"], ascending=[False, True]
    )
    return str(pick.iloc[0]["group_id"])


def run_demo(settings: Settings, ws: Workspace, port: int = 3000, keep_serving: bool = True) -> int:
    """simulate -> features build -> train -> serve -> one push-list request, printed."""
    from rich.console import Console

    console = Console()  # the sample request and its answer: the result, on stdout
    log = Console(stderr=True)  # the steps on the way
    # project imports in their own block: isort sections stay the same wherever ruff runs
    from features.compute.build import build_features
    from features.simulator.simulate import simulate
    from grouppush.progress import stage_lines
    from grouppush.summaries import build_lines, train_lines
    from grouppush.train_features import train_with_features

    step = _StepClock(log)
    folders = (ws.data, ws.quarantine, ws.offline, ws.feast)
    finish = lambda: finish_commit(ws.data)  # noqa: E731 - a cut-short ingest switch first
    with writer_lock(ws.root, "demo", notify=log.print, clear=folders, prepare=finish):
        step("1/4 simulate")
        counts = simulate(settings, ws.data, ws.truth, show_progress=True)
        log.print("simulated: " + ", ".join(f"{k}={v:,}" for k, v in counts.items()), markup=False)
        step("2/4 features build")
        built = build_features(settings, ws, None, show_progress=True)
        log.print("\n".join(build_lines(built)), markup=False)
        step("3/4 train")
        with stage_lines("train"):
            result = train_with_features(settings, ws, "all", None, show_progress=True)
        log.print("\n".join(train_lines(result)), markup=False)
    step("4/4 serve")
    host = "127.0.0.1"
    url = f"http://{host}:{port}"
    with stop_on_signals():
        return _serve_demo(console, log, ws, url, host, port, keep_serving, step)


class _StepClock:
    """Starts each demo step with a rule and ends the previous one with its wall and CPU
    seconds (this process's; the service's own CPU is its process's): where the main job's
    minutes go, without a profiler."""

    def __init__(self, log: Any) -> None:
        self.log, self.name, self.start = log, "", (0.0, 0.0)

    def __call__(self, name: str | None) -> None:
        now = (time.perf_counter(), time.process_time())
        if self.name:
            wall, cpu = now[0] - self.start[0], now[1] - self.start[1]
            self.log.print(f"{self.name}: {wall:.1f} s ({cpu:.1f} s CPU here)", markup=False)
        if name:
            self.log.rule(name)
        self.name, self.start = (name or ""), now


def _serve_demo(
    console: Any,
    log: Any,
    ws: Workspace,
    url: str,
    host: str,
    port: int,
    keep_serving: bool,
    step: Any = None,
) -> int:
    """Start the service, answer one sample request (printed), keep serving when asked."""
    import httpx

    proc = start_service(ws, host, port, log_path=ws.root / "service.log")
    try:
        wait_ready(url, proc, timeout=FIRST_START_SECONDS)
        body: dict[str, Any] = {
            "group_ids": [sample_group(ws)],
            "top_k": 5,
            "members_per_product": 5,
        }
        console.print(
            f"curl -s -X POST {url}/push_lists -H 'Content-Type: application/json' "
            f"-d '{json.dumps(body)}'"
        )
        answer = httpx.post(f"{url}/push_lists", json=body, timeout=60.0)
        console.print_json(answer.text)
        if step is not None:
            step(None)  # the serve step ends with the sample answer
        if answer.status_code != 200:
            log.print(f"[red]push_lists answered {answer.status_code}[/]")
            return 1
        if keep_serving:
            log.print(
                f"service running at {url} (logs: {ws.root / 'service.log'}); Ctrl-C stops it"
            )
            console.print(f"operator page: {url}/ui/")
            proc.wait()
        return 0
    except (KeyboardInterrupt, Stopped):
        return 0
    finally:
        stop_service(proc)
