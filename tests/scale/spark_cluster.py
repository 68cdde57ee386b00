"""A real Spark standalone cluster on loopback, started from the installed pyspark.

One master and N workers (`spark-class org.apache.spark.deploy.master.Master` / `...Worker`),
each its own process group so stopping it also stops the executors it launched. Workers run
the test's own Python for the Pandas UDFs (PYSPARK_PYTHON), so executors import the same
numpy/pandas code as the driver. Used by tests/scale/conftest.py and the driver-memory
benchmark (benchmarks/bench_spark_driver.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.scale.scale_helpers import LOOPBACK, free_port


@dataclass(frozen=True)
class Cluster:
    """A running standalone cluster: its master URL and the Spark settings a driver needs."""

    master: str
    ui: str
    workers: int

    def driver_conf(self, executor_memory: str = "512m") -> dict[str, str]:
        """Driver-side settings: loopback only, one small executor per worker."""
        return {
            "spark.driver.host": LOOPBACK,
            "spark.driver.bindAddress": LOOPBACK,
            "spark.executor.memory": executor_memory,
            "spark.executor.cores": "1",
            "spark.cores.max": str(self.workers),
            "spark.pyspark.python": sys.executable,
        }


def spark_home() -> Path:
    """The Spark distribution that ships inside the pyspark wheel."""
    import pyspark

    return Path(pyspark.__file__).parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_LOCAL_IP=LOOPBACK,
        SPARK_NO_DAEMONIZE="1",
        PYSPARK_PYTHON=sys.executable,
        # the repo root, so executors unpickle UDFs that reference features.* modules
        PYTHONPATH=os.pathsep.join(p for p in [str(Path.cwd()), env.get("PYTHONPATH", "")] if p),
    )
    return env


@contextmanager
def _process(args: list[str], log: Path) -> Iterator[subprocess.Popen]:
    from tests.scale.conftest import stop

    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop(proc)


def _alive_workers(ui: str) -> int:
    with urllib.request.urlopen(f"{ui}/json/", timeout=2) as resp:  # noqa: S310 - loopback
        state = json.load(resp)
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


@contextmanager
def standalone_cluster(
    work: Path, workers: int = 2, worker_memory: str = "1g", timeout: float = 90
) -> Iterator[Cluster]:
    """Start a master and WORKERS workers under WORK, yield once all are registered, stop all."""
    from tests.scale.conftest import wait_until

    work.mkdir(parents=True, exist_ok=True)
    port, ui_port = free_port(), free_port()
    master = f"spark://{LOOPBACK}:{port}"
    ui = f"http://{LOOPBACK}:{ui_port}"
    with ExitStack() as stack:
        log = work / "master.log"
        proc = stack.enter_context(
            _process(
                [
                    "org.apache.spark.deploy.master.Master",
                    *("--host", LOOPBACK, "--port", str(port), "--webui-port", str(ui_port)),
                ],
                log,
            )
        )
        wait_until(lambda: _alive_workers(ui) >= 0, proc, timeout, "Spark master", log)
        procs = []
        for i in range(workers):
            wdir = work / f"worker{i}"
            wdir.mkdir(parents=True, exist_ok=True)
            args = ["org.apache.spark.deploy.worker.Worker", master]
            args += ["--host", LOOPBACK, "--webui-port", str(free_port()), "--cores", "1"]
            args += ["--memory", worker_memory, "--work-dir", str(wdir)]
            procs.append(stack.enter_context(_process(args, work / f"worker{i}.log")))
        deadline = time.monotonic() + timeout
        for i, wproc in enumerate(procs):
            left = max(deadline - time.monotonic(), 1.0)
            log = work / f"worker{i}.log"
            wait_until(lambda n=i: _alive_workers(ui) > n, wproc, left, f"Spark worker {i}", log)
        yield Cluster(master=master, ui=ui, workers=workers)
