"""The operator page in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium) against a real `bentoml serve` on a tiny-preset workspace: search a group, open it,
and see the push list /push_lists gives for it. Screenshots go to tests/output/ui/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from configs.workspace import Workspace, resolve_workspace
from grouppush.runner import free_port, start_service, stop_service, wait_ready

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = Path(__file__).resolve().parents[1] / "output" / "ui"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="no chromium/chromedriver on PATH: apt-get install chromium chromium-driver",
    ),
]


def _cli(ws: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "grouppush.cli", "--workspace", str(ws), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def tiny_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The tiny preset simulated and featurised (no training: heuristic scores, fast)."""
    root = tmp_path_factory.mktemp("ui_tiny")
    _cli(root, "simulate", "--preset", "tiny", "--seed", "3")
    _cli(root, "features", "build")
    return resolve_workspace(root)


def _serve(ws: Workspace, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    env = {"GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS": "0", **env}
    proc = start_service(ws, "127.0.0.1", port, env, ws.root / f"serve-{port}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, timeout=300)
        yield url
    finally:
        stop_service(proc)


@pytest.fixture(scope="module")
def base_url(tiny_ws: Workspace) -> Iterator[str]:
    yield from _serve(tiny_ws, {})


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: object, css: str, timeout: float = 30.0) -> list:  # type: ignore[type-arg]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(  # type: ignore[no-any-return]
        lambda d: d.find_elements(By.CSS_SELECTOR, css) or False
    )


def _pushed_group(url: str, group_ids: list[str]) -> tuple[str, dict]:  # type: ignore[type-arg]
    """The first group whose push list has items, with /push_lists' answer for it."""
    for gid in group_ids:
        body = httpx.post(f"{url}/push_lists", json={"group_ids": [gid]}, timeout=60).json()
        if body["groups"][0]["items"]:
            return gid, body["groups"][0]
    raise AssertionError("no group of the tiny preset gets a push list")


def test_search_open_group_and_see_the_api_push_list(base_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    d = browser
    d.get(f"{base_url}/ui/")
    rows = _wait(d, "#groups-table tbody tr")
    all_ids = [r.get_attribute("data-group-id") for r in rows]
    assert len(all_ids) > 1
    d.save_screenshot(str(SHOTS / "groups.png"))
    gid, expected = _pushed_group(base_url, all_ids)

    d.find_element(By.ID, "search").send_keys(gid)
    _wait(d, f"#groups-table tbody tr[data-group-id='{gid}']")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(d, 30).until(
        lambda drv: len(drv.find_elements(By.CSS_SELECTOR, "#groups-table tbody tr")) < len(all_ids)
    )
    shown = d.find_elements(By.CSS_SELECTOR, "#groups-table tbody tr")
    assert all(gid.lower() in (r.get_attribute("data-group-id") or "").lower() for r in shown)
    d.find_element(By.CSS_SELECTOR, f"tr[data-group-id='{gid}'] a.group-link").click()

    items = _wait(d, ".push-item")
    assert d.current_url.endswith(f"/ui/groups/{gid}")
    members = [item.find_elements(By.CSS_SELECTOR, ".push-member") for item in items]
    page = [
        (item.get_attribute("data-product-id"), [m.get_attribute("data-user-id") for m in ms])
        for item, ms in zip(items, members, strict=True)
    ]
    api = [(i["product_id"], [m["user_id"] for m in i["members"]]) for i in expected["items"]]
    assert page == api
    assert d.find_elements(By.CSS_SELECTOR, "#members-table tbody tr")
    d.save_screenshot(str(SHOTS / "group.png"))

    for view, css in (
        ("models", "#online-empty, #online-table"),  # online conversion per model version
        ("data", "#personas-empty, #personas-table"),
    ):
        d.get(f"{base_url}/ui/{view}")
        _wait(d, css)
        assert not d.find_elements(By.ID, "error")
        d.save_screenshot(str(SHOTS / f"{view}.png"))


def test_browser_refused_without_the_key(tiny_ws: Workspace, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    for url in _serve(tiny_ws, {"GROUPPUSH__SERVING__API_KEY": "s3cret"}):
        d = browser
        d.get(f"{url}/ui/")
        _wait(d, "#login-form")
        assert not d.find_elements(By.ID, "groups-table")
        d.find_element(By.ID, "key").send_keys("wrong")
        d.find_element(By.ID, "login-form").submit()
        assert "not the service's API key" in _wait(d, "#login-message")[0].text
        d.find_element(By.ID, "key").send_keys("s3cret")
        d.find_element(By.ID, "login-form").submit()
        assert _wait(d, "#groups-table tbody tr")
        d.save_screenshot(str(SHOTS / "after-key.png"))
