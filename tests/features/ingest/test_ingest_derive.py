"""Tables a plain transaction log lacks are derived from the orders, and the report says so."""

from __future__ import annotations

import pandas as pd

UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def test_groups_from_store_column(write, run, read) -> None:
    write(
        "orders.csv",
        """
        user_id,product_id,ordered_at,quantity,amount,store_id
        u1,p1,2025-01-03,1,2,s1
        u1,p1,2025-01-01,2,2,s2
        u1,p2,2025-01-02,1,3,s2
        u2,p1,2025-01-04,1,4,s1
        u2,p1,2025-01-05,1,4,s2
        u3,p2,2025-01-06,1,1,
    """,
    )
    report = run()
    members = read("memberships")
    assert members.to_dict("records") == [
        {"group_id": "s1", "user_id": "u2", "joined_at": ts("2025-01-04"), "role": "member"},
        {"group_id": "s2", "user_id": "u1", "joined_at": ts("2025-01-01"), "role": "member"},
    ]  # u1: 2 orders in s2; u2: tie, earliest first order wins; u3 has no store
    groups = read("groups")
    assert groups.to_dict("records") == [
        {
            "group_id": "s1",
            "store_id": "s1",
            "group_type": "consumer",
            "created_at": ts("2025-01-03"),
        },
        {
            "group_id": "s2",
            "store_id": "s2",
            "group_type": "consumer",
            "created_at": ts("2025-01-01"),
        },
    ]
    users = read("users").set_index("user_id")
    assert users["store_id"].to_dict() == {"u1": "s2", "u2": "s1", "u3": None}
    assert users["registered_at"].to_dict() == {
        "u1": ts("2025-01-01"),
        "u2": ts("2025-01-04"),
        "u3": ts("2025-01-06"),
    }
    # the log does not say who the users are: no identity/channel/region is guessed
    assert users[["identity_type", "channel", "region"]].isna().all().all()
    products = read("products").set_index("product_id")
    assert products["category_id"].to_dict() == {"p1": "p1", "p2": "p2"}
    assert products["price"].to_dict() == {"p1": 3.0, "p2": 2.0}  # medians of 2,1,4,4 and 3,1
    assert any(s.startswith("groups: 2 derived from orders.store_id") for s in report.derived)
    assert any(s.startswith("memberships: 2 derived") for s in report.derived)


def test_groups_from_group_id_with_majority_store_and_identity(write, run, read) -> None:
    write(
        "orders.csv",
        """
        user_id,product_id,ordered_at,quantity,amount,group_id,store_id
        a,p,2025-01-02,1,1,g1,s1
        a,p,2025-01-03,1,1,g1,s2
        b,p,2025-01-01,1,1,g1,s2
        c,p,2025-01-05,1,1,g2,s1
        c,p,2025-01-06,1,1,g1,s1
        c,p,2025-01-07,1,1,g2,s1
    """,
    )
    write(
        "users.csv",
        """
        user_id,identity_type
        a,physical_store
        b,physical_store
        c,wechat_merchant
    """,
    )
    report = run()
    groups = read("groups").set_index("group_id")
    assert groups["store_id"].to_dict() == {"g1": "s2", "g2": "s1"}
    assert groups["group_type"].to_dict() == {"g1": "physical_store", "g2": "wechat_merchant"}
    assert groups["created_at"].to_dict() == {"g1": ts("2025-01-01"), "g2": ts("2025-01-05")}
    members = read("memberships").set_index("user_id")["group_id"].to_dict()
    assert members == {"a": "g1", "b": "g1", "c": "g2"}
    assert "users" not in " ".join(report.derived)  # users was given


def test_no_group_columns_derives_no_groups(write, run, tmp_path) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu,p,2025-01-01,1,1")
    report = run()
    assert not (tmp_path / "data" / "groups.parquet").exists()
    assert any("neither group_id nor store_id" in s for s in report.derived)


def test_given_products_without_category_get_their_own(write, run, read) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu,p1,2025-01-01,1,1")
    write("products.csv", "product_id,price\np1,3\np2,4")
    report = run()
    assert read("products").to_dict("records") == [
        {"product_id": "p1", "category_id": "p1", "price": 3.0},
        {"product_id": "p2", "category_id": "p2", "price": 4.0},
    ]
    assert any(s.startswith("products: category_id = product_id for 2 ") for s in report.derived)


def test_given_products_with_gaps_in_category(write, run, read) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu,p1,2025-01-01,1,1")
    write("products.csv", "product_id,category_id\np1,c\np2,")
    run()
    assert read("products")["category_id"].tolist() == ["c", "p2"]


def test_given_memberships_give_groups(write, run, read) -> None:
    write("orders.csv", "user_id,product_id,ordered_at,quantity,amount\nu,p1,2025-01-01,1,1")
    write("memberships.csv", "group_id,user_id,joined_at\ng9,u,2024-12-01")
    run()
    assert read("groups").to_dict("records") == [
        {"group_id": "g9", "group_type": "consumer", "created_at": ts("2024-12-01")}
    ]
    assert read("memberships")["group_id"].tolist() == ["g9"]


def test_empty_group_id_column_falls_back_to_store(write, run, read) -> None:
    write(
        "orders.csv",
        """
        user_id,product_id,ordered_at,quantity,amount,group_id,store_id
        u,p,2025-01-01,1,1,,s1
    """,
    )
    report = run()
    assert read("memberships")["group_id"].tolist() == ["s1"]
    assert any(s.startswith("groups: 1 derived from orders.store_id") for s in report.derived)
