"""BG/NBD by hand: likelihood identities and parameter recovery on simulated customers."""

from __future__ import annotations

import numpy as np
import pytest

from features.bgnbd import BGNBD, fit_bgnbd, log_likelihood


def simulate(n: int, r: float, alpha: float, a: float, b: float, T: float, seed: int = 1):
    """Draw customers from the BG/NBD story and summarise them as (x, t_x, T)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > T:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return x, t_x, np.full(n, T)


def test_no_repeat_customer_likelihood_matches_closed_form() -> None:
    # x = 0: L = (alpha / (alpha + T)) ** r (the Gamma-Poisson zero term; no dropout term).
    params = np.array([0.5, 4.0, 0.8, 2.5])
    ll = log_likelihood(params, np.array([0.0]), np.array([0.0]), np.array([30.0]))
    assert ll[0] == pytest.approx(0.5 * np.log(4.0 / 34.0))


def test_p_alive_is_one_without_repeat_and_drops_with_silence() -> None:
    m = BGNBD(r=0.24, alpha=4.4, a=0.79, b=2.4)  # the paper's CDNOW estimates
    assert m.p_alive(np.array([0.0]), np.array([0.0]), np.array([30.0]))[0] == 1.0
    recent, stale = m.p_alive(np.array([5.0, 5.0]), np.array([38.0, 5.0]), np.array([39.0, 39.0]))
    expected = 1 / (1 + 0.79 / (2.4 + 5 - 1) * ((4.4 + 39) / (4.4 + 38)) ** (0.24 + 5))
    assert recent == pytest.approx(expected)
    assert recent > 0.85 > 0.5 > stale


def test_fit_recovers_known_parameters() -> None:
    truth = {"r": 0.5, "alpha": 5.0, "a": 0.6, "b": 2.5}
    x, t_x, T = simulate(6000, truth["r"], truth["alpha"], truth["a"], truth["b"], T=200.0)
    fitted = fit_bgnbd(x, t_x, T)
    assert fitted.r == pytest.approx(truth["r"], rel=0.15)
    assert fitted.alpha == pytest.approx(truth["alpha"], rel=0.25)
    # a and b are weakly identified separately; their mean dropout a / (a + b) is not.
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(0.6 / 3.1, rel=0.3)
    p = fitted.p_purchase(x, t_x, T, 30.0)
    assert np.all((p >= 0) & (p <= 1))
