"""Batch push-list export over every group of a workspace."""

from __future__ import annotations

import pandas as pd
import pytest

from configs.settings import load_settings
from serving.export import export_push_lists
from serving.feedback import append_feedback, read_feedback
from tests.serving.conftest import write_workspace
from tests.serving.synthetic import AS_OF


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export_all_groups(tmp_path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    ws = write_workspace(tmp_path / "ws", n_users=150, n_cats=5, n_groups=3)
    out = tmp_path / f"push{suffix}"
    settings = load_settings(overrides={"serving": {"push_cap": 2}})
    n = export_push_lists(settings, ws, None, out, show_progress=False)
    df = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert n == len(df) > 0
    assert set(df["group_id"]) == {"g0", "g1", "g2"}
    assert set(df.loc[df["group_id"] == "g2", "action"]) == {"move"}  # the zombie group
    pushes = df[df["action"] == "push"]
    assert pushes.groupby("user_id").size().max() <= 2  # the cap spans the whole export
    assert (pushes["reasons"].str.len() > 0).all()
    assert str(df["as_of"].iloc[0])[:10] == AS_OF.isoformat()
    with pytest.raises(ValueError, match="no rows as of"):
        export_push_lists(settings, ws, AS_OF.replace(year=2020), out, show_progress=False)


def test_feedback_appends_whole_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    events = [{"group_id": "g0", "product_id": "p1", "event": "pushed", "at": "2025-12-01"}]
    assert append_feedback(tmp_path, events * 3) == 3
    assert append_feedback(tmp_path, []) == 0
    assert append_feedback(tmp_path, events) == 1
    assert [e["event"] for e in read_feedback(tmp_path)] == ["pushed"] * 4
