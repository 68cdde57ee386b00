"""The fast interest scoring path (numpy pair arrays, the LightGBM booster fed directly) gives
the pairs and the scores of the pandas path (build_pairs + the pipeline's predict_proba)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from modelinput.pair_matrix import chunk_pairs, prepare
from modelinput.pairs import PAIR_CATEGORICAL, PAIR_FEATURES, build_pairs
from serving import interest_scoring as scoring
from serving.fast_model import unwrap
from serving.models import Champion
from tests.serving.test_interest_scoring import _arrow, _EveryFeature, _tables


def _lightgbm_champion(method: str | None) -> Champion:
    """The trained interest model's shape: [ColumnTransformer (pandas out) -> LightGBM with a
    categorical identity_type], sigmoid/isotonic-calibrated on a frozen copy, or bare."""
    import lightgbm
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    tables = _tables()
    ui, cs, ua = tables["user_interest"], tables["category_stats"], tables["user_activity"]
    pairs = build_pairs(ui, cs, ua, n_popular=3)
    rng = np.random.default_rng(7)
    signal = pairs["interest_score"].fillna(0) + pairs["recency_days"].fillna(9) / 30
    y = (signal + rng.normal(0, 0.3, len(pairs)) > signal.median()).astype(int).to_numpy()
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    prep = ColumnTransformer(
        [("num", "passthrough", list(PAIR_FEATURES)), ("cat", encoder, list(PAIR_CATEGORICAL))],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    lgbm = lightgbm.LGBMClassifier(n_estimators=25, min_child_samples=5, verbose=-1)
    frame = pairs.assign(identity_type=pairs["identity_type"].astype(object))
    pipe = Pipeline([("prep", prep), ("lgbm", lgbm)])
    pipe.fit(frame, y, lgbm__categorical_feature=list(PAIR_CATEGORICAL))
    model: Any = pipe
    if method is not None:
        noisy = np.where(rng.uniform(size=len(y)) < 0.3, 1 - y, y)  # not a 0/1 isotonic fit
        model = CalibratedClassifierCV(FrozenEstimator(pipe), method=method).fit(frame, noisy)
    return Champion("interest", "grouppush_interest", "5", None, model)


def _inputs() -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    tables = _tables()
    return _arrow(tables["user_interest"]), tables["category_stats"], tables["user_activity"]


def test_pair_arrays_equal_build_pairs() -> None:
    """Every feature of every pair, in build_pairs' row order: null lists, a user unknown to
    user_activity, a category unknown to category_stats, popular candidates added."""
    lists, cs, ua = _inputs()
    want = build_pairs(lists, cs, ua, n_popular=3)
    inputs = prepare(cs, ua, n_popular=3)
    assert inputs is not None
    got = chunk_pairs(lists, inputs)
    assert got is not None
    assert len(got.cat) == len(want)
    cat_ids = np.append(cs[C.CATEGORY_ID].astype(str).to_numpy(), "?")
    user_ids = np.append(ua[C.USER_ID].astype(str).to_numpy(), "?")
    known_cat = want[C.CATEGORY_ID].isin(cs[C.CATEGORY_ID]).to_numpy()
    known_user = want[C.USER_ID].isin(ua[C.USER_ID]).to_numpy()
    np.testing.assert_array_equal(cat_ids[got.cat][known_cat], want[C.CATEGORY_ID][known_cat])
    np.testing.assert_array_equal(user_ids[got.user][known_user], want[C.USER_ID][known_user])
    assert (got.cat[~known_cat] == -1).all() and (got.user[~known_user] == -1).all()
    assert (~known_cat).any() and (~known_user).any()
    for name in PAIR_FEATURES:
        np.testing.assert_array_equal(got.features[name], want[name].to_numpy(), err_msg=name)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic", None])
def test_fast_scores_equal_the_pipeline(method: str | None) -> None:
    champion = _lightgbm_champion(method)
    assert unwrap(champion.model) is not None
    lists, cs, ua = _inputs()
    fast = scoring._fast_scorer(champion, lists, cs, ua, n_popular=3)
    assert fast is not None
    got = scoring._score_fast(fast, lists, chunk_users=7)
    want = scoring._score_frames(champion, lists, cs, ua, n_popular=3, chunk_users=7)
    assert got is not None and want is not None
    for a, b in zip(got[0], want[0], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-7)
    assert np.unique(got[1]).size > 5  # real model scores
    public = scoring.score_interest(champion, lists, cs, ua, n_popular=3, chunk_users=7)
    assert public is not None
    np.testing.assert_array_equal(public[1], got[1])


def test_other_models_and_disagreement_use_the_pipeline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A model of another shape is scored through its own predict_proba; so is a LightGBM
    model whose fast scores disagree with the pipeline on the sample users."""
    lists, cs, ua = _inputs()
    other = Champion("interest", "grouppush_interest", "3", None, _EveryFeature())
    assert unwrap(other.model) is None
    assert scoring._fast_scorer(other, lists, cs, ua, n_popular=3) is None

    champion = _lightgbm_champion("sigmoid")
    from serving.fast_model import FastModel

    real = FastModel.predict
    monkeypatch.setattr(FastModel, "predict", lambda self, c, n: real(self, c, n) * 0.9)
    assert scoring._fast_scorer(champion, lists, cs, ua, n_popular=3) is None
    assert "differs from the pipeline" in caplog.text
    got = scoring.score_interest(champion, lists, cs, ua, n_popular=3, chunk_users=7)
    want = scoring._score_frames(champion, lists, cs, ua, n_popular=3, chunk_users=7)
    assert got is not None and want is not None
    np.testing.assert_array_equal(got[1], want[1])
