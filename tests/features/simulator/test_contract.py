"""Every written table conforms to features/contract/schema.py; ids are consistent across tables."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from pandas.api import types as pdt

from configs import columns as C
from features.contract.schema import TABLES

SimRun = Any  # tests/features/simulator/conftest.py:SimRun (conftest modules are not importable)

CHECKS = {
    "str": lambda s: pdt.is_object_dtype(s) or pdt.is_string_dtype(s),
    "timestamp": lambda s: isinstance(s.dtype, pd.DatetimeTZDtype) and str(s.dt.tz) == "UTC",
    "float": pdt.is_float_dtype,
    "int": pdt.is_integer_dtype,
    "bool": pdt.is_bool_dtype,
}


@pytest.mark.parametrize("name", list(TABLES))
def test_table_matches_schema(tiny_run: SimRun, name: str) -> None:
    df = tiny_run.table(name)
    spec = TABLES[name]
    assert list(df.columns) == spec.names
    assert len(df) == tiny_run.counts[name] > 0
    for col in spec.columns:
        assert CHECKS[col.kind](df[col.name]), f"{name}.{col.name}: {df[col.name].dtype}"
        if col.required:
            assert df[col.name].notna().all(), f"{name}.{col.name} has nulls"
        if col.strict_positive:
            assert (df[col.name].dropna() > 0).all()
        if col.min_value is not None:
            assert (df[col.name].dropna() >= col.min_value).all()
    if spec.key:
        assert not df.duplicated(list(spec.key)).any(), f"{name}: duplicate keys"


def test_references_resolve(tiny_run: SimRun) -> None:
    orders, users = tiny_run.table("orders"), tiny_run.table("users")
    products, groups = tiny_run.table("products"), tiny_run.table("groups")
    assert orders[C.USER_ID].isin(users[C.USER_ID]).all()
    assert orders[C.PRODUCT_ID].isin(products[C.PRODUCT_ID]).all()
    assert orders[C.GROUP_ID].isin(groups[C.GROUP_ID]).all()
    # an order is one user on one day in one group
    per_order = orders.groupby(C.ORDER_ID).agg(
        u=(C.USER_ID, "nunique"), t=(C.ORDERED_AT, "nunique")
    )
    assert (per_order[["u", "t"]] == 1).all().all()
    end = pd.Timestamp(tiny_run.settings.simulate.end_date, tz="UTC") + pd.Timedelta(days=1)
    assert orders[C.ORDERED_AT].max() < end
    future = tiny_run.truth_table("future_orders")
    assert list(future.columns) == TABLES["orders"].names
    assert future[C.ORDERED_AT].min() >= end
    # products are bought only once launched
    launched = orders.merge(products, on=C.PRODUCT_ID)
    assert (launched[C.ORDERED_AT] >= launched[C.LAUNCHED_AT].dt.floor("D")).all()
