"""Product and category names in push-list answers, reasons, warnings and the export; ids
where the products table has no name (or there is no products table)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from configs import columns as C
from configs.settings import load_settings
from configs.workspace import Workspace
from features.contract.io import write_parquet_atomic
from serving.export import export_push_lists
from serving.names import with_names
from tests.serving.conftest import point_env_at, write_workspace
from tests.serving.synthetic import AS_OF
from tests.serving.test_service import _app
from tests.serving.test_why import MEMBERS, _tables, _warnings

pytestmark = pytest.mark.integration

N_CATS, PER_CAT = 5, 4
UNNAMED_CAT = "c1"  # its products and the category itself have no names
# a reason that names a category (serving.explain)
CATEGORY_REASON = re.compile(
    r"^(?:bought (.+) (?:once|\d+ times) in 30 days|replenishment due: (.+) every \d+ days, last .*"
    r"|interested in categories related to (.+))$"
)


def _product_name(p: int) -> str:
    return f"Brightfield Oat milk {p} 1L"


def _named_products() -> pd.DataFrame:
    """The synthetic catalog (p{i} in c{i // PER_CAT}) with names, but none for UNNAMED_CAT."""
    cats = [f"c{i // PER_CAT}" for i in range(N_CATS * PER_CAT)]
    named = np.array(cats) != UNNAMED_CAT
    return pd.DataFrame(
        {
            C.PRODUCT_ID: [f"p{i}" for i in range(len(cats))],
            C.CATEGORY_ID: cats,
            C.PRODUCT_NAME: [_product_name(i) if n else None for i, n in enumerate(named)],
            C.CATEGORY_NAME: np.where(named, "Dairy " + pd.Series(cats), None),
        }
    )


def _workspace(root: Path, names: bool) -> Workspace:
    ws = write_workspace(root, n_users=150, n_cats=N_CATS, products_per_cat=PER_CAT, n_groups=3)
    products = _named_products()
    if not names:
        products = products[[C.PRODUCT_ID, C.CATEGORY_ID]]
    write_parquet_atomic(products, ws.data / "products.parquet")
    return ws


def _answer(ws: Workspace) -> dict:  # type: ignore[type-arg]
    with pytest.MonkeyPatch.context() as mp:
        point_env_at(mp, ws)
        with TestClient(_app(), raise_server_exceptions=False) as client:
            request = {"group_ids": ["g0", "g1"], "top_k": 10, "members_per_product": 30}
            r = client.post("/push_lists", json=request)
    assert r.status_code == 200, r.text
    return r.json()


def _named_categories(body: dict) -> list[str]:  # type: ignore[type-arg]
    found = []
    for group in body["groups"]:
        for item in group["items"]:
            for m in item["members"]:
                for reason in m["reasons"]:
                    hit = CATEGORY_REASON.match(reason)
                    if hit:
                        found.append(next(g for g in hit.groups() if g))
    return found


def test_push_list_items_and_reasons_use_names(tmp_path: Path) -> None:
    body = _answer(_workspace(tmp_path / "named", names=True))
    items = [it for g in body["groups"] for it in g["items"]]
    assert items
    for it in items:
        p = int(it["product_id"][1:])
        if it["category_id"] == UNNAMED_CAT:
            assert it["product_name"] is None and it["category_name"] is None
        else:
            assert it["product_name"] == _product_name(p)
            assert it["category_name"] == f"Dairy {it['category_id']}"
    said = _named_categories(body)
    assert said, "some member reason must name a category"
    assert any(s.startswith("Dairy c") for s in said)
    # a category without a name is said by its id, never as "None"
    assert UNNAMED_CAT in {it["category_id"] for it in items} and UNNAMED_CAT in said
    assert all(s.startswith("Dairy c") or s == UNNAMED_CAT for s in said)
    limits = [w for g in body["groups"] for w in g["warnings"] if w.startswith("category limit")]
    assert limits and all("Dairy c" in w for w in limits)  # warnings name categories too


def test_push_list_without_names_shows_ids(tmp_path: Path) -> None:
    body = _answer(_workspace(tmp_path / "plain", names=False))
    items = [it for g in body["groups"] for it in g["items"]]
    assert items
    assert all(it["product_name"] is None and it["category_name"] is None for it in items)
    said = _named_categories(body)
    assert said and all(re.fullmatch(r"c\d+", s) for s in said)


def test_export_writes_the_name_columns(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws", names=True)
    out = tmp_path / "push.parquet"
    export_push_lists(load_settings(), ws, None, out, show_progress=False)
    df = pd.read_parquet(out)
    pushes = df[df["action"] == "push"]
    assert len(pushes)
    named = pushes[pushes[C.CATEGORY_ID] != UNNAMED_CAT]
    assert len(named)
    expected = named[C.PRODUCT_ID].str[1:].astype(int).map(_product_name)
    assert (named[C.PRODUCT_NAME] == expected).all()
    assert (named[C.CATEGORY_NAME] == "Dairy " + named[C.CATEGORY_ID]).all()
    unnamed = pushes[pushes[C.CATEGORY_ID] == UNNAMED_CAT]
    assert unnamed[C.PRODUCT_NAME].isna().all() and unnamed[C.CATEGORY_NAME].isna().all()
    assert df.loc[df["action"] == "move", C.PRODUCT_NAME].isna().all()  # zombie rows


def test_warnings_name_products_and_fall_back_to_ids() -> None:
    """The short-list sentences (serving.why) name products by name, else id."""
    from serving.snapshot import SnapshotInputs, build_snapshot

    inputs = SnapshotInputs(push_cap_window_days=7, memberships=MEMBERS, as_of=AS_OF)
    snap = build_snapshot(_tables(), inputs)  # type: ignore[arg-type]
    names = pd.DataFrame(
        {
            C.PRODUCT_ID: ["s1", "s2", "s3"],
            C.CATEGORY_ID: ["k1", "k0", "k2"],
            C.PRODUCT_NAME: ["  ", "Dish soap 500ml", None],  # blank: no name
            C.CATEGORY_NAME: ["Oat milk", None, None],
        }
    )
    named = with_names(snap, names)
    assert _warnings(named, "gb", ["s2"]) == ["out of stock: Dish soap 500ml"]
    assert _warnings(named, "gb", ["s3"]) == [
        "no member signal: no member bought or showed interest in the category of s3"
    ]
    (w,) = _warnings(named, "ga", ["s1"])
    assert w.startswith("suppressed for recent buyers: s1 ")
    assert with_names(snap, None) is snap
