"""The process on the law's residuals: its likelihood is the Gaussian one (scipy), it
recovers a residual that depends on one domain and finds that domain's length scale, it
interpolates low-noise runs, and it moves the proposals where the runs beat the law."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from jaxmix.study.residual_gp import _factor, fit_residual_gp, gp_posterior, matern52
from jaxmix.study.thompson import thompson_picks


def test_profiled_likelihood_is_the_gaussian_one():
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(4), 12)
    r = rng.normal(size=12) * 0.01
    length, noise = np.array([0.3, 0.5, 0.7, 1.1]), 0.05
    nll, (alpha, chol, scale) = _factor(x, r, length, noise)
    cov = scale * (matern52(x, x, length) + noise * np.eye(12))
    exact = -multivariate_normal(np.zeros(12), cov).logpdf(r)
    assert nll == pytest.approx(exact - 0.5 * 12 * np.log(2 * np.pi) - 0.5 * 12, rel=1e-9)
    assert scale == pytest.approx(r @ np.linalg.solve(cov / scale, r) / 12, rel=1e-9)


def test_recovers_a_residual_of_one_domain_and_its_length_scale():
    rng = np.random.default_rng(1)
    x = rng.dirichlet(np.ones(6), 30)
    f = lambda w: 0.02 * np.sin(8 * w[:, 0])  # noqa: E731
    gp = fit_residual_gp(x, f(x) + 1e-4 * rng.normal(size=30))
    assert gp.length[0] < 0.5 * np.min(gp.length[1:])
    test = rng.dirichlet(np.ones(6), 200)
    mean, cov = gp_posterior(gp, test)
    assert np.sqrt(np.mean((mean - f(test)) ** 2)) < 0.2 * np.std(f(test))
    mean_at, _ = gp_posterior(gp, x)
    np.testing.assert_allclose(mean_at, f(x), atol=2e-3)  # low noise: near the runs
    assert np.all(np.diag(cov) >= -1e-12)


def test_too_few_runs_give_no_process():
    assert fit_residual_gp(np.eye(3)[:2], np.array([0.1, -0.1])) is None


def test_residuals_move_the_proposals_where_the_runs_beat_the_law():
    # the law sees no difference; the runs near (0.8, 0.1, 0.1) were 3% better than it said
    rng = np.random.default_rng(2)
    runs = rng.dirichlet(np.ones(3), 24)
    r = -0.03 * np.exp(-np.sum((runs - [0.8, 0.1, 0.1]) ** 2, axis=1) / 0.1)
    gp = fit_residual_gp(runs, r)
    cands = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    flat = np.ones(3)
    picks = thompson_picks(flat, np.ones((4, 3)), cands, 1, rng, gp=gp)
    assert picks.index.tolist() == [0] and picks.mean[0] < 0.985
