"""The README stays true for a user: every command listed, the contract as the code has it, no
file outside the repository, and its example workspaces ignored by git."""

from __future__ import annotations

import re
import subprocess

import pytest

from configs.workspace import REPO_ROOT
from features.contract.schema import TABLES
from grouppush.cli import app

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    """Every command path of the CLI, e.g. `export push-lists`."""
    import typer.main

    root = typer.main.get_command(app)
    out: list[str] = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        out += [f"{name} {sub}" for sub in subs] if subs else [name]
    return out


def test_the_two_first_commands_stay() -> None:
    block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    assert "uv sync --frozen --compile-bytecode && uv run grouppush --workspace workspace demo" in (
        block
    )
    assert "uv run pytest" in block


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_listed(command: str) -> None:
    assert f"`grouppush {command}" in README, command


def test_no_reference_outside_the_repository() -> None:
    for text in (README, (REPO_ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")):
        assert "../shared" not in text and "/work/" not in text
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        if not link.startswith("http"):
            assert (REPO_ROOT / link).exists(), link


def test_contract_table_matches_the_schema() -> None:
    section = README.split("## Data contract", 1)[1].split("\n## ", 1)[0]
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| (\w+) \| (.+) \|$", section, flags=re.MULTILINE)
    }
    for name, table in TABLES.items():
        cells = [c.strip() for c in re.sub(r"\([^)]*\)", "", rows[name]).split(",")]
        listed = [c.split()[0].strip("*") for c in cells]
        bold = {c.split()[0].strip("*") for c in cells if c.startswith("**")}
        assert listed == table.names, name
        assert bold == set(table.required), name


def test_example_workspaces_are_ignored() -> None:
    names = set(re.findall(r"--workspace ([a-z]\w*)", README))
    assert names >= {"workspace", "ws"}
    for name in names:
        done = subprocess.run(
            ["git", "check-ignore", "-q", f"{name}/data/orders.parquet"],
            cwd=REPO_ROOT,
            check=False,
        )
        assert done.returncode == 0, f"{name}/ is not ignored by .gitignore"
