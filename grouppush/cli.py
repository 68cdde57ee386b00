"""`grouppush`: the one front door. Heavy libraries load inside the commands that use them,
so `grouppush --help` stays fast (importing feast alone costs seconds)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from grouppush.errors import OneLineErrors, UserError
from grouppush.summaries import build_lines, evaluate_lines, train_lines

if TYPE_CHECKING:
    from configs.settings import Settings
    from configs.workspace import Workspace

app = typer.Typer(
    help="GroupPush: tags, interest models and push lists of slow-moving products for "
    "community-group commerce.\n\nExample: grouppush --workspace ws demo",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=OneLineErrors,  # any exception: one line on stderr, exit 1 (--debug: the traceback)
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


def _fail(message: str) -> NoReturn:
    raise UserError(message)  # printed as one line by OneLineErrors


JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def _emit(result: Any, lines: list[str], as_json: bool) -> None:
    """Results on stdout: JSON with --json, else short human lines."""
    if as_json:
        import json

        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        for line in lines:
            typer.echo(line)


def _explicit() -> bool:
    """Whether the user named the workspace (then hints repeat --workspace)."""
    return _STATE.get("workspace") is not None


def _require_orders(ws: Workspace) -> None:
    from grouppush.preflight import require_orders

    require_orders(ws, _explicit())


def _context(
    preset: str | None = None, overrides: dict[str, Any] | None = None
) -> tuple[Settings, Workspace]:
    from configs.settings import load_settings
    from configs.workspace import remembered_preset, resolve_workspace

    ws = resolve_workspace(_STATE.get("workspace"))
    preset = preset or _STATE.get("preset") or remembered_preset(ws.root)
    merged: dict[str, Any] = dict(_STATE.get("overrides", {}))
    for key, value in (overrides or {}).items():
        merged.setdefault(key, {}).update(value)
    try:
        settings = load_settings(preset=preset, overrides=merged, config_file=_STATE.get("config"))
    except Exception as exc:  # pydantic ValidationError names the key
        _fail(f"invalid settings: {exc}")
        raise
    return settings, ws


NoWait = Annotated[
    bool,
    typer.Option("--no-wait", help="Fail at once when another writer holds the workspace."),
]


@contextmanager
def _writing(ws: Workspace, command: str, no_wait: bool) -> Iterator[None]:
    """The workspace's writer lock (configs.workspace_lock) around a writing command."""
    from configs.workspace_lock import WorkspaceBusy, writer_lock
    from features.contract.table_commit import finish_commit

    notify = lambda message: typer.echo(message, err=True)  # noqa: E731
    try:
        folders = (ws.data, ws.quarantine, ws.offline, ws.feast)  # killed writers' temp files
        finish = lambda: finish_commit(ws.data)  # noqa: E731 - a cut-short ingest switch first
        with writer_lock(
            ws.root, command, wait=not no_wait, notify=notify, clear=folders, prepare=finish
        ):
            yield
    except WorkspaceBusy as exc:
        _fail(str(exc))


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
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar="GROUPPUSH_DEBUG", help="Show tracebacks and library warnings."
        ),
    ] = False,
) -> None:
    """GroupPush command line. Example: grouppush --workspace ws simulate --preset tiny"""
    import rich

    from grouppush.errors import quiet_library_warnings, set_debug

    _STATE.update(workspace=workspace, preset=preset, config=config, overrides={})
    set_debug(debug)
    quiet_library_warnings()
    rich.reconfigure(stderr=True)  # progress bars and spinners on stderr; results on stdout


@app.command()
def simulate(
    preset: Annotated[str, typer.Option(help="tiny | demo | large | shop")] = "tiny",
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same files).")] = None,
    as_json: JsonFlag = False,
    no_wait: NoWait = False,
) -> None:
    """Write simulated contract tables + truth/ into the workspace.

    Example: grouppush --workspace ws simulate --preset tiny --seed 7
    """
    overrides = {"simulate": {"seed": seed}} if seed is not None else {}
    settings, ws = _context(preset, overrides)
    from configs.workspace import remember_preset
    from features.simulator.simulate import simulate as run

    with _writing(ws, "simulate", no_wait):
        remember_preset(ws.root, preset)
        counts = run(settings, ws.data, ws.truth, show_progress=True)
    _emit(counts, ["simulated: " + ", ".join(f"{k}={v:,}" for k, v in counts.items())], as_json)


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
    as_json: JsonFlag = False,
    no_wait: NoWait = False,
) -> None:
    """Validate CSV/Parquet into contract tables; rejected rows go to quarantine/ with a reason.

    Example: grouppush ingest --source shop/ --map customer_id=user_id
    --map products:commodity=category_id (no line total? --map price_each=unit_price)
    """
    day = _parse_date(as_of, "--as-of")
    overrides = {"ingest": {"as_of": day}} if as_of else {}
    settings, ws = _context(None, overrides)
    from features.ingest.pipeline import IngestError
    from features.ingest.pipeline import ingest as run

    files: dict[str, Path] = {}
    for item in table or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            _fail(f"--table {item!r}: expected TABLE=PATH")
        files[name] = Path(path)
    if source is None and not files:
        _fail("give --source PATH or at least one --table TABLE=PATH")
    try:
        with _writing(ws, "ingest", no_wait):
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
    _emit(_jsonable(report), report.summary_lines(), as_json)
    n_in = report.rows_in.get("orders")
    if n_in == 0:
        _fail(f"no order lines in {files.get('orders', source)} (only a header?): nothing to use")
    if n_in and not report.rows_ok.get("orders"):
        _fail(f"all {n_in:,} order lines rejected: reasons in {ws.quarantine / 'orders.parquet'}")


def _jsonable(obj: Any) -> Any:
    """A dataclass report as plain data (for --json)."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return vars(obj)


@features_app.command("build")
def features_build(
    as_of: Annotated[
        str | None, typer.Option(help="As-of date (default: day after the last order).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every date, even those already built.")
    ] = False,
    as_json: JsonFlag = False,
    no_wait: NoWait = False,
) -> None:
    """Compute offline feature tables as of DATE (+ training history), apply Feast, load online.

    Dates already built from the same inputs, settings and code are kept (the daily job then
    computes only the new date); --full recomputes them all.

    Example: grouppush --workspace ws features build --as-of 2026-01-01
    """
    day = _parse_date(as_of, "--as-of")
    settings, ws = _context()
    _require_orders(ws)
    from features.compute.build import build_features

    with _writing(ws, "features build", no_wait):
        summary = build_features(settings, ws, day, show_progress=True, full=full)
    _emit(summary, build_lines(summary), as_json)


@app.command()
def train(
    target: Annotated[str, typer.Option(help="repurchase | interest | push | all")] = "all",
    as_of: Annotated[
        str | None, typer.Option(help="Train only on labels observable before DATE.")
    ] = None,
    horizon_days: Annotated[int | None, typer.Option(help="Label horizon in days.")] = None,
    as_json: JsonFlag = False,
    no_wait: NoWait = False,
) -> None:
    """Train, log to MLflow, register, and move `champion` when the new model is better.

    Example: grouppush --workspace ws train --target repurchase --horizon-days 30
    """
    day = _parse_date(as_of, "--as-of")
    if target not in ("repurchase", "interest", "push", "all"):
        raise typer.BadParameter("choose repurchase, interest, push or all", param_hint="--target")
    overrides = {"training": {"horizon_days": horizon_days}} if horizon_days else {}
    settings, ws = _context(None, overrides)
    _require_orders(ws)
    from grouppush.progress import stage_lines
    from grouppush.train_features import train_with_features

    with _writing(ws, "train", no_wait), stage_lines("train"):  # missing snapshots first
        result = train_with_features(settings, ws, target, day, show_progress=True)
    _emit(result, train_lines(result), as_json)


@app.command()
def evaluate(
    as_of: Annotated[str | None, typer.Option(help="Evaluate the champions as of DATE.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Held-out metrics vs baselines (and the oracle on simulated data): HTML report + JSON.

    Example: grouppush --workspace ws evaluate
    """
    day = _parse_date(as_of, "--as-of")
    settings, ws = _context()
    _require_orders(ws)
    from features.snapshots import default_as_of
    from grouppush.progress import stage_lines
    from grouppush.train_features import build_feature_dates
    from training.evaluate import evaluate as run
    from training.evaluate import evaluation_dates

    with stage_lines("evaluate", "building the held-out feature snapshot where missing"):
        when = day or settings.training.as_of or default_as_of(ws.data)
        build_feature_dates(settings, ws, evaluation_dates(settings, ws, when))
    with stage_lines("evaluate", "loading the champions and the held-out snapshot"):
        result = run(settings, ws, when, show_progress=True)
    _emit(result, evaluate_lines(result), as_json)


def _export_context(out: Path) -> tuple[Settings, Workspace]:
    """Settings and workspace of an export, checked before any work: the suffix, and a
    workspace with orders (a mistyped path is never created)."""
    from grouppush.preflight import require_export_suffix

    require_export_suffix(out)
    settings, ws = _context()
    _require_orders(ws)
    return settings, ws


def _exported(rows: int, out: Path, as_json: bool) -> None:
    _emit({"rows": rows, "out": str(out)}, [f"{rows:,} rows -> {out}"], as_json)


OutFile = Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")]
AsOfOption = Annotated[str | None, typer.Option(help="As-of date.")]


def _model_export(
    name: str,
    out: Path,
    as_of: str | None,
    as_json: bool,
    options: tuple[Any, ...] = (),
    check: Callable[[], None] | None = None,
) -> None:
    """The one body of the champion-model exports (scores, segments, interest): parse the
    date, run the command's own option CHECK, check the output suffix and the workspace
    before any work, then training.export's NAME(settings, ws, day, *OPTIONS, out) writes."""
    day = _parse_date(as_of, "--as-of")
    if check is not None:
        check()
    settings, ws = _export_context(out)
    if day is not None:  # a past date: its features are built first (the default is the newest)
        from grouppush.train_features import build_feature_dates

        build_feature_dates(settings, ws, [day])
    from training import export

    run = getattr(export, name)
    _exported(run(settings, ws, day, *options, out), out, as_json)


@export_app.command("scores")
def export_scores(out: OutFile, as_of: AsOfOption = None, as_json: JsonFlag = False) -> None:
    """Repurchase probability per user. Example: grouppush export scores --out scores.parquet"""
    _model_export("export_scores", out, as_of, as_json)


@export_app.command("segments")
def export_segments(out: OutFile, as_of: AsOfOption = None, as_json: JsonFlag = False) -> None:
    """Segment memberships with scores. Example: grouppush export segments --out seg.csv"""
    _model_export("export_segments", out, as_of, as_json)


@export_app.command("interest")
def export_interest(
    out: OutFile,
    as_of: AsOfOption = None,
    top_k: Annotated[int, typer.Option(help="Categories per user.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Each member's categories ranked by the champion interest model.

    Example: grouppush export interest --top-k 20 --out interest.parquet
    """

    def check() -> None:
        if top_k <= 0:
            raise typer.BadParameter("must be > 0", param_hint="--top-k")

    _model_export("export_interest", out, as_of, as_json, (top_k,), check)


@export_app.command("push-lists")
def export_push_lists(out: OutFile, as_of: AsOfOption = None, as_json: JsonFlag = False) -> None:
    """Push lists for every group. Example: grouppush export push-lists --out push.parquet

    With 0 rows, stderr says why (one line per reason, with the number of groups); the exit
    code is 0 when that is a real answer (no slow movers, caps, suppression, zombie groups, no
    member signal) and 1 when the data has no groups or no group has a member.
    """
    day = _parse_date(as_of, "--as-of")
    settings, ws = _export_context(out)
    from serving.export import run_export

    summary = run_export(settings, ws, day, out)
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    _exported(summary.rows, out, as_json)
    if summary.rows == 0:
        typer.echo("no push list rows; why, by reason:", err=True)
        for line in summary.why.lines():
            typer.echo(f"  {line}", err=True)
        if not summary.why.legitimate():
            raise typer.Exit(1)


@export_app.command("feedback-eval")
def export_feedback_eval(
    out: OutFile,
    attribution_days: Annotated[
        int | None,
        typer.Option(help="Days after a push an order counts (default serving setting)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Online evaluation of /feedback per day and model version: conversion of pushed members
    vs the group's unpushed members. Example: grouppush export feedback-eval --out eval.csv
    """
    if attribution_days is not None and attribution_days <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--attribution-days")
    from grouppush.preflight import require_export_suffix

    require_export_suffix(out)
    settings, ws = _context()
    from serving.feedback_export import export_feedback_eval as run

    try:
        rows = run(settings, ws, out, attribution_days)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        raise
    _exported(rows, out, as_json)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Run the BentoML service on the workspace's champion models and features.

    Example: grouppush --workspace ws serve --port 3000
    """
    from grouppush.preflight import require_features, require_free_port
    from grouppush.runner import serve_forever

    settings, ws = _context()
    if settings.features.online_store != "redis":  # a Redis replica's workspace may be empty
        require_features(ws, _explicit())  # serving reads feature tables, never the orders
    require_free_port(host, port)
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
    from configs.workspace import remember_preset
    from grouppush.preflight import require_free_port
    from grouppush.runner import run_demo

    require_free_port("127.0.0.1", port)

    remember_preset(ws.root, preset)
    sys.exit(run_demo(settings, ws, port=port, keep_serving=keep_serving))


if __name__ == "__main__":  # pragma: no cover
    app()
