"""Hot reload: moving the champion or rebuilding features changes the next answer's version."""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
import pytest
from starlette.testclient import TestClient

from configs import columns as C
from features.contract.io import write_parquet_atomic
from tests.serving.conftest import point_env_at, register_champion, write_workspace
from tests.serving.synthetic import AS_OF
from tests.serving.test_service import _app

pytestmark = pytest.mark.integration


def _answer(c: TestClient) -> dict:
    r = c.post("/push_lists", json={"group_ids": ["g0"], "top_k": 2})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _wait_for(c: TestClient, check, timeout: float = 90.0) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = _answer(c)
        if check(body):
            return body
        time.sleep(0.3)
    raise AssertionError(f"no reload within {timeout} s; last answer {body['model_version']}")


def test_champion_move_and_feature_rebuild_reload(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ws = write_workspace(tmp_path / "ws", n_users=120, n_cats=5, n_groups=2)
    register_champion(ws, "repurchase", seed=1)
    point_env_at(monkeypatch, ws, reload_seconds=0.2)
    with TestClient(_app(), raise_server_exceptions=False) as c:
        first = _answer(c)
        assert "repurchase:1" in first["model_version"]
        assert "interest:heuristic" in first["model_version"]
        register_champion(ws, "repurchase", seed=2)
        moved = _wait_for(c, lambda b: "repurchase:2" in b["model_version"])
        assert moved["as_of"] == AS_OF.isoformat()
        # a feature rebuild (new as-of rows appended to the offline history) reloads too
        path = ws.offline / "user_activity.parquet"
        df = pd.read_parquet(path)
        newer = df.assign(**{C.EVENT_TIMESTAMP: df[C.EVENT_TIMESTAMP] + timedelta(days=1)})
        write_parquet_atomic(pd.concat([df, newer], ignore_index=True), path)
        rebuilt = _wait_for(c, lambda b: b["as_of"] != AS_OF.isoformat())
        assert rebuilt["as_of"] == (AS_OF + timedelta(days=1)).isoformat()
