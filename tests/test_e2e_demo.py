"""The README's main command, end to end, on the tiny preset: simulate -> features -> models ->
a real `bentoml serve` subprocess answering a push-list request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grouppush.runner import free_port


@pytest.mark.integration
def test_demo_main_job_on_tiny_preset(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    port = free_port()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grouppush.cli",
            "--workspace",
            str(ws),
            "demo",
            "--preset",
            "tiny",
            "--seed",
            "3",
            "--port",
            str(port),
            "--no-keep-serving",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "curl -s -X POST" in proc.stdout
    # the printed answer is the service's JSON: it names the model version and the group asked for
    answer = proc.stdout[proc.stdout.index("curl -s -X POST") :]
    body = answer[answer.index("{") :]
    assert '"model_version"' in body and '"groups"' in body
    assert (ws / "data" / "orders.parquet").exists()
    assert (ws / "mlflow" / "mlflow.db").exists()
