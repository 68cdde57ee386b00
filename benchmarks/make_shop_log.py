"""Turn simulated orders into a realistic shop export: foreign column names, opaque string ids,
extra columns, a few bad lines, an orders file plus a products file and nothing else.

Example:
    uv run python benchmarks/make_shop_log.py --preset shop --seed 1 --out /tmp/shop_export
Then:
    grouppush -w ws ingest --source /tmp/shop_export --map household_key=user_id \
        --map upc=product_id --map ts=ordered_at --map units=quantity --map sales_value=amount \
        --map basket_id=order_id --map products:commodity=category_id \
        --map products:department=department_id
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from configs.settings import load_settings

SHOP_MAPS = [
    "household_key=user_id",
    "upc=product_id",
    "ts=ordered_at",
    "units=quantity",
    "sales_value=amount",
    "basket_id=order_id",
    "products:commodity=category_id",
    "products:department=department_id",
]


def make_shop_export(
    orders: pd.DataFrame, products: pd.DataFrame, out: Path, seed: int, bad_share: float = 0.01
) -> dict[str, int]:
    """Write orders.csv + products.csv in a shop's own dialect; returns row counts."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    cat_codes = {c: f"COMMODITY {c}" for c in products["category_id"].unique()}  # spaces
    upc = {p: f"{i:08d}" for i, p in enumerate(products["product_id"])}  # leading zeros
    hh = {u: f"HH {i:05d}" for i, u in enumerate(orders["user_id"].unique())}  # spaces
    shop_orders = pd.DataFrame(
        {
            "household_key": orders["user_id"].map(hh),
            "upc": orders["product_id"].map(upc),
            "ts": pd.to_datetime(orders["ordered_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "units": orders["quantity"],
            "sales_value": orders["amount"].round(2),
            "basket_id": orders.get("order_id", pd.Series(range(len(orders)))).astype(str),
            "store_id": orders.get("store_id", pd.Series(["S/1"] * len(orders))).astype(str),
            "coupon_disc": rng.choice([0.0, 0.5, 1.0], size=len(orders), p=[0.9, 0.07, 0.03]),
        }
    )
    n_bad = int(len(shop_orders) * bad_share)
    bad = rng.choice(len(shop_orders), size=n_bad, replace=False)
    shop_orders.loc[bad[: n_bad // 2], "units"] = 0  # zero-quantity lines (returns, voids)
    shop_orders.loc[bad[n_bad // 2 :], "ts"] = "not a date"
    shop_orders.to_csv(out / "orders.csv", index=False)
    shop_products = pd.DataFrame(
        {
            "upc": products["product_id"].map(upc),
            "commodity": products["category_id"].map(cat_codes),
            "department": products.get("department_id", products["category_id"]).astype(str),
            "brand": rng.choice(["National", "Private"], size=len(products)),
        }
    )
    shop_products.to_csv(out / "products.csv", index=False)
    return {"orders": len(shop_orders), "products": len(shop_products), "bad_lines": n_bad}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--preset", default="shop")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from features.simulator.simulate import simulate

    settings = load_settings(args.preset, {"simulate": {"seed": args.seed}})
    with tempfile.TemporaryDirectory() as tmp:
        simulate(settings, Path(tmp) / "data", Path(tmp) / "truth", show_progress=True)
        orders = pd.read_parquet(Path(tmp) / "data" / "orders.parquet")
        products = pd.read_parquet(Path(tmp) / "data" / "products.parquet")
    print(make_shop_export(orders, products, args.out, args.seed))


if __name__ == "__main__":
    main()
