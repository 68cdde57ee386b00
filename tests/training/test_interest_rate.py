"""The interest model fits with its own learning rate when training.interest_learning_rate
is set, with the shared one otherwise; the other models keep the shared one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from configs.settings import TrainingSettings, load_settings
from training.estimator import lgbm_params
from training.interest import fit_settings


def test_interest_rate_overrides_the_shared_one() -> None:
    cfg = TrainingSettings(learning_rate=0.05, interest_learning_rate=0.1)
    assert lgbm_params(fit_settings(cfg))["learning_rate"] == 0.1
    assert lgbm_params(cfg)["learning_rate"] == 0.05  # repurchase and push: unchanged
    assert fit_settings(cfg).num_boost_round == cfg.num_boost_round


def test_none_keeps_the_shared_rate() -> None:
    cfg = TrainingSettings(learning_rate=0.07, interest_learning_rate=None)
    assert fit_settings(cfg) is cfg


def test_default_and_validation() -> None:
    assert load_settings("demo").training.interest_learning_rate == 0.1
    with pytest.raises(ValidationError):
        TrainingSettings(interest_learning_rate=0)
