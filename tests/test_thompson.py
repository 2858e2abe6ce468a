"""Runs proposed from the combined fit's posterior: the draws' covariance is the grouped
jackknife's, P(best) is the normal probability in a closed-form case, the first run is the
lowest posterior mean among the candidates, runs already made are never proposed again, and
too few runs give a space-filling design."""

import math

import numpy as np
import pytest
from helpers import TRUE3, synthetic_table

import jaxmix
from jaxmix.cli.main import main
from jaxmix.fitting.combined import stored_combination
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


@pytest.fixture(scope="module")
def pilots():
    return synthetic_table(TRUE3, scales=(1.0, 3.0), noise=3e-3, seed=7)


def test_first_run_is_the_candidate_with_the_lowest_posterior_mean(pilots):
    rng = np.random.default_rng(3)
    cands = rng.dirichlet(np.ones(3), 40)
    budget = 40.0
    prop = jaxmix.propose(pilots, budget, runs=4, candidates=cands)
    comb, _, _ = stored_combination(jaxmix.fit(pilots))
    f_full, _ = decision.objectives(comb, 3, cands, budget, np.ones(3))
    np.testing.assert_allclose(prop.weights[0], cands[np.argmin(f_full)], atol=1e-12)
    rows = [int(np.argmin(np.abs(cands - w).sum(axis=1))) for w in prop.weights]
    np.testing.assert_allclose(prop.weights, cands[rows], atol=1e-12)  # candidates only
    assert len(set(rows)) == 4 and np.all(np.diff(prop.p_best) <= 1.0)
    np.testing.assert_allclose(prop.table.amounts.sum(axis=1), budget)
    # a candidate already run at the budget is evidence, not a proposal
    seen = pilots._replace(
        runs=pilots.runs + ("done",),
        amounts=np.vstack([pilots.amounts, prop.weights[:1] * budget]),
        losses={d: np.append(v, 2.0) for d, v in pilots.losses.items()},
    )
    again = jaxmix.propose(seen, budget, runs=2, candidates=cands)
    assert not np.any(np.all(np.isclose(again.weights, prop.weights[0]), axis=1))


def test_continuous_proposals_stay_inside_the_bounds(pilots):
    prop = jaxmix.propose(pilots, 40.0, runs=3, max_weight={"a": 0.3})
    assert prop.table.runs == ("next1", "next2", "next3")
    assert np.all(prop.weights[:, 0] <= 0.3 + 1e-9) and np.all(prop.weights >= -1e-12)
    gaps = np.abs(prop.weights[:, None] - prop.weights[None]).sum(axis=2)
    assert np.all(gaps[~np.eye(3, dtype=bool)] > 0.02)  # distinct runs
    assert prop.p_best.sum() == pytest.approx(1.0)


def test_too_few_runs_give_new_candidates_and_say_why(pilots):
    rows = [0, 1, 5, 9]  # the base run and one move of each domain: 4 runs, 5 parameters
    few = pilots._replace(
        runs=tuple(pilots.runs[r] for r in rows),
        amounts=pilots.amounts[rows],
        losses={d: v[rows] for d, v in pilots.losses.items()},
    )
    cands = np.random.default_rng(0).dirichlet(np.ones(3), 30)
    prop = jaxmix.propose(few, 40.0, runs=2, candidates=cands)
    rows = [int(np.argmin(np.abs(cands - w).sum(axis=1))) for w in prop.weights]
    np.testing.assert_allclose(prop.weights, cands[rows])
    assert len(set(rows)) == 2 and "too few runs" in prop.reasons[0]
    fixed = few._replace(amounts=np.where(np.arange(3) == 2, 0.0, few.amounts))
    two = np.array([[0.5, 0.5, 0.0], [0.4, 0.4, 0.2]])
    prop = jaxmix.propose(fixed, 40.0, runs=1, candidates=two)
    np.testing.assert_allclose(prop.weights[0], [0.4, 0.4, 0.2])
    assert "never varied (c)" in prop.reasons[0]


def test_cli_next_reads_candidates_and_rejects_bad_ones(tmp_path, pilots, capsys):
    path = tmp_path / "pilots.csv"
    jaxmix.write_pilots(pilots, path)
    cands = tmp_path / "cands.csv"
    cands.write_text("name,w:a,w:b,w:c\nx,0.2,0.3,0.5\ny,0.5,0.3,0.2\nz,0.3,0.4,0.3\n")
    out = tmp_path / "next.csv"
    base = ["next", str(path), "--budget", "40", "--runs", "2", "-o", str(out)]
    assert main(base + ["--candidates", str(cands)]) == 0
    assert "lowest expected objective" in capsys.readouterr().out
    got = jaxmix.read_pilots(out).amounts / 40.0
    allowed = np.array([[0.2, 0.3, 0.5], [0.5, 0.3, 0.2], [0.3, 0.4, 0.3]])
    assert all(np.abs(allowed - w).sum(axis=1).min() < 0.01 for w in got)
    out.unlink()
    assert main(base + ["--candidates", str(cands), "--law", "transfer"]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("w:a,w:b,w:c\n0.2,0.3,0.6\n")
    assert main(base + ["--candidates", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv:2:" in err and "sum to 1.1" in err and not out.exists()


def test_a_domain_no_candidate_varies_is_left_out_of_the_fit(pilots):
    # a fourth source that every run and every candidate leaves out (a swarm's unused source)
    four = pilots._replace(
        domains=pilots.domains + ("d",),
        amounts=np.hstack([pilots.amounts, np.zeros((len(pilots.runs), 1))]),
    )
    rng = np.random.default_rng(5)
    cands3 = rng.dirichlet(np.ones(3), 25)
    cands4 = np.hstack([cands3, np.zeros((25, 1))])
    with_d = jaxmix.propose(four, 40.0, runs=3, candidates=cands4)
    without = jaxmix.propose(pilots, 40.0, runs=3, candidates=cands3)
    np.testing.assert_allclose(with_d.weights[:, :3], without.weights, atol=1e-12)
    np.testing.assert_allclose(with_d.weights[:, 3], 0.0)
    np.testing.assert_allclose(with_d.p_best, without.p_best)
