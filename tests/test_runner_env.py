"""The service's environment: BentoML usage tracking off unless asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from configs.workspace import resolve_workspace
from grouppush.runner import service_env


def test_usage_tracking_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENTOML_DO_NOT_TRACK", raising=False)
    ws = resolve_workspace(tmp_path)
    env = service_env(ws)
    assert env["BENTOML_DO_NOT_TRACK"] == "true" and env["GROUPPUSH_WORKSPACE"] == str(ws.root)
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "false")  # an operator's explicit choice wins
    assert service_env(ws)["BENTOML_DO_NOT_TRACK"] == "false"
