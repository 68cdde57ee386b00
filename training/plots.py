"""Matplotlib (Agg) figures for MLflow runs and the evaluation report."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # no display, ever; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from configs import columns as C  # noqa: E402
from training.estimator import ModelResult  # noqa: E402
from training.metrics import KS, calibration_table  # noqa: E402


def thin(x: np.ndarray, y: np.ndarray, points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """At most POINTS evenly spaced vertices of a curve (ends kept): an 800k-user holdout's PR
    curve has a vertex per threshold, which only costs drawing time at 90 dpi."""
    if len(x) <= points:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, points).astype(int))
    return x[keep], y[keep]


def roc_pr(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC and precision-recall curves of the model and every baseline on one holdout."""
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name, s in scores.items():
        s = np.nan_to_num(np.asarray(s, dtype=float), nan=-1e12)
        fpr, tpr, _ = roc_curve(y, s)
        precision, recall, _ = precision_recall_curve(y, s)
        roc_ax.plot(*thin(fpr, tpr), label=name, lw=2 if name == "model" else 1)
        pr_ax.plot(*thin(recall, precision), label=name, lw=2 if name == "model" else 1)
    roc_ax.plot([0, 1], [0, 1], ls=":", color="grey")
    roc_ax.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    pr_ax.set(title="Precision-recall", xlabel="recall", ylabel="precision")
    roc_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def calibration(y: np.ndarray, p: np.ndarray, label: str = "model") -> Figure:
    """Mean predicted probability vs observed rate per decile."""
    table = calibration_table(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.plot(table["predicted"], table["observed"], marker="o", label=label)
    ax.set(title="Calibration (deciles)", xlabel="predicted", ylabel="observed")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def importance(gains: pd.Series, top: int = 20) -> Figure:
    """Gain importance of the top features."""
    head = gains.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(head) + 1.2))
    ax.barh(head.index, head.to_numpy())
    ax.set(title="Feature importance (gain)")
    fig.tight_layout()
    return fig


def recall_at_k(results: Mapping[str, Mapping[str, float]], ks: tuple[int, ...] = KS) -> Figure:
    """recall@k and NDCG@k of the model vs the ranking baselines."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    names = list(results)
    width = 0.8 / max(len(names), 1)
    for ax, metric in zip(axes, ("recall", "ndcg"), strict=True):
        for i, name in enumerate(names):
            values = [results[name].get(f"{metric}@{k}", np.nan) for k in ks]
            ax.bar(np.arange(len(ks)) + i * width, values, width, label=name)
        ax.set_xticks(np.arange(len(ks)) + 0.4 - width / 2, [f"@{k}" for k in ks])
        ax.set(title=f"{metric}@k")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def to_png_base64(fig: Figure) -> str:
    """PNG bytes of a figure as base64 (for <img src="data:...">); closes the figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def model_figures(result: ModelResult) -> dict[str, Figure]:
    """The plots logged with every run: curves vs baselines, calibration, importance."""
    figs: dict[str, Figure] = {"importance": importance(result.importance)}
    hold = result.holdout
    if result.name == "repurchase":
        y = hold[C.LABEL].to_numpy()
        scores = {"model": hold["model"].to_numpy()}
        scores.update({name: hold[name].to_numpy() for name in result.baselines})
        figs["roc_pr"] = roc_pr(y, scores)
        figs["calibration"] = calibration(y, hold["model"].to_numpy())
    elif result.name == "push":  # hits@5 per (group, product) query: one number per method
        figs["calibration"] = calibration(hold[C.LABEL].to_numpy(), hold[C.SCORE].to_numpy())
    else:
        figs["recall_at_k"] = recall_at_k({"model": result.metrics, **result.baselines})
        figs["calibration"] = calibration(hold[C.LABEL].to_numpy(), hold[C.SCORE].to_numpy())
    return figs
