"""`bentoml build` packs the service into a Bento without the network, and `bentoml serve <tag>`
starts it against a workspace: push lists answer, /docs.json carries GroupPush's info.

The build runs in a network namespace of its own when `unshare -rn` is allowed, so a build
that reached for PyPI (package locking) fails here instead of passing on a connected box.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from configs.workspace import REPO_ROOT, Workspace
from grouppush.runner import free_port, stop_service, wait_ready

pytestmark = pytest.mark.integration

UV_EXPORT = [
    "uv",
    "export",
    "--frozen",
    "--no-dev",
    "--no-hashes",
    "--no-emit-project",
    "--format",
    "requirements.txt",
]


def _pins(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if "==" in line and not line.startswith("#"))


def test_bento_requirements_are_the_lock_files_pins() -> None:
    """requirements.txt (what the Bento installs) is `uv export` of uv.lock, pin for pin."""
    if shutil.which("uv") is None:
        pytest.skip("uv is not on PATH")
    exported = subprocess.run(
        UV_EXPORT, cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    committed = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert _pins(committed) == _pins(exported), (
        "requirements.txt is out of date: run `" + " ".join(UV_EXPORT) + " -o requirements.txt`"
    )


def _offline_prefix() -> list[str]:
    """`unshare -rn` (a private network namespace: loopback only) when the kernel allows it."""
    exe = shutil.which("unshare")
    if exe and subprocess.run([exe, "-rn", "true"], capture_output=True).returncode == 0:
        return [exe, "-rn"]
    return []


@pytest.fixture(scope="module")
def bento(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    home = tmp_path_factory.mktemp("bentoml_home")
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    done = subprocess.run(
        [*_offline_prefix(), sys.executable, "-m", "bentoml", "build", ".", "-o", "tag"],
        cwd=REPO_ROOT,  # bentoml reads bentofile.yaml and the sources from the build context
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"bentoml build failed:\n{done.stdout[-3000:]}\n{done.stderr}"
    found = re.search(r"__tag__:(\S+)", done.stdout)
    assert found, done.stdout
    return found.group(1), env


def test_the_bento_carries_code_and_settings_only(bento: tuple[str, dict[str, str]]) -> None:
    tag, env = bento
    name, version = tag.split(":")
    src = Path(env["BENTOML_HOME"]) / "bentos" / name / version / "src"
    for needed in ("serving/service.py", "features/store/catalog.py", "configs/base.yaml"):
        assert (src / needed).exists(), needed
    assert (src / "configs/presets/tiny.yaml").exists()
    assert not (src / "training").exists()  # serving never imports training code
    assert not list(src.rglob("*.parquet")) and not list(src.rglob("*.db"))
    reqs = (src.parent / "env/python/requirements.txt").read_text(encoding="utf-8")
    assert "feast==" in reqs and "bentoml==" in reqs


@pytest.fixture(scope="module")
def served(bento: tuple[str, dict[str, str]], serving_ws: Workspace) -> Iterator[str]:
    tag, env = bento
    port = free_port()
    env = {
        **env,
        "GROUPPUSH_WORKSPACE": str(serving_ws.root),
        "GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS": "0",
    }
    log = open(serving_ws.root / "bento_serve.log", "ab")  # noqa: SIM115 - the child's output
    home = Path(env["BENTOML_HOME"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "bentoml", "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
        cwd=home,  # not the repo: the code comes from the Bento
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, timeout=180)
        yield url
    finally:
        stop_service(proc)
        log.close()


def test_bento_serves_push_lists_from_the_workspace(served: str) -> None:
    """The README's typed client call, against the Bento."""
    import bentoml

    from serving.schemas import PushListResponse

    with bentoml.SyncHTTPClient(served, server_ready_timeout=60) as client:
        raw = client.push_lists(group_ids=["g0"], top_k=3, members_per_product=5)
        answer = PushListResponse.model_validate(raw)
        scores = client.repurchase_scores(user_ids=["u1", "u2"])
    assert answer.groups[0].group_id == "g0"
    assert 0 < len(answer.groups[0].items) <= 3
    assert [s["user_id"] for s in scores["scores"]] == ["u1", "u2"]


def test_openapi_document_is_grouppushs(served: str) -> None:
    doc = httpx.get(f"{served}/docs.json", timeout=30).json()
    with (REPO_ROOT / "pyproject.toml").open("rb") as fh:
        version = tomllib.load(fh)["project"]["version"]
    assert doc["info"]["title"] == "GroupPush"
    assert doc["info"]["version"] == version != "None"
    assert "BentoML" not in doc["info"]["description"]
    assert "slow-moving" in doc["info"]["description"]
    schemas = doc["components"]["schemas"]
    request = schemas["PushListRequestIODescriptor"]["properties"]
    assert "members to target" in request["members_per_product"]["description"]
    member = schemas["MemberOut"]["properties"]
    assert member["reasons"]["description"]
    assert set(doc["paths"]) >= {"/push_lists", "/feedback", "/repurchase_scores", "/segments"}
