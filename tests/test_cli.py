"""The CLI front door: fast help, clear errors."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from grouppush.cli import app

runner = CliRunner()


def test_every_command_has_help_with_an_example() -> None:
    for args in (
        ["simulate"],
        ["ingest"],
        ["features", "build"],
        ["train"],
        ["evaluate"],
        ["export", "scores"],
        ["export", "interest"],
        ["export", "push-lists"],
        ["export", "feedback-eval"],
        ["serve"],
        ["demo"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example" in result.output


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from grouppush.cli import app; "
        "heavy = [m for m in ('feast', 'mlflow', 'bentoml', 'lightgbm', 'pandas') "
        "if m in sys.modules]; print(heavy); assert not heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_date_names_the_flag() -> None:
    result = runner.invoke(app, ["train", "--as-of", "2025-13-01"])
    assert result.exit_code != 0
    assert "--as-of" in result.output


def test_ingest_without_source_fails_clearly(tmp_path: object) -> None:
    result = runner.invoke(app, ["--workspace", str(tmp_path), "ingest"])
    assert result.exit_code == 1
