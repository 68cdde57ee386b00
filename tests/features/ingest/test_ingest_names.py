"""Optional product and category names: mapped like any column, trimmed, cut, never rejected."""

from __future__ import annotations

from pathlib import Path

from configs import columns as C

MAX_NAME_CHARS = 200  # the contract: longer names are cut, not rejected

ORDERS = "user_id,product_id,ordered_at,quantity,amount,store_id\n"


def _csv(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_cj_style_description_columns_map_to_names(tmp_path, run, read) -> None:  # type: ignore[no-untyped-def]
    """A CJ-style products file: DESCRIPTION is the name, COMMODITY_DESC the category id (no
    category name: consumers show the id, here the description)."""
    src = tmp_path / "src"
    _csv(src / "orders.csv", ORDERS + "u1,1001,2025-01-01,1,2,s1\nu2,1002,2025-01-02,1,3,s1\n")
    long = "Family pack " * 30
    _csv(
        src / "products.csv",
        "PRODUCT_ID,DESCRIPTION,COMMODITY_DESC\n"
        f'1001,"  Oat milk 1L  ",DAIRY\n1002,"{long}",DAIRY\n1003,"   ",SOAP\n',
    )
    report = run(
        maps=(
            "products:PRODUCT_ID=product_id",
            "products:DESCRIPTION=product_name",
            "products:COMMODITY_DESC=category_id",
        )
    )
    products = read("products").set_index(C.PRODUCT_ID)
    assert products.loc["1001", C.PRODUCT_NAME] == "Oat milk 1L"  # trimmed
    assert products.loc["1002", C.PRODUCT_NAME] == long.strip()[:MAX_NAME_CHARS]  # cut, kept
    assert products.loc["1003", C.PRODUCT_NAME] is None  # blank: null, the row kept
    assert products[C.CATEGORY_ID].tolist() == ["DAIRY", "DAIRY", "SOAP"]
    assert C.CATEGORY_NAME not in products.columns or products[C.CATEGORY_NAME].isna().all()
    assert report.rows_rejected.get("products", 0) == 0


def test_category_names_and_products_without_a_category(tmp_path, run, read) -> None:  # type: ignore[no-untyped-def]
    """category_name maps from its own column; a product without category_id is its own
    category, named as the product."""
    src = tmp_path / "src"
    _csv(src / "orders.csv", ORDERS + "u1,p1,2025-01-01,1,2,s1\nu1,p2,2025-01-03,1,2,s1\n")
    _csv(
        src / "products.csv",
        "sku,title,cat,cat_title\np1,Dish soap 500ml,c1, Household \np2,Sourdough bread,,\n",
    )
    run(
        maps=(
            "products:sku=product_id",
            "products:title=product_name",
            "products:cat=category_id",
            "products:cat_title=category_name",
        )
    )
    products = read("products").set_index(C.PRODUCT_ID)
    assert products.loc["p1", C.CATEGORY_NAME] == "Household"
    assert products.loc["p2", C.CATEGORY_ID] == "p2"  # its own category ...
    assert products.loc["p2", C.CATEGORY_NAME] == "Sourdough bread"  # ... named as it
