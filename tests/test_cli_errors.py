"""A user's mistake ends in one line on stderr that says what to do, and a non-zero exit; never a
traceback (issue: a real shop's log runs end to end with no dead ends)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from configs.workspace import REPO_ROOT
from grouppush.cli import app
from grouppush.errors import UserError, one_line, quiet_library_warnings, set_debug

runner = CliRunner()

READERS = [
    ["features", "build"],
    ["train"],
    ["evaluate"],
    ["export", "scores", "--out", "s.parquet"],
    ["export", "segments", "--out", "s.csv"],
    ["export", "interest", "--out", "i.parquet"],
    ["export", "push-lists", "--out", "p.parquet"],
]


def _one_line_error(result: object, *needles: str) -> str:
    """The run failed with exactly one line on stderr, containing every needle."""
    assert result.exit_code != 0, result.output  # type: ignore[attr-defined]
    err = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def orders_ws(tmp_path: Path) -> Path:
    """A workspace with a few order lines and nothing else built."""
    ws = tmp_path / "ws"
    (ws / "data").mkdir(parents=True)
    pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "product_id": ["p1", "p2"],
            "ordered_at": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True),
            "quantity": [1.0, 2.0],
            "amount": [3.0, 4.0],
            "order_id": ["o1", "o2"],
            "group_id": ["g1", "g1"],
            "store_id": ["s1", "s1"],
        }
    ).to_parquet(ws / "data" / "orders.parquet")
    return ws


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_missing_workspace_is_one_line_and_never_created(tmp_path: Path, args: list[str]) -> None:
    ws = tmp_path / "mistyped"
    result = runner.invoke(app, ["--workspace", str(ws), *args])
    _one_line_error(result, "does not exist", "ingest", "simulate")
    assert not ws.exists()


@pytest.mark.parametrize("args", READERS[:4], ids=lambda a: " ".join(a[:2]))
def test_empty_workspace_says_how_to_get_orders(tmp_path: Path, args: list[str]) -> None:
    result = runner.invoke(app, ["--workspace", str(tmp_path), *args])
    line = _one_line_error(result, f"no orders in workspace {tmp_path}", "grouppush --workspace")
    assert "ingest --source" in line


def test_header_only_input_fails_at_ingest_and_at_build(tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    src.write_text("user_id,product_id,ordered_at,quantity,amount\n", encoding="utf-8")
    ws = tmp_path / "ws"
    result = runner.invoke(app, ["--workspace", str(ws), "ingest", "--source", str(src)])
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr
    assert "no order lines in" in result.stderr.strip().splitlines()[-1]
    result = runner.invoke(app, ["--workspace", str(ws), "features", "build"])
    _one_line_error(result, "orders table of workspace", "is empty", "ingest --source")


@pytest.mark.parametrize("kind", ["scores", "segments", "interest", "push-lists"])
def test_unsupported_out_suffix_is_checked_before_anything(tmp_path: Path, kind: str) -> None:
    ws = tmp_path / "not-there"  # the suffix is named even before the workspace is looked at
    result = runner.invoke(app, ["-w", str(ws), "export", kind, "--out", "x.xlsx"])
    _one_line_error(result, "--out x.xlsx", "'.xlsx'", ".parquet or .csv")
    assert not ws.exists()


@pytest.mark.integration
def test_no_champion_is_one_line(orders_ws: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["-w", str(orders_ws), "export", "scores", "--out", "s.csv"])
    _one_line_error(result, "champion", "train")
    assert not (tmp_path / "s.csv").exists()


def test_serve_refuses_a_workspace_without_features(orders_ws: Path) -> None:
    """Checked before BentoML starts: no worker restarting every 10 s, and a quick exit."""
    done = subprocess.run(
        [sys.executable, "-m", "grouppush.cli", "-w", str(orders_ws), "serve", "--port", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no feature tables" in lines[0] and "features build" in lines[0]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["-w", str(tmp_path / "x"), "--debug", "train"])
    assert isinstance(result.exception, UserError)  # re-raised: the runner saw the exception
    env = dict(os.environ, GROUPPUSH_DEBUG="1")
    done = subprocess.run(
        [sys.executable, "-m", "grouppush.cli", "-w", str(tmp_path / "x"), "train"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_unexpected_errors_name_their_type_and_the_debug_switch() -> None:
    assert one_line(UserError("no orders in\nW")) == "no orders in W"
    assert one_line(LookupError("no champion; run train")) == "no champion; run train"
    bug = one_line(KeyError("user_id"))
    assert bug.startswith("KeyError: 'user_id'") and "--debug" in bug
    assert one_line(FileNotFoundError(2, "No such file", "/x/y")) == "/x/y: not found"
    assert one_line(ValueError("log too short")).startswith("log too short (--debug")


def test_json_result_on_stdout_progress_on_stderr(tmp_path: Path) -> None:
    cfg = tmp_path / "small.yaml"
    cfg.write_text("simulate:\n  n_users: 300\n", encoding="utf-8")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "grouppush.cli", "-w", str(tmp_path / "ws")),
            *("--config", str(cfg), "simulate", "--preset", "tiny", "--seed", "3", "--json"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)  # nothing but the result on stdout
    assert counts["users"] == 300 and counts["orders"] > 0
    assert "simulating" in done.stderr  # the progress bar went to stderr
    assert "Warning" not in done.stderr


def test_library_deprecation_warnings_stay_hidden_after_a_library_refilters(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GROUPPUSH_DEBUG", raising=False)
    set_debug(False)
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")  # restored after the test
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *args, **kwargs: print(f"WARN {message}")
        quiet_library_warnings()
        warnings.simplefilter("once", DeprecationWarning)  # what `import feast` does
        warnings.warn("fetch_arrow_table() is deprecated", DeprecationWarning, stacklevel=1)
        warnings.warn("disk nearly full", RuntimeWarning, stacklevel=1)
    out = capsys.readouterr().out
    assert "deprecated" not in out and "WARN disk nearly full" in out
