"""Redis online store: `features build` loads it, Feast reads it back, and two `bentoml serve`
replicas with no local files answer push-list requests from it (subprocesses: a real replica,
and BentoML's process-wide metrics stay out of this test process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from configs.settings import Settings, secret_value
from configs.workspace import Workspace, resolve_workspace
from tests.scale.scale_helpers import LOOPBACK, free_port, redis_hashes, workspace_with

pytestmark = pytest.mark.integration

USER_FEATURES = ["recency_days", "order_days_30d", "spend_180d", "identity_type", "tags"]


def _redis_settings(settings: Settings, redis_url: str) -> Settings:
    features = settings.features.model_copy(
        update={"online_store": "redis", "redis_connection_string": SecretStr(redis_url)}
    )  # SecretStr as the settings hold it (model_copy does not validate)
    return settings.model_copy(update={"features": features})


@pytest.fixture(scope="module")
def redis_build(
    tiny_data: Path,
    tiny_settings: Settings,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Workspace, Settings, dict]]:
    from features.compute.build import build_features

    ws = workspace_with(tiny_data, tmp_path_factory.mktemp("redis_ws"))
    settings = _redis_settings(tiny_settings, redis_url)
    summary = build_features(settings, ws, show_progress=False)
    yield ws, settings, summary


def test_build_loads_redis_and_feast_reads_latest_values(redis_build) -> None:  # type: ignore[no-untyped-def]
    from features.store.feast_store import get_store, latest_snapshot, online_features

    ws, settings, summary = redis_build
    assert summary["online"]["rows"] > 0
    assert not ws.feast_online.exists(), "the SQLite online store must not be used"
    offline = latest_snapshot(ws, "user_activity").set_index("user_id")
    keys = sorted(offline.index)[:: max(1, len(offline) // 40)]
    store = get_store(ws, settings.features)
    online = online_features(store, "user_activity", keys, USER_FEATURES).set_index("user_id")
    expected = offline.loc[keys, USER_FEATURES]
    for col in ("recency_days", "order_days_30d", "spend_180d"):
        np.testing.assert_allclose(
            online[col].astype(float),
            expected[col].astype(float),
            rtol=1e-9,
            equal_nan=True,
            err_msg=col,
        )
    for col in ("identity_type", "tags"):
        assert online[col].fillna("").tolist() == expected[col].fillna("").tolist(), col


def test_snapshot_published_to_redis(redis_build) -> None:  # type: ignore[no-untyped-def]
    from features.store.catalog import TABLES
    from features.store.feast_store import latest_snapshot
    from features.store.redis_snapshot import read_snapshot, redis_client

    ws, settings, summary = redis_build
    plain = secret_value(settings.features.redis_connection_string)
    tables, meta = read_snapshot(redis_client(plain))
    assert meta["as_of"] == summary["as_of"]
    assert set(TABLES) | {"memberships", "pushes", "products"} <= set(tables)
    assert tables["products"]["product_name"].notna().all()  # names reach replicas too
    local = latest_snapshot(ws, "product_stats").reset_index(drop=True)
    pd.testing.assert_frame_equal(tables["product_stats"].reset_index(drop=True), local)


def test_two_service_replicas_answer_from_redis(redis_build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two `bentoml serve` replicas whose workspaces hold no data and no feature files: the
    shared Redis is their only source, and they give the same answer."""
    import httpx

    from features.store.feast_store import latest_snapshot
    from grouppush.runner import start_service, stop_service, wait_ready

    ws, settings, summary = redis_build
    groups = latest_snapshot(ws, "group_stats")
    live = groups[groups["stage"].isin(["mid", "early", "late"])]
    group_id = live.sort_values("n_members", ascending=False)["group_id"].iloc[0]
    env = {
        "GROUPPUSH_PRESET": "tiny",
        "GROUPPUSH__FEATURES__ONLINE_STORE": "redis",
        "GROUPPUSH__FEATURES__REDIS_CONNECTION_STRING": secret_value(
            settings.features.redis_connection_string
        ),
        "GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS": "1",  # also reads others' feedback
    }
    replicas = []
    try:
        for i in range(2):
            root = resolve_workspace(tmp_path / f"replica{i}")
            port = free_port()
            proc = start_service(root, LOOPBACK, port, env, log_path=tmp_path / f"replica{i}.log")
            replicas.append((proc, f"http://{LOOPBACK}:{port}", root))
        bodies = []
        for proc, url, _ in replicas:
            wait_ready(url, proc, timeout=240)
            r = httpx.post(
                f"{url}/push_lists",
                timeout=30,
                json={"group_ids": [group_id], "top_k": 5, "members_per_product": 5},
            )
            assert r.status_code == 200, r.text
            bodies.append(r.json())
        capped = _push_cap_through_feedback(ws, settings, group_id, replicas[0][1], replicas[1][1])
    finally:
        for proc, _, _ in replicas:
            stop_service(proc)
    assert bodies[0]["as_of"] == summary["as_of"]
    group = bodies[0]["groups"][0]
    assert group["group_id"] == group_id and group["items"], group
    assert all(it["product_name"] and it["category_name"] for it in group["items"])
    assert bodies[0]["groups"] == bodies[1]["groups"]
    for _, _, root in replicas:
        assert not root.offline.exists() and not root.data.exists()
        assert not root.feedback.exists()  # feedback went to the Redis stream
    assert any("push cap" in w for w in capped["warnings"]) and not capped["items"], capped


def _push_cap_through_feedback(
    ws: Workspace, settings: Settings, group_id: str, first: str, second: str
) -> dict:
    """Pushes fed back to the FIRST replica cap the group's members on the SECOND."""
    import time
    from datetime import UTC, datetime

    import httpx

    m = pd.read_parquet(ws.data / "memberships.parquet")
    members = m.loc[m["group_id"].astype(str) == group_id, "user_id"].astype(str).unique()
    now = datetime.now(UTC).isoformat()
    events = [
        {"event": "pushed", "group_id": group_id, "user_id": u, "product_id": "x", "at": now}
        for u in members
        for _ in range(settings.serving.push_cap)
    ]
    r = httpx.post(f"{first}/feedback", json={"events": events}, timeout=30)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while True:
        body = httpx.post(f"{second}/push_lists", json={"group_ids": [group_id]}, timeout=30)
        group: dict = body.json()["groups"][0]
        if not group["items"] or time.monotonic() > deadline:
            return group
        time.sleep(0.5)


def test_bulk_redis_hashes_equal_feast_writers(redis_build) -> None:  # type: ignore[no-untyped-def]
    """Feast's writer and the bulk writer leave the same keys, fields and bytes (db 1 of the
    same server, so the module's build in db 0 stays as it is)."""
    from features.snapshots import default_as_of
    from features.store.feast_store import get_store
    from features.store.online import load_online
    from features.store.redis_snapshot import redis_client

    ws, settings, summary = redis_build
    url = SecretStr(f"{secret_value(settings.features.redis_connection_string)},db=1")
    as_of = date.fromisoformat(summary["as_of"])
    written = {}
    for writer in ("feast", "bulk"):
        redis_client(url).flushdb()
        cfg = settings.features.model_copy(
            update={"redis_connection_string": url, "online_writer": writer, "online_chunk_rows": 9}
        )
        out = load_online(get_store(ws, cfg), ws, as_of, cfg)
        assert out["rows"] > 0 and out["writer"] == writer
        written[writer] = redis_hashes(url)
    assert default_as_of(ws.data) == as_of
    assert len(written["bulk"]) > 100
    assert written["bulk"] == written["feast"]
