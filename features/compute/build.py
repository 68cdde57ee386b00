"""`grouppush features build`: offline tables for the as-of dates, Feast apply, online load.

For each date the stages run in dependency order on one DuckDB connection: category and
product stats (the user features reuse their prices, cycles and bestseller flags), user
activity + tags, user interest (+ similarity), group stats. Each date's rows are staged as
one file per table and renamed into the offline history at the end (features/store/offline_tables.py
explains the two-phase write that keeps a killed build from leaving half a table).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa

from configs.settings import Settings
from configs.workspace import Workspace
from features.compute.build_plan import (
    dates_to_compute,
    forget_dates,
    input_digests,
    read_manifest,
    write_manifest,
)
from features.compute.compute_group import compute_group_stats
from features.compute.compute_inputs import connect, load_inputs, prepare_as_of
from features.compute.compute_interest import Similarity, compute_user_interest
from features.compute.compute_product import compute_category_stats, compute_product_stats
from features.compute.compute_user import compute_user_activity
from features.compute.interest_inputs import PurchaseDays, load_purchase_days, run_stats
from features.compute.slow_movers import slow_mover_counts
from features.compute.spark_interest import spark_partitioned_log
from features.compute.tag_summary import tag_summary
from features.compute.tags import evaluate_tags, load_taxonomy, taxonomy_path
from features.compute.write_behind import WriteBehind
from features.contract.io import write_parquet_atomic
from features.snapshots import default_as_of, training_snapshot_dates
from features.stages import Stages, peak_rss_mib
from features.store import offline_tables as ot
from features.store.catalog import (
    CATEGORY_SIMILARITY,
    CATEGORY_STATS,
    GROUP_STATS,
    PRODUCT_STATS,
    USER_ACTIVITY,
    USER_INTEREST,
    FeatureTable,
)

# the per-user tables: encoding one date's file takes seconds (user_interest ~4 s on the large
# preset), so WriteBehind does it while the next stages compute; the per-category, -product and
# -group tables take milliseconds and are written in place
BEHIND = frozenset({USER_ACTIVITY.name, USER_INTEREST.name})


@contextmanager
def _progress(show: bool, total: int, label: str) -> Iterator[Callable[[str], None]]:
    if not show:
        yield lambda _msg: None
        return
    from rich.progress import Progress

    with Progress(transient=False) as bar:
        task = bar.add_task(label, total=total)

        def advance(msg: str) -> None:
            bar.update(task, advance=1, description=f"{label} {msg}")

        yield advance


def _compute_date(
    con: Any,
    settings: Settings,
    as_of: date,
    tags: list,
    info: Any,
    timer: Stages,
    log: PurchaseDays | None,
    out: dict[str, ot.HistoryWriter],
    writer: WriteBehind,
    tag_report: dict[str, Any],
    spark_log: Any = None,
) -> Similarity:
    """All catalog tables for one date, written to their next history (on WRITER's thread);
    returns the date's category similarity. TAG_REPORT gets the date's tag shares. On Spark,
    SPARK_LOG (features/compute/spark_interest.py) has the executors compute and write
    user_activity and user_interest (LOG is None: no purchase log on the driver)."""
    cfg = settings.features

    def put(table: FeatureTable, rows: pd.DataFrame | pa.Table) -> None:
        with timer("write"):
            staged = ot.to_arrow(rows, table, as_of)
            if table.name in BEHIND:  # the Parquet write runs behind the next stages
                writer.submit(out[table.name].write, as_of, staged)
            else:  # small: written here, instead of queueing behind a big table's write
                out[table.name].write(as_of, staged)

    with timer("orders_before_t"):
        prepare_as_of(con, as_of)
    with timer("category_stats"):
        put(CATEGORY_STATS, compute_category_stats(con, as_of, cfg))
    with timer("product_stats"):
        put(PRODUCT_STATS, compute_product_stats(con, as_of, cfg))
    if spark_log is not None:
        from features.compute.build_spark import spark_user_tables

        sim, tag_report[as_of.isoformat()] = spark_user_tables(
            con, settings, as_of, tags, timer, out, spark_log
        )
    else:
        assert log is not None
        with timer("run_stats"):  # shared by readiness and interest
            stats = run_stats(log, as_of, cfg.half_life_days)
        with timer("user_activity"):
            users = compute_user_activity(con, as_of, cfg, log, stats)
        with timer("tags"):
            users["tags"] = evaluate_tags(users, tags)
            tag_report[as_of.isoformat()] = tag_summary(users, tags)
        put(USER_ACTIVITY, users)
        del users
        with timer("user_interest"):
            interest, sim = compute_user_interest(con, as_of, cfg, log, stats)
        put(USER_INTEREST, interest)
        del interest
    with timer("group_stats"):
        put(GROUP_STATS, compute_group_stats(con, as_of, cfg, info))
    return sim


def _connect(settings: Settings, ws: Workspace) -> Any:
    """DuckDB in-process, or Spark (features.engine = spark) running the very same SQL."""
    if settings.features.engine == "spark":
        from features.engine_spark import connect_spark

        return connect_spark(settings.features)
    cfg = settings.features
    spill = ot.staging_dir(ws.offline) / "duckdb"  # removed with the staging dir
    return connect(cfg.duckdb_threads, cfg.duckdb_memory_limit, spill)


def _plan(
    con: Any, settings: Settings, ws: Workspace, dates: list[date], info: Any, full: bool
) -> tuple[list[date], dict[str, str]]:
    """(dates to compute, digest per date); Spark always computes every date."""
    if settings.features.engine == "spark":
        return dates, {}
    digests = input_digests(con, dates, info, settings.features, taxonomy_path(settings.features))
    return dates_to_compute(ws.offline, dates, digests, full=full), digests


def run_snapshots(
    settings: Settings,
    ws: Workspace,
    dates: Sequence[date],
    *,
    show_progress: bool = True,
    full: bool = True,
) -> dict[str, Any]:
    """compute_snapshots with its timings and row counts (used by build_features). Unless
    FULL, dates whose stored rows were built from the same inputs are kept (build_plan)."""
    dates = sorted(set(dates))
    if not dates:
        raise ValueError("no as-of dates to compute")
    timer = Stages()
    tags = load_taxonomy(taxonomy_path(settings.features))
    tag_report: dict[str, Any] = {}
    ot.reset_staging(ws.offline)
    con = _connect(settings, ws)
    try:
        with timer("load_inputs"):
            info = load_inputs(con, ws.data)
        with timer("plan"):
            todo, digests = _plan(con, settings, ws, dates, info, full)
        sim = None
        if todo:
            with timer("purchase_days"):
                spark_log = spark_partitioned_log(con, settings.features)
                log = None
                if spark_log is None:
                    log = load_purchase_days(con, settings.features.half_life_days)
            out = ot.open_histories(ws.offline, todo)
            writer = WriteBehind()
            try:
                with _progress(show_progress, len(todo), "features") as advance:
                    for as_of in todo:
                        sim = _compute_date(
                            con,
                            settings,
                            as_of,
                            tags,
                            info,
                            timer,
                            log,
                            out,
                            writer,
                            tag_report,
                            spark_log,
                        )
                        advance(as_of.isoformat())
            finally:
                with timer("write_wait"):
                    writer.close()
                if spark_log is not None:
                    spark_log.close()
    finally:
        con.close()
    counts: dict[str, int] = {}
    if todo:
        with timer("commit"):
            forget_dates(ws.offline, todo)
            counts = ot.commit_histories(ws.offline, out)
            if todo[-1] == dates[-1]:  # the similarity table is the latest date's
                assert sim is not None
                write_parquet_atomic(sim.to_frame(), ws.offline / f"{CATEGORY_SIMILARITY}.parquet")
            if digests:
                write_manifest(ws.offline, {**read_manifest(ws.offline), **digests})
    return {
        "dates": [d.isoformat() for d in dates],
        "computed": [d.isoformat() for d in todo],
        "seconds": timer.seconds,
        "peak_rss_mib": timer.peak_rss_mib,
        "rows": counts,
        # the latest date's tag shares and warnings (tag_summary.py), when computed
        "tags": tag_report.get(dates[-1].isoformat(), {}),
    }


def compute_snapshots(
    settings: Settings, ws: Workspace, dates: Sequence[date], *, show_progress: bool = True
) -> None:
    """Compute every catalog table as of each date and merge them into the offline history
    (re-running a date replaces its rows); the similarity table is for the latest date.
    Training calls this without `features build`: when it migrates an old single-file history,
    an existing Feast registry (whose sources named those files) is applied again."""
    migrating = ot.has_legacy(ws.offline)
    run_snapshots(settings, ws, dates, show_progress=show_progress)
    if migrating and not ot.has_legacy(ws.offline) and ws.feast_registry.exists():
        from features.store.feast_store import apply_definitions, get_store

        apply_definitions(get_store(ws, settings.features), ws)


def build_dates(settings: Settings, as_of: date) -> list[date]:
    """AS_OF plus the training snapshots before it."""
    tr = settings.training
    past = training_snapshot_dates(
        as_of, tr.horizon_days, tr.n_snapshots, tr.snapshot_spacing_days, tr.snapshot_anchor
    )
    return sorted({as_of, *past})


def build_features(
    settings: Settings,
    ws: Workspace,
    as_of: date | None = None,
    *,
    show_progress: bool = True,
    full: bool = False,
) -> dict[str, Any]:
    """Offline tables for AS_OF (default: day after the last order) and the training
    snapshots (those already built from the same inputs are kept unless FULL), Feast apply,
    then the latest values loaded into the online store."""
    from features.store.feast_store import apply_definitions, get_store, write_repo_yaml
    from features.store.online import load_online

    start = time.perf_counter()
    as_of = as_of or settings.features.as_of or default_as_of(ws.data)
    dates = build_dates(settings, as_of)
    summary = run_snapshots(settings, ws, dates, show_progress=show_progress, full=full)
    t0 = time.perf_counter()
    store = get_store(ws, settings.features)
    apply_definitions(store, ws)
    write_repo_yaml(ws, settings.features)  # the feast CLI's view of this same registry
    summary["seconds"]["feast_apply"] = time.perf_counter() - t0
    summary["peak_rss_mib"]["feast_apply"] = peak_rss_mib()
    online = load_online(store, ws, as_of, settings.features, show_progress=show_progress)
    summary["seconds"]["online_load"] = online["seconds"]
    summary["peak_rss_mib"]["online_load"] = peak_rss_mib()
    if settings.features.online_store == "redis":  # replicas read their snapshot from Redis
        from features.store.redis_snapshot import publish_workspace

        summary["snapshot_publish"] = publish_workspace(ws, settings.features, as_of)
        summary["seconds"]["snapshot_publish"] = summary["snapshot_publish"]["seconds"]
    summary["online"] = online
    summary["as_of"] = as_of.isoformat()
    summary["slow_movers"] = slow_mover_counts(ws.offline, dates)
    summary["seconds"]["total"] = time.perf_counter() - start
    return summary
