"""The models page's previous champion (registry tags `train` writes) and online conversion
per model version (the /feedback log through serving.feedback_eval)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from configs.workspace import Workspace
from serving.ui import sources
from serving.ui.views import online_payload
from tests.serving.conftest import register_champion, write_workspace
from tests.serving.test_service import _app


def test_tag_names_are_the_ones_train_writes() -> None:
    from training import registry

    assert (sources.PRIMARY_TAG, sources.PREVIOUS_TAG, sources.PREVIOUS_SCORE_TAG) == (
        registry.PRIMARY_TAG,
        registry.PREVIOUS_TAG,
        registry.PREVIOUS_SCORE_TAG,
    )


def test_empty_or_untracked_feedback_says_so() -> None:
    assert "no pushed events" in online_payload([], 7)["note"]
    assert "does not track" in online_payload(None, 7)["note"]
    assert online_payload([{"model_version": "m"}], 7)["note"] is None


@pytest.mark.integration
def test_registry_details_show_the_previous_champion(tmp_path: Path) -> None:
    from mlflow import MlflowClient
    from serving.models import REGISTERED

    ws = write_workspace(tmp_path, n_users=50, n_cats=3, products_per_cat=2, n_groups=2)
    register_champion(ws, "repurchase", seed=0)
    new = register_champion(ws, "repurchase", seed=1)
    uri = ws.mlflow_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = REGISTERED["repurchase"]
    for key, value in {"primary_metric": "auc", "auc": "0.750000", "as_of": "2025-12-01"}.items():
        client.set_model_version_tag(name, new, key, value)
    first = sources.registry_details(uri, {"repurchase": new})["repurchase"]
    assert first["previous_champion"] is None and first["trained_as_of"] == "2025-12-01"
    client.set_model_version_tag(name, new, sources.PREVIOUS_TAG, "1")
    client.set_model_version_tag(name, new, sources.PREVIOUS_SCORE_TAG, "0.700000")
    prev = sources.registry_details(uri, {"repurchase": new})["repurchase"]["previous_champion"]
    assert prev["version"] == "1" and prev["metric"] == "auc"
    assert prev["score"] == 0.7 and prev["champion_score"] == 0.75
    assert prev["delta"] == pytest.approx(0.05)


@pytest.fixture(scope="module")
def ui(service_env: Workspace) -> Iterator[TestClient]:
    with TestClient(_app(), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.integration
def test_online_conversion_per_model_version(ui: TestClient) -> None:
    version = f"ui-test-{datetime.now(UTC).timestamp():.0f}"  # its own row in a shared log
    members = [m["user_id"] for m in ui.get("/ui/api/groups/g1").json()["members"]][:4]
    size = ui.get("/ui/api/groups/g1").json()["members_total"]
    now = datetime.now(UTC).isoformat()
    event = {"group_id": "g1", "product_id": "p-ui", "at": now, "model_version": version}
    events = [{**event, "user_id": u, "event": "pushed"} for u in members]
    events += [{**event, "user_id": members[0], "event": "ordered"}]
    assert ui.post("/feedback", json={"events": events}).status_code == 200
    online = ui.get("/ui/api/models").json()["online"]
    row = next(v for v in online["versions"] if v["model_version"] == version)
    assert (row["pushes"], row["pushed_members"], row["pushed_ordered"]) == (1, 4, 1)
    assert row["pushed_conversion"] == pytest.approx(0.25)
    assert row["unpushed_members"] == size - 4 and row["unpushed_conversion"] == 0
    assert row["uplift"] == pytest.approx(0.25)
    assert online["note"] is None and online["window_days"] > 0


@pytest.mark.integration
def test_data_page_shows_exported_personas(ui: TestClient, service_env: Workspace) -> None:
    import numpy as np
    import pandas as pd

    from configs import columns as C
    from configs.settings import TrainingSettings
    from training.export import _write_summary
    from training.segments import build_segments

    path = service_env.reports / "segments.json"
    assert not path.exists()
    assert "export segments" in ui.get("/ui/api/data").json()["exported_segments"]["note"]
    rng = np.random.default_rng(0)
    interest = pd.DataFrame(
        {
            C.USER_ID: [f"u{i}" for i in range(40)],
            "interest_categories": [["c0", "c1", "c2"]] * 40,
            "interest_scores": [list(rng.dirichlet([0.5] * 3)) for _ in range(40)],
        }
    )
    segments = build_segments(interest, None, TrainingSettings(n_personas=3))
    try:
        _write_summary(service_env, segments, "2025-12-01")
        shown = ui.get("/ui/api/data").json()["exported_segments"]
    finally:
        path.unlink()
    personas = segments[segments["segment_kind"] == "persona"]
    assert {p["segment_id"]: p["members"] for p in shown["personas"]} == (
        personas.groupby(C.SEGMENT_ID).size().to_dict()
    )
    assert all(p["description"] and p["name"].startswith("persona") for p in shown["personas"])
    assert shown["as_of"] == "2025-12-01" and shown["note"] is None
    assert {o["kind"] for o in shown["others"]} == {"category"}
