"""`grouppush export push-lists` with 0 rows says why on stderr; the exit code tells a real
empty answer (0) from data that cannot give one (1)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from configs.settings import load_settings
from grouppush.cli import app
from tests.features.feature_data import AS_OF, build_offline, orders_frame

runner = CliRunner()


def _steady_orders(group: bool) -> pd.DataFrame:
    """Four members buying one product at a steady pace for 120 days: nothing is slow."""
    days = [AS_OF - timedelta(days=d) for d in range(1, 121)]
    rows = [(f"u{d.day % 4}", "steady", f"{d.isoformat()}T09:00:00Z", 1, 2.0) for d in days]
    orders = orders_frame(rows)
    if group:
        orders["group_id"] = "g1"
    return orders


def _export(root: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    out = tmp_path / "push.csv"
    args = ["--workspace", str(root), "export", "push-lists", "--as-of", AS_OF.isoformat()]
    return runner.invoke(app, [*args, "--out", str(out)])


@pytest.mark.integration
def test_no_slow_movers_is_a_legitimate_empty_export(tmp_path: Path) -> None:
    settings = load_settings("tiny")
    build_offline(tmp_path / "ws", {"orders": _steady_orders(group=True)}, [AS_OF], settings)
    result = _export(tmp_path / "ws", tmp_path)
    assert result.exit_code == 0, result.output
    assert "0 rows" in result.stdout
    lines = result.stderr.splitlines()  # a progress bar may come first (stderr)
    assert any(line.startswith("note: no inventory feed:") for line in lines)
    assert "1 of 1 groups: no slow movers: no inventory feed" in result.stderr


@pytest.mark.integration
def test_no_groups_fails_with_the_reason(tmp_path: Path) -> None:
    settings = load_settings("tiny")
    build_offline(tmp_path / "ws", {"orders": _steady_orders(group=False)}, [AS_OF], settings)
    result = _export(tmp_path / "ws", tmp_path)
    assert result.exit_code == 1
    assert "no groups: the data has no groups" in result.stderr
