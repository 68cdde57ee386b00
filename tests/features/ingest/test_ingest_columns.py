"""Renames, unknown columns, exact ids and type coercion across CSV and Parquet inputs."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.ingest.readers import parse_maps

ODD_IDS = ["SOFT DRINKS", "0042", "a/b", "店铺 7", " padded ", "x,y", 'say "hi"']


def test_plain_map_renames_in_every_file_and_qualified_map_in_one(write, run, read) -> None:
    write("orders.csv", "customer,upc,ordered_at,quantity,amount\nu1,0001,2025-01-01,1,2")
    write("products.csv", "upc,commodity,colour\n0001,DAIRY,red")
    write("users.csv", "customer,commodity\nu1,keep me out")
    report = run(maps=("upc=product_id", "customer=user_id", "products:commodity=category_id"))
    assert read("orders")["product_id"].tolist() == ["0001"]
    assert read("products").to_dict("records") == [{"product_id": "0001", "category_id": "DAIRY"}]
    assert list(read("users").columns) == ["user_id"]
    assert report.unknown_columns == {"products": ["colour"], "users": ["commodity"]}
    # quarantine keeps the names as written in the file
    assert report.quarantine == {}


def test_parse_maps_splits_plain_and_qualified() -> None:
    renames = parse_maps(["upc=product_id", "products:commodity=category_id"])
    assert renames.for_table("orders", ["upc", "commodity"]) == {"upc": "product_id"}
    assert renames.for_table("products", ["upc", "commodity"]) == {
        "upc": "product_id",
        "commodity": "category_id",
    }


def test_odd_ids_survive_exactly_from_csv(tmp_path, run, read) -> None:
    src = tmp_path / "src"
    src.mkdir()
    frame = pd.DataFrame(
        {
            "user_id": ODD_IDS,
            "product_id": ODD_IDS[::-1],
            "ordered_at": "2025-01-01",
            "quantity": "1",
            "amount": "1",
            "store_id": ODD_IDS,
        }
    )
    frame.to_csv(src / "orders.csv", index=False)
    run()
    out = read("orders")
    assert out["user_id"].tolist() == ODD_IDS
    assert out["product_id"].tolist() == ODD_IDS[::-1]
    assert sorted(read("groups")["group_id"]) == sorted(ODD_IDS)
    assert read("products").set_index("product_id")["category_id"].to_dict() == {
        i: i for i in ODD_IDS
    }


def test_parquet_input_typed_columns_and_int_ids(tmp_path, run, read) -> None:
    src = tmp_path / "src"
    src.mkdir()
    table = pa.table(
        {
            "user_id": pa.array([7, 42], pa.int64()),
            "product_id": ["0042", "店铺 7"],
            "ordered_at": pa.array(
                [pd.Timestamp("2025-01-01 08:00", tz="Asia/Shanghai"), pd.Timestamp("2025-01-02")]
            ),
            "quantity": pa.array([1, 3], pa.int32()),
            "amount": [1.5, 0.0],
        }
    )
    pq.write_table(table, src / "orders.parquet")
    run(chunk_rows=1)
    out = read("orders")
    assert out["user_id"].tolist() == ["7", "42"]
    assert out["product_id"].tolist() == ["0042", "店铺 7"]
    assert out["ordered_at"].tolist() == [
        pd.Timestamp("2025-01-01 00:00", tz="UTC"),
        pd.Timestamp("2025-01-02", tz="UTC"),
    ]
    assert out["quantity"].tolist() == [1.0, 3.0]


def test_timestamps_naive_offset_and_mixed_formats(write, run, read) -> None:
    write(
        "orders.csv",
        """
        user_id,product_id,ordered_at,quantity,amount
        u,p,2025-01-01,1,1
        u,p,2025-01-01T10:00:00+08:00,1,1
        u,p,2025-01-01 10:00:00Z,1,1
        u,p,2025/01/05 07:30,1,1
    """,
    )
    run()
    assert [str(t) for t in read("orders")["ordered_at"]] == [
        "2025-01-01 00:00:00+00:00",
        "2025-01-01 02:00:00+00:00",
        "2025-01-01 10:00:00+00:00",
        "2025-01-05 07:30:00+00:00",
    ]
    assert str(read("orders")["ordered_at"].dtype) == "datetime64[us, UTC]"


def test_pushes_bool_and_optional_blank_values(write, run, read) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu,p,2025-01-01,1,1")
    write(
        "pushes.csv",
        """
        push_id,group_id,product_id,pushed_at,user_id,is_holdout
        1,g,p,2025-01-01,,yes
        2,g,p,2025-01-01,u,FALSE
        3,g,p,2025-01-01,u,
        4,g,p,2025-01-01,u,maybe
    """,
    )
    report = run()
    pushes = read("pushes")
    assert pushes["is_holdout"].tolist() == [True, False, None]
    assert pushes["user_id"].tolist() == [None, "u", "u"]
    assert report.rejected == {("pushes", "unparseable bool is_holdout"): 1}


def test_optional_columns_absent_are_not_created(write, run, read) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu,p,2025-01-01,1,1")
    run()
    assert list(read("orders").columns) == [
        "user_id",
        "product_id",
        "ordered_at",
        "quantity",
        "amount",
    ]


def test_gzip_bom_and_gbk_csv(tmp_path, run, read) -> None:
    import gzip

    src = tmp_path / "src"
    src.mkdir()
    text = "user_id,product_id,ordered_at,quantity,amount\n店铺 7,p,2025-01-01,1,1\n"
    with gzip.open(src / "orders.csv.gz", "wt", encoding="utf-8-sig") as fh:
        fh.write(text)
    run()
    assert read("orders")["user_id"].tolist() == ["店铺 7"]
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(text.encode("gb18030"))
    run(files={"orders": gbk}, csv_encoding="gb18030")
    assert read("orders")["user_id"].tolist() == ["店铺 7"]


def test_per_table_files_and_report_printing(tmp_path, write, run) -> None:
    orders = write("o.csv", "user_id,product_id,ordered_at,quantity,amount\nu,p,2025-01-01,0,1")
    items = write("items.csv", "product_id\np")
    report = run(files={"orders": orders, "products": items})
    assert report.sources == {"orders": orders, "products": items}
    lines = "\n".join(report.summary_lines())
    assert "orders: 1 in, 0 ok, 1 rejected" in lines and "quantity <= 0" in lines
    assert report.to_rich_table().row_count == 3  # products, orders and its one reason


def test_map_that_matches_nothing_is_noted(write, run) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu,p,2025-01-01,1,1")
    report = run(maps=("sku=product_id", "products:commodity=category_id"))
    assert report.notes == [
        "--map sku=product_id matched no column",
        "--map products:commodity=category_id matched no column",
    ]


def test_null_spellings_are_missing_values_but_valid_ids(write, run, read) -> None:
    write(
        "orders.csv",
        """
        user_id,product_id,ordered_at,quantity,amount
        NA,null,2025-01-01,1,1
        u,p,2025-01-01,NA,1
    """,
    )
    write(
        "products.csv",
        """
        product_id,price,launched_at
        null,NA,NaT
        p,,
    """,
    )
    report = run()
    assert read("orders")["user_id"].tolist() == ["NA"]
    assert report.rejected == {("orders", "missing quantity"): 1}
    assert read("products")["price"].isna().all()
