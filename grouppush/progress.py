"""Progress of the long commands (train, evaluate) on stderr: a line when each stage starts,
with the time since the command began.

Why lines and not a live bar: the stages have no known count (it depends on the targets and
on what is already built), the training code shows its own spinner while fitting, and a log
file or CI output shows plain lines as they come.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import typer

STEP_TEXT = {
    "setup": "loading libraries",
    "ensure_snapshots": "building missing feature snapshots",
    "load_orders": "reading orders",
    "feature_store": "opening the Feast store",
    "fetch": "point-in-time rows from Feast",
    "labels": "labels",
    "pairs": "user x category pairs",
    "fit": "fitting",
    "holdout": "scoring the held-out snapshot",
    "baselines": "scoring the baselines",
    "plots": "plots",
    "mlflow_log": "logging the run to MLflow",
    "log_model_register": "registering the model",
    "promotion": "champion decision",
}


def stage_text(name: str) -> str:
    """`repurchase.fit` -> `repurchase: fitting` (unknown steps keep their own name)."""
    kind, _, step = name.rpartition(".")
    text = STEP_TEXT.get(step, step.replace("_", " "))
    return f"{kind}: {text}" if kind else text


@contextmanager
def stage_lines(command: str, first: str | None = None) -> Iterator[None]:
    """While active, each stage of the training code prints `[  12s] train repurchase: fitting`
    (FIRST: a line for the work before the first stage)."""
    from features.stages import STAGE_LISTENERS

    start = time.perf_counter()
    if first:
        typer.echo(f"[{0:5.0f}s] {command} {first}", err=True)

    def show(name: str) -> None:
        elapsed = time.perf_counter() - start
        typer.echo(f"[{elapsed:5.0f}s] {command} {stage_text(name)}", err=True)

    STAGE_LISTENERS.append(show)
    try:
        yield
    finally:
        STAGE_LISTENERS.remove(show)
    typer.echo(f"[{time.perf_counter() - start:5.0f}s] {command} done", err=True)
