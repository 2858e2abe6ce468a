"""The posterior behind the proposals: the draws' covariance is the grouped jackknife's,
P(best) is the normal probability in a closed-form case, and with no model yet the picks vary
the domains never varied (the proposals themselves: tests/test_next.py)."""

import math

import numpy as np
import pytest

from jaxmix.optimization import decision
from jaxmix.study.thompson import objective_draws, thompson_picks, unlocking_picks


def test_draws_have_the_grouped_jackknife_covariance():
    rng = np.random.default_rng(0)
    f_folds = rng.normal(size=(6, 4))
    f_full = rng.normal(size=4)
    draws = objective_draws(f_full, f_folds, 200_000, rng)
    dev = f_folds - f_folds.mean(axis=0)
    expected = (6 - 1) / 6 * dev.T @ dev
    np.testing.assert_allclose(draws.mean(axis=0), f_full, atol=0.02)
    np.testing.assert_allclose(np.cov(draws, rowvar=False), expected, atol=0.03)
    # the spread of decision.gain_stats' jackknife standard error of a relative gain
    small = objective_draws(10 + 1e-3 * f_full, 10 + 1e-3 * f_folds, 200_000, rng)
    _, se = decision.gain_stats(10 + 1e-3 * f_full, 10 + 1e-3 * f_folds, 0, [1])
    diff = (small[:, 0] - small[:, 1]) / 10
    assert np.std(diff) == pytest.approx(se[0], rel=0.02)


def test_p_best_of_two_candidates_is_the_normal_probability():
    # two folds: f1 - f0 is Gaussian, mean 0.1, sd sqrt((F - 1) / F * (0.2^2 + 0.2^2)) = 0.2
    f_full = np.array([1.0, 1.1])
    f_folds = np.array([[1.0, 1.3], [1.0, 0.9]])
    picks = thompson_picks(f_full, f_folds, np.eye(2), 2, np.random.default_rng(1), draws=100_000)
    sd = math.sqrt(0.5 * (0.2**2 + 0.2**2))
    p0 = 0.5 * (1 + math.erf(0.1 / sd / math.sqrt(2)))
    assert picks.index.tolist() == [0, 1]
    np.testing.assert_allclose(picks.p_best, [p0, 1 - p0], atol=0.01)


def test_unlocking_picks_vary_the_domains_never_varied():
    pts = np.array([[0.5, 0.5, 0.0, 0.0], [0.4, 0.0, 0.3, 0.3], [0.0, 0.0, 0.0, 1.0]])
    fixed = np.array([False, False, True, True])
    picks = unlocking_picks(pts, fixed, 2, np.random.default_rng(0))
    assert picks[0] == 1 and picks[1] in (0, 2)
