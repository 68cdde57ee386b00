"""Feedback closes the loop: fed-back pushes count toward the per-member push cap (in the
snapshot up to its mark, live after it, never twice) and outcomes reach /metrics and
`grouppush export feedback-eval`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from configs import columns as C
from configs.settings import load_settings
from configs.workspace import Workspace
from serving.feedback import FileFeedback
from serving.feedback_live import FEEDBACK_MARK, FeedbackTracker
from tests.serving.conftest import point_env_at, write_workspace
from tests.serving.test_service import _app

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).isoformat()


def _push(group: str, user: str | None, product: str = "p0", event: str = "pushed") -> dict:
    return {"event": event, "group_id": group, "user_id": user, "product_id": product, "at": NOW}


def _members(ws: Workspace, group: str) -> list[str]:
    m = pd.read_parquet(ws.data / "memberships.parquet")
    return sorted(m.loc[m[C.GROUP_ID] == group, C.USER_ID].astype(str).unique())


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return write_workspace(tmp_path / "ws", n_users=60, n_cats=4, products_per_cat=4, n_groups=3)


def test_snapshot_and_tracker_count_each_fed_back_push_once(ws: Workspace) -> None:
    from serving.loader import load_snapshot

    settings = load_settings("tiny")
    log = FileFeedback(ws.feedback)
    log.append([_push("g0", "u0"), _push("g0", "u0"), _push("g1", None)])
    snap = load_snapshot(ws, settings, champions=False)
    u0, u1 = snap.user_index["u0"], snap.user_index["u1"]  # u1 is in g1
    assert snap.extra[FEEDBACK_MARK] == log.read()[1]
    assert snap.push_counts[u0] == 2 and snap.push_counts[u1] == 1
    tracker = FeedbackTracker(log, settings.serving)
    assert tracker.adjust(snap).push_counts[u0] == 2  # nothing after the mark yet
    log.append([_push("g0", "u0")])
    assert tracker.catch_up() == (1, 1)
    live = tracker.adjust(snap)
    assert live.push_counts[u0] == 3 and live.push_counts[u1] == 1
    assert snap.push_counts[u0] == 2  # the loaded snapshot is never mutated
    reloaded = load_snapshot(ws, settings, champions=False)  # its mark covers the new push
    assert tracker.adjust(reloaded).push_counts[u0] == 3 == reloaded.push_counts[u0]


def _client(ws: Workspace, mp: pytest.MonkeyPatch) -> TestClient:
    point_env_at(mp, ws)
    return TestClient(_app(), raise_server_exceptions=False)


@pytest.fixture
def client(ws: Workspace) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as mp, _client(ws, mp) as c:
        yield c


def _push_list(c: TestClient, group: str, top_k: int = 5) -> dict:
    r = c.post("/push_lists", json={"group_ids": [group], "top_k": top_k})
    assert r.status_code == 200, r.text
    return r.json()["groups"][0]  # type: ignore[no-any-return]


def test_fed_back_pushes_cap_members_at_once(client: TestClient, ws: Workspace) -> None:
    cap = load_settings("tiny").serving.push_cap
    # fewer products than the cap: the answer's own pushes (which the push-cap reason counts
    # too) cannot cap anyone, so only fed-back pushes can
    before = _push_list(client, "g0", top_k=cap - 1)
    assert before["items"] and not any("push cap" in w for w in before["warnings"])
    events = [_push("g0", u) for u in _members(ws, "g0") for _ in range(cap)]
    assert client.post("/feedback", json={"events": events}).json()["accepted"] == len(events)
    after = _push_list(client, "g0", top_k=cap - 1)
    assert not after["items"]
    assert any("push cap" in w for w in after["warnings"])
    assert _push_list(client, "g1")["items"]  # other groups are untouched


def test_a_replayed_push_call_is_stored_and_counted_once(client: TestClient, ws: Workspace) -> None:
    """/feedback's idempotency key goes through the feedback log: a retry neither stores nor
    counts the pushes again (counted twice, cap - 1 pushes per member would cap the group)."""
    cap = load_settings("tiny").serving.push_cap
    events = [_push("g0", u) for u in _members(ws, "g0") for _ in range(cap - 1)]
    body = {"events": events, "idempotency_key": "campaign-17"}
    n = len(events)
    assert client.post("/feedback", json=body).json() == {"accepted": n, "replayed": False}
    assert client.post("/feedback", json=body).json() == {"accepted": n, "replayed": True}
    assert len(FileFeedback(ws.feedback).read()[0]) == n
    assert _push_list(client, "g0")["items"]  # cap - 1 pushes: still under the cap
    one_more = [_push("g0", u) for u in _members(ws, "g0")]
    assert client.post("/feedback", json={"events": one_more}).json()["accepted"] == len(one_more)
    assert not _push_list(client, "g0")["items"]


def _outcomes(members: list[str]) -> list[dict]:
    """Two members pushed p3, one of them clicked and ordered, one unpushed member ordered."""
    return [
        _push("g1", members[0], "p3"),
        _push("g1", members[1], "p3"),
        _push("g1", members[0], "p3", event="clicked"),
        _push("g1", members[0], "p3", event="ordered"),
        _push("g1", members[2], "p3", event="ordered"),
    ]


def test_outcomes_reach_the_export(client: TestClient, ws: Workspace) -> None:
    members = _members(ws, "g1")
    version = client.post("/push_lists", json={"group_ids": ["g1"]}).json()["model_version"]
    assert client.post("/feedback", json={"events": _outcomes(members)}).status_code == 200
    from grouppush.cli import app

    out = ws.root / "eval.csv"
    result = CliRunner().invoke(
        app, ["--workspace", str(ws.root), "export", "feedback-eval", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    row = table[table["model_version"] == version].iloc[0]
    assert (row["pushed_members"], row["pushed_ordered"], row["pushed_clicked"]) == (2, 1, 1)
    assert row["unpushed_members"] == len(members) - 2 and row["unpushed_ordered"] == 1


def test_outcomes_reach_metrics_over_http(ws: Workspace) -> None:
    """A real `bentoml serve` (Prometheus in multiprocess mode, as deployed)."""
    import httpx

    from grouppush.runner import free_port, start_service, stop_service, wait_ready

    port = free_port()
    env = {"GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS": "0"}
    proc = start_service(ws, "127.0.0.1", port, env, ws.root / "serve.log")
    url = f"http://127.0.0.1:{port}"
    members = _members(ws, "g1")
    log = ws.root / "serve.log"
    try:
        wait_ready(url, proc, timeout=300)
        # a generous read timeout: a loaded CI machine once took > 30 s on a first request;
        # a real hang still fails, with the server's log in the message
        with httpx.Client(base_url=url, timeout=120) as c:
            version = c.post("/push_lists", json={"group_ids": ["g1"]}).json()["model_version"]
            assert c.post("/feedback", json={"events": _outcomes(members)}).status_code == 200
            labels = f'arm="pushed",model_version="{version}"'
            expected = f"grouppush_feedback_conversion{{{labels}}} 0.5"
            # the evaluation runs in a background thread; a loaded CI machine once showed no
            # grouppush_ metric at all after 30 s, so wait longer (a real miss still fails)
            deadline = time.monotonic() + 180
            while True:
                text = c.get("/metrics").text
                if expected in text or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
    except httpx.TimeoutException as exc:
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
        raise AssertionError(f"{exc!r}; serve.log ends with:\n{tail}") from exc
    finally:
        stop_service(proc)
    ours = [line for line in text.splitlines() if line.startswith("grouppush_")]
    assert expected in ours, ours
    labels = f'arm="unpushed",model_version="{version}"'
    assert f"grouppush_feedback_members{{{labels}}} {len(members) - 2}.0" in ours, ours
    assert 'grouppush_feedback_events_total{event="ordered"} 2.0' in ours, ours
