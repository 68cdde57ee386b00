"""The service through its ASGI app with a trained push champion on tiny data: a member who
keeps buying the requested product is targeted first, and the reasons say so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from configs.workspace import Workspace
from features.contract.io import write_parquet_atomic
from modelinput import push_pairs as pp
from tests.serving.conftest import point_env_at, register_champion, write_workspace
from tests.serving.synthetic import AS_OF

pytestmark = pytest.mark.integration
PRODUCT = "p1"  # category c0 in the synthetic catalog (4 products per category)


def _orders(users: list[str], seed: int = 3) -> pd.DataFrame:
    """Every user buys a few products of c0/c1 now and then; u5 buys PRODUCT every 9 days."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(AS_OF, tz="UTC")
    rows = []
    for u in users:
        for _ in range(rng.integers(2, 8)):
            rows.append(
                (u, f"p{rng.integers(0, 8)}", t0 - timedelta(days=int(rng.integers(1, 200))))
            )
    rows += [("u5", PRODUCT, t0 - timedelta(days=9 * k + 2)) for k in range(12)]
    frame = pd.DataFrame(rows, columns=[C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT])
    frame[C.QUANTITY] = 1.0
    frame[C.AMOUNT] = 3.0
    return frame


def _register_push(ws: Workspace, orders: pd.DataFrame, members: pd.DataFrame) -> None:
    """Fit a small model on pair features as of AS_OF - 28 days (labels: the next 28 days),
    register it as the push champion with its cold rate."""
    import tempfile

    import mlflow.sklearn
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from mlflow import MlflowClient
    from training.push import FEATURE_SERVICE

    day = AS_OF - timedelta(days=28)
    products = pd.DataFrame({C.PRODUCT_ID: [f"p{i}" for i in range(8)]})
    orders = orders.assign(**{C.CATEGORY_ID: np.where(orders[C.PRODUCT_ID] < "p4", "c0", "c1")})
    h = pp.push_history(orders, day)
    m, _, sizes = pp.member_groups(members, h, day)
    targets = np.arange(len(h.products))
    edges = pp.substitutes(h, targets)
    warm = pp.warm_pairs(h, targets, edges).merge(m, on="u")
    f = pp.pair_features(h, warm, edges, pp.group_buyers(h, m, targets), sizes)
    t = pd.Timestamp(day, tz="UTC")
    window = orders[(orders[C.ORDERED_AT] >= t) & (orders[C.ORDERED_AT] < t + timedelta(28))]
    bought = set(zip(window[C.USER_ID], window[C.PRODUCT_ID], strict=True))
    y = [(h.users[u], h.products[p]) in bought for u, p in zip(f.u, f.p, strict=True)]
    cols = list(pp.PUSH_FEATURES)
    model = Pipeline(
        [
            ("impute", SimpleImputer(keep_empty_features=True)),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    model.fit(f[cols], np.asarray(y, dtype=int))
    del products
    uri = f"sqlite:///{(ws.mlflow / 'mlflow.db').resolve()}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name("serving-tests").experiment_id
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "cold_rate", 0.01)
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.sklearn.save_model(model, f"{tmp}/model", serialization_format="cloudpickle")
        client.log_artifacts(run.info.run_id, f"{tmp}/model", "model")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("grouppush_push")
    mv = client.create_model_version(
        "grouppush_push",
        f"{run.info.artifact_uri}/model",
        run.info.run_id,
        tags={"feature_service": FEATURE_SERVICE},
    )
    client.set_registered_model_alias("grouppush_push", "champion", mv.version)


@pytest.fixture(scope="module")
def push_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root: Path = tmp_path_factory.mktemp("push_ws")
    ws = write_workspace(
        root, n_users=60, n_cats=6, products_per_cat=4, n_groups=3, zombie_groups=0
    )
    register_champion(ws, "repurchase")
    register_champion(ws, "interest")
    members = pd.read_parquet(ws.data / "memberships.parquet")
    orders = _orders(sorted(members[C.USER_ID].unique()))
    write_parquet_atomic(orders, ws.data / "orders.parquet")
    catalog = pd.DataFrame({C.PRODUCT_ID: [f"p{i}" for i in range(24)]})
    catalog[C.CATEGORY_ID] = [f"c{i // 4}" for i in range(24)]
    write_parquet_atomic(catalog, ws.data / "products.parquet")
    _register_push(ws, orders, members)
    with pytest.MonkeyPatch.context() as mp:
        point_env_at(mp, ws)
        yield ws


def test_push_champion_targets_the_repeat_buyer(push_env: Workspace) -> None:
    from tests.serving.test_service import _client

    members = pd.read_parquet(push_env.data / "memberships.parquet")
    group = str(members.loc[members[C.USER_ID] == "u5", C.GROUP_ID].iloc[0])
    with _client() as client:
        r = client.post(
            "/push_lists",
            json={"group_ids": [group], "product_ids": [PRODUCT], "members_per_product": 5},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "push:1" in body["model_version"]
    first = body["groups"][0]["items"][0]["members"][0]
    assert first["user_id"] == "u5"
    assert first["reasons"][0].startswith("bought this 12 times, last 2 days ago")
    assert "usually every 9 days" in first["reasons"][0]
