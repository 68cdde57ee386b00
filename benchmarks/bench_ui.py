"""Operator-page latency: its JSON endpoints over HTTP on loopback (issue 19's budget: the group
list and one group's page under 100 ms p99).

Starts `bentoml serve serving.service:GroupPush` on a workspace, then requests, one at a time
(an operator's browser, not a load test): the whole groups list, a filtered list (search +
stage), and the pages of the largest live groups in turn (members with tags + the push-list
preview with its default top 10 x 20 members). The first request of each kind is reported
apart (cold: the side tables are read once per snapshot). Writes p50/p95/p99 per endpoint to
benchmarks/results/ui_<preset>.json. With --screenshot PATH, also saves a headless Chromium
screenshot of the largest group's page there (the README's picture).

    .venv/bin/python benchmarks/bench_ui.py --workspace /tmp/ws_demo --preset demo
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs.workspace import resolve_workspace  # noqa: E402
from grouppush.runner import free_port, start_service, stop_service, wait_ready  # noqa: E402

TARGET_P99_MS = 100.0


def timed(client, path: str, n: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Latency percentiles (ms) of N sequential GETs of PATH (paths cycled when a list)."""
    paths = path if isinstance(path, list) else [path]
    ms = []
    for i in range(n):
        t = time.perf_counter()
        r = client.get(paths[i % len(paths)])
        ms.append((time.perf_counter() - t) * 1e3)
        if r.status_code != 200:
            raise RuntimeError(f"{paths[i % len(paths)]}: HTTP {r.status_code} {r.text[:200]}")
    a = np.asarray(ms)
    return {
        "n": n,
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "max_ms": round(float(a.max()), 2),
    }


def screenshot(url: str, path: Path) -> None:
    """The page at URL in headless Chromium (Debian's chromium + chromium-driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,860"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        driver.get(url)
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".push-item"))
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    finally:
        driver.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", default=os.environ.get("GROUPPUSH_WORKSPACE"))
    ap.add_argument("--preset", default="demo", help="names the results file")
    ap.add_argument("--requests", type=int, default=300, help="per endpoint")
    ap.add_argument("--groups", type=int, default=10, help="largest live groups whose pages run")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--screenshot", type=Path, default=None)
    args = ap.parse_args()
    if not args.workspace:
        ap.error("--workspace (or GROUPPUSH_WORKSPACE) is required")
    import httpx

    root = Path(args.workspace).resolve()
    load_before = round(os.getloadavg()[0], 2)  # the machine is shared: read figures with it
    scratch = Path(tempfile.mkdtemp(prefix="bench_ui_"))
    port = free_port()
    env = {
        "GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS": "0",
        "BENTOML_HOME": str(scratch / "bentoml"),
    }
    proc = start_service(resolve_workspace(root), "127.0.0.1", port, env, scratch / "serve.log")
    url = f"http://127.0.0.1:{port}"
    out: dict[str, object] = {}
    try:
        wait_ready(url, proc, timeout=1800)
        with httpx.Client(base_url=url, timeout=120) as c:
            t = time.perf_counter()
            rows = c.get("/ui/api/groups", params={"limit": 100_000}).json()
            cold_list = (time.perf_counter() - t) * 1e3
            live = sorted(
                (r for r in rows["rows"] if r["stage"] != "zombie"), key=lambda r: -r["members"]
            )[: args.groups]
            pages = [f"/ui/api/groups/{r['group_id']}" for r in live]
            t = time.perf_counter()
            first = c.get(pages[0]).json()
            cold_page = (time.perf_counter() - t) * 1e3
            stage = live[0]["stage"]
            out = {
                "groups_list": timed(c, "/ui/api/groups", args.requests),
                "groups_search": timed(c, f"/ui/api/groups?q=1&stage={stage}", args.requests),
                "group_page": timed(c, pages, args.requests),
                "cold_first_ms": {
                    "groups_list": round(cold_list, 1),
                    "group_page": round(cold_page, 1),
                },
                "groups_total": rows["total"],
                "pages_of": [r["group_id"] for r in live],
                "members_of_pages": [r["members"] for r in live],
                "push_items_first_page": len(first["push_list"]["items"]),
            }
        if args.screenshot:
            screenshot(f"{url}/ui/groups/{live[0]['group_id']}", args.screenshot)
    finally:
        stop_service(proc)
    worst = max(out[k]["p99_ms"] for k in ("groups_list", "group_page"))  # type: ignore[index]
    result = {
        "preset": args.preset,
        "workspace": str(root),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_1min_before": load_before,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": bool(worst < TARGET_P99_MS),
        **out,
    }
    path = args.out or ROOT / "benchmarks" / "results" / f"ui_{args.preset}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
