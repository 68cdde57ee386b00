"""Which as-of dates a build must compute: a date whose inputs are unchanged is kept as built.

A feature value as of t depends only on the data before t (orders, memberships, inventory
snapshots), the reference tables (products, groups, and users registered before t), the
feature settings, the tag taxonomy and the feature code. Each built date records a digest of
exactly those in `<offline>/_built.json`; the next build recomputes a date only when its
digest differs. So the daily job computes the new as-of date and reuses the training
snapshots, while a correction to the past (a re-ingested order, a changed product, a new
half-life, edited feature SQL) rebuilds every date it can affect. `features build --full`
recomputes everything. The Spark engine always recomputes (the digest SQL is DuckDB's).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from configs import columns as C
from configs.settings import FeatureSettings
from features.compute.compute_inputs import InputInfo, ts_literal
from features.store.catalog import TABLES
from features.store.offline_tables import stored_dates

MANIFEST = "_built.json"
FEATURE_CODE_DIR = Path(__file__).resolve().parents[1]  # features/
# the modules a feature value depends on (compute/compute_*.py too); online / serving /
# simulator code does not change stored values, so editing it must not force a rebuild
FEATURE_CODE = (
    "compute/build.py",
    "store/catalog.py",
    "contract/schema.py",
    "compute/tags.py",
    "compute/interest_inputs.py",
    "compute/order_codes.py",
    "compute/population_bgnbd.py",
    "bgnbd.py",
    "derived.py",
    "compute/group_momentum.py",
    "store/offline_tables.py",
    "compute/user_lines.py",
    "compute/user_activity_np.py",
)


def _code_digest(cfg: FeatureSettings, taxonomy: Path) -> str:
    """Settings, taxonomy and the feature code: a change to any of them invalidates every date."""
    h = hashlib.sha256(cfg.model_dump_json().encode())
    h.update(Path(taxonomy).read_bytes())
    paths = [FEATURE_CODE_DIR / name for name in FEATURE_CODE]
    for path in sorted([*paths, *FEATURE_CODE_DIR.glob("compute/compute_*.py")]):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def _input_queries(as_of: date, info: InputInfo) -> list[str]:
    t = ts_literal(as_of)
    queries = [  # the orders' (count, hash sum) comes from _order_sums
        f"SELECT count(*), sum(hash(i)) FROM inventory i WHERE {C.SNAPSHOT_AT} < {t}",
        f"""SELECT count(*), sum(hash({C.USER_ID}, {C.GROUP_ID}, {C.JOINED_AT}, {C.ROLE},
                CASE WHEN {C.LEFT_AT} < {t} THEN {C.LEFT_AT} END))
            FROM memberships WHERE {C.JOINED_AT} IS NULL OR {C.JOINED_AT} < {t}""",
        "SELECT count(*), sum(hash(p)) FROM products p",
        "SELECT count(*), sum(hash(g)) FROM groups g",
    ]
    if info.has("users"):  # derived users are implied by the orders before t
        queries.append(
            f"SELECT count(*), sum(hash(u)) FROM users u "
            f"WHERE {C.REGISTERED_AT} IS NULL OR {C.REGISTERED_AT} < {t}"
        )
    return queries


def _order_sums(con: Any, dates: Sequence[date]) -> dict[date, tuple[int, int | None]]:
    """Per date, (count, hash sum) of the orders before it, as `SELECT count(*), sum(hash(o))
    FROM orders o WHERE ts < t` returns them, from one scan: `ts < t` (t at 00:00) is
    `day < t`, and integer sums of per-day sums are exact (one scan per date cost ~1 s each on
    20M order lines)."""
    per_day = con.execute("SELECT day, count(*), sum(hash(o)) FROM orders o GROUP BY day")
    rows = [(d, n, h) for d, n, h in per_day.fetchall() if d is not None]
    out = {}
    for as_of in dates:
        before = [(n, h) for d, n, h in rows if d < as_of]
        n = sum(r[0] for r in before)
        out[as_of] = (n, sum(int(r[1]) for r in before) if n else None)
    return out


def input_digests(
    con: Any,
    dates: Sequence[date],
    info: InputInfo,
    cfg: FeatureSettings,
    taxonomy: Path,
) -> dict[str, str]:
    """Digest per as-of date (ISO) of everything its features are computed from."""
    code = _code_digest(cfg, taxonomy)
    orders = _order_sums(con, dates)
    out = {}
    for as_of in dates:
        h = hashlib.sha256(code.encode())
        h.update(repr(orders[as_of]).encode())
        for sql in _input_queries(as_of, info):
            h.update(repr(con.execute(sql).fetchone()).encode())
        out[as_of.isoformat()] = h.hexdigest()
    return out


def read_manifest(offline_dir: Path) -> dict[str, str]:
    path = Path(offline_dir) / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def write_manifest(offline_dir: Path, built: dict[str, str]) -> None:
    """Atomically replace the manifest (temp file + rename)."""
    path = Path(offline_dir) / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.tmp")
    tmp.write_text(json.dumps(dict(sorted(built.items())), indent=1))
    os.replace(tmp, path)


def forget_dates(offline_dir: Path, dates: Sequence[date]) -> None:
    """Called before DATES' files change: a build killed mid-commit then rebuilds those dates
    (the other dates' files are not touched by the commit, so their entries stay)."""
    built = read_manifest(offline_dir)
    drop = {d.isoformat() for d in dates}
    write_manifest(offline_dir, {k: v for k, v in built.items() if k not in drop})


def _stored_dates(offline_dir: Path) -> set[str]:
    """Dates stored, with the current schema, in every table's live history."""
    common: set[str] | None = None
    for name in TABLES:
        days = {d.isoformat() for d in stored_dates(offline_dir, name) or set()}
        common = days if common is None else common & days
    return common or set()


def dates_to_compute(
    offline_dir: Path, dates: Sequence[date], digests: dict[str, str], *, full: bool = False
) -> list[date]:
    """The DATES whose stored rows are missing or were built from other inputs."""
    if full:
        return sorted(dates)
    built = read_manifest(offline_dir)
    stored = _stored_dates(offline_dir)
    keep = {
        d
        for d in dates
        if d.isoformat() in stored and built.get(d.isoformat()) == digests[d.isoformat()]
    }
    return sorted(set(dates) - keep)
