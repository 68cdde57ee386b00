"""`grouppush`: the one front door. Heavy libraries load inside the commands that use them,
so `grouppush --help` stays fast (importing feast alone costs seconds)."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from configs.settings import Settings
    from configs.workspace import Workspace

app = typer.Typer(
    help="GroupPush: tags, interest models and push lists of slow-moving products for "
    "community-group commerce.\n\nExample: grouppush --workspace ws demo",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
features_app = typer.Typer(help="Offline feature tables and the Feast store.", no_args_is_help=True)
export_app = typer.Typer(help="Batch exports for campaign tooling.", no_args_is_help=True)
app.add_typer(features_app, name="features")
app.add_typer(export_app, name="export")

_STATE: dict[str, Any] = {}


def _parse_date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date YYYY-MM-DD", param_hint=flag
        ) from None


def _fail(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


def _context(
    preset: str | None = None, overrides: dict[str, Any] | None = None
) -> tuple[Settings, Workspace]:
    from configs.settings import load_settings
    from configs.workspace import resolve_workspace

    ws = resolve_workspace(_STATE.get("workspace"))
    preset = preset or _STATE.get("preset") or _remembered_preset(ws.root)
    merged: dict[str, Any] = dict(_STATE.get("overrides", {}))
    for key, value in (overrides or {}).items():
        merged.setdefault(key, {}).update(value)
    try:
        settings = load_settings(preset=preset, overrides=merged, config_file=_STATE.get("config"))
    except Exception as exc:  # pydantic ValidationError names the key
        _fail(f"invalid settings: {exc}")
        raise
    return settings, ws


PRESET_FILE = "grouppush-preset.txt"


def _remembered_preset(root: Path) -> str | None:
    """The preset the workspace was simulated with, so later commands use matching settings."""
    path = root / PRESET_FILE
    return path.read_text(encoding="utf-8").strip() or None if path.exists() else None


def _remember_preset(root: Path, preset: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / PRESET_FILE).write_text(preset + "\n", encoding="utf-8")


@app.callback()
def main(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="GROUPPUSH_WORKSPACE",
            help="Directory holding all state (data, features, MLflow, exports). "
            "Default: the repo's ignored folders in the working directory.",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="Settings preset from configs/presets (tiny, demo, large, shop)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Extra YAML settings file (same keys as configs/base.yaml).")
    ] = None,
) -> None:
    """GroupPush command line. Example: grouppush --workspace ws simulate --preset tiny"""
    _STATE.update(workspace=workspace, preset=preset, config=config, overrides={})


@app.command()
def simulate(
    preset: Annotated[str, typer.Option(help="tiny | demo | large | shop")] = "tiny",
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same files).")] = None,
) -> None:
    """Write simulated contract tables + truth/ into the workspace.

    Example: grouppush --workspace ws simulate --preset tiny --seed 7
    """
    overrides = {"simulate": {"seed": seed}} if seed is not None else {}
    settings, ws = _context(preset, overrides)
    from features.simulate import simulate as run

    _remember_preset(ws.root, preset)
    counts = run(settings, ws.data, ws.truth, show_progress=True)
    typer.echo("simulated: " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))


@app.command()
def ingest(
    source: Annotated[
        Path | None,
        typer.Option(
            help="Folder of files named by table (orders.csv, products.parquet, ...) "
            "or one orders file."
        ),
    ] = None,
    table: Annotated[
        list[str] | None,
        typer.Option(
            "--table",
            help="Per-table file: TABLE=PATH (repeatable), e.g. --table products=items.csv",
        ),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="Rename a column: src=dst (every file) or table:src=dst (one table)."
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Reject timestamps after this date (default today).")
    ] = None,
) -> None:
    """Validate CSV/Parquet into contract tables; rejected rows go to quarantine/ with a reason.

    Example: grouppush ingest --source shop/ --map customer_id=user_id
    --map products:commodity=category_id
    """
    day = _parse_date(as_of, "--as-of")
    overrides = {"ingest": {"as_of": day}} if as_of else {}
    settings, ws = _context(None, overrides)
    from features.ingest import IngestError
    from features.ingest import ingest as run

    files: dict[str, Path] = {}
    for item in table or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            _fail(f"--table {item!r}: expected TABLE=PATH")
        files[name] = Path(path)
    if source is None and not files:
        _fail("give --source PATH or at least one --table TABLE=PATH")
    try:
        report = run(
            source,
            ws.data,
            ws.quarantine,
            settings.ingest,
            maps=map_ or [],
            files=files,
            show_progress=True,
        )
    except IngestError as exc:
        _fail(str(exc))
        return
    for line in report.summary_lines():
        typer.echo(line)


@features_app.command("build")
def features_build(
    as_of: Annotated[
        str | None, typer.Option(help="As-of date (default: day after the last order).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every date, even those already built.")
    ] = False,
) -> None:
    """Compute offline feature tables as of DATE (+ training history), apply Feast, load online.

    Dates already built from the same inputs, settings and code are kept (the daily job then
    computes only the new date); --full recomputes them all.

    Example: grouppush --workspace ws features build --as-of 2026-01-01
    """
    day = _parse_date(as_of, "--as-of")
    settings, ws = _context()
    from features.build import build_features

    summary = build_features(settings, ws, day, show_progress=True, full=full)
    typer.echo(f"features built: {summary}")


@app.command()
def train(
    target: Annotated[str, typer.Option(help="repurchase | interest | all")] = "all",
    as_of: Annotated[
        str | None, typer.Option(help="Train only on labels observable before DATE.")
    ] = None,
    horizon_days: Annotated[int | None, typer.Option(help="Label horizon in days.")] = None,
) -> None:
    """Train, log to MLflow, register, and move `champion` when the new model is better.

    Example: grouppush --workspace ws train --target repurchase --horizon-days 30
    """
    day = _parse_date(as_of, "--as-of")
    if target not in ("repurchase", "interest", "all"):
        raise typer.BadParameter("choose repurchase, interest or all", param_hint="--target")
    overrides = {"training": {"horizon_days": horizon_days}} if horizon_days else {}
    settings, ws = _context(None, overrides)
    from training.train import train as run

    result = run(settings, ws, target, day, show_progress=True)
    typer.echo(_summarise(result))


@app.command()
def evaluate(
    as_of: Annotated[str | None, typer.Option(help="Evaluate the champions as of DATE.")] = None,
) -> None:
    """Held-out metrics vs baselines (and the oracle on simulated data): HTML report + JSON.

    Example: grouppush --workspace ws evaluate
    """
    day = _parse_date(as_of, "--as-of")
    settings, ws = _context()
    from training.evaluate import evaluate as run

    result = run(settings, ws, day, show_progress=True)
    typer.echo(_summarise(result))


def _summarise(result: Any) -> str:
    import json

    return json.dumps(result, indent=2, default=str)


@export_app.command("scores")
def export_scores(
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    as_of: Annotated[str | None, typer.Option(help="As-of date.")] = None,
) -> None:
    """Repurchase probability per user. Example: grouppush export scores --out scores.parquet"""
    day = _parse_date(as_of, "--as-of")
    settings, ws = _context()
    from training.export import export_scores as run

    typer.echo(f"{run(settings, ws, day, out):,} rows -> {out}")


@export_app.command("segments")
def export_segments(
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    as_of: Annotated[str | None, typer.Option(help="As-of date.")] = None,
) -> None:
    """Segment memberships with scores. Example: grouppush export segments --out seg.csv"""
    day = _parse_date(as_of, "--as-of")
    settings, ws = _context()
    from training.export import export_segments as run

    typer.echo(f"{run(settings, ws, day, out):,} rows -> {out}")


@export_app.command("interest")
def export_interest(
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    as_of: Annotated[str | None, typer.Option(help="As-of date.")] = None,
    top_k: Annotated[int, typer.Option(help="Categories per user.")] = 20,
) -> None:
    """Each member's categories ranked by the champion interest model.

    Example: grouppush export interest --top-k 20 --out interest.parquet
    """
    day = _parse_date(as_of, "--as-of")
    if top_k <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--top-k")
    settings, ws = _context()
    from training.export import export_interest as run

    typer.echo(f"{run(settings, ws, day, top_k, out):,} rows -> {out}")


@export_app.command("push-lists")
def export_push_lists(
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    as_of: Annotated[str | None, typer.Option(help="As-of date.")] = None,
) -> None:
    """Push lists for every group. Example: grouppush export push-lists --out push.parquet"""
    day = _parse_date(as_of, "--as-of")
    settings, ws = _context()
    from serving.export import export_push_lists as run

    typer.echo(f"{run(settings, ws, day, out):,} rows -> {out}")


@export_app.command("feedback-eval")
def export_feedback_eval(
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    attribution_days: Annotated[
        int | None,
        typer.Option(help="Days after a push an order counts (default serving setting)."),
    ] = None,
) -> None:
    """Online evaluation of /feedback per day and model version: conversion of pushed members
    vs the group's unpushed members. Example: grouppush export feedback-eval --out eval.csv
    """
    if attribution_days is not None and attribution_days <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--attribution-days")
    settings, ws = _context()
    from serving.feedback_export import export_feedback_eval as run

    try:
        rows = run(settings, ws, out, attribution_days)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        raise
    typer.echo(f"{rows:,} rows -> {out}")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Run the BentoML service on the workspace's champion models and features.

    Example: grouppush --workspace ws serve --port 3000
    """
    from grouppush.runner import serve_forever

    _, ws = _context()
    sys.exit(serve_forever(ws, host=host, port=port))


@app.command()
def demo(
    preset: Annotated[str, typer.Option(help="Simulation preset.")] = "demo",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    port: Annotated[int, typer.Option(help="Service port.")] = 3000,
    keep_serving: Annotated[
        bool,
        typer.Option(help="Keep the service running after the sample request (Ctrl-C stops it)."),
    ] = True,
) -> None:
    """Simulated data -> features -> models -> running service answering a push-list request.

    Example: grouppush --workspace ws demo --preset tiny --no-keep-serving
    """
    settings, ws = _context(preset, {"simulate": {"seed": seed}})
    from grouppush.runner import run_demo

    _remember_preset(ws.root, preset)
    sys.exit(run_demo(settings, ws, port=port, keep_serving=keep_serving))


if __name__ == "__main__":  # pragma: no cover
    app()
