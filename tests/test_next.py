"""`jaxmix next`: proposed runs at the budget (by default from the combined fit's posterior:
the lowest posterior mean first, candidates only, runs already made never again, too few runs
give runs that vary the design), and the loop back into fit and optimize; the optimizer's
extrapolation warnings."""

import numpy as np
import pytest
from helpers import TRUE3, synthetic_table

import jaxmix
from jaxmix.cli.main import main
from jaxmix.fitting.combined import stored_combination
from jaxmix.io.pilots import whole_amounts
from jaxmix.optimization import decision
from jaxmix.study.propose import propose


@pytest.fixture(scope="module")
def noisy():
    return synthetic_table(TRUE3, scales=(1.0, 3.0), noise=3e-3, seed=7)


def test_first_run_is_the_recommendation_and_the_others_move_within_bounds(noisy):
    budget = 50.0
    prop = propose(noisy, budget, runs=3, law="transfer", resamples=16, max_weight={"a": 0.5})
    mix = jaxmix.optimize(jaxmix.fit(noisy, law="transfer"), budget, max_weight={"a": 0.5})
    np.testing.assert_allclose(prop.weights[0], mix.weights, atol=1e-9)
    assert prop.table.runs == ("next1", "next2", "next3")
    np.testing.assert_allclose(prop.table.amounts.sum(axis=1), budget)
    assert np.all(prop.weights[:, 0] <= 0.5 + 1e-9) and np.all(prop.weights >= -1e-12)
    moves = prop.weights[1:] - prop.weights[0]
    assert np.all(np.linalg.norm(moves, axis=1) > 1e-3)
    unit = moves / np.linalg.norm(moves, axis=1, keepdims=True)
    np.testing.assert_allclose(unit[0], -unit[1], atol=1e-6)  # opposite along one axis
    assert all(np.isnan(v).all() for v in prop.table.losses.values())


def test_whole_amounts_sum_to_the_budget():
    rng = np.random.default_rng(0)
    for _ in range(20):
        w = rng.dirichlet(np.ones(4))
        a = whole_amounts(w, 997)
        assert a.sum() == 997 and np.all(np.abs(a - w * 997) < 1)


def test_cli_next_then_refit_closes_the_loop(tmp_path, noisy, capsys):
    pilots = tmp_path / "pilots.csv"
    jaxmix.write_pilots(noisy, pilots)
    out = tmp_path / "next.csv"
    args = ["next", str(pilots), "--budget", "40", "--runs", "2"]
    assert main(args + ["-o", str(out)]) == 0
    assert "the mixture with the lowest expected objective" in capsys.readouterr().out
    proposed = jaxmix.read_pilots(out)
    assert proposed.domains == noisy.domains and len(proposed.runs) == 2
    # the user trains them (here: the true law) and appends them to the pilots
    y = np.asarray(jaxmix.predict(jaxmix.from_params(TRUE3), proposed.amounts))
    filled = {d: y[:, i] for i, d in enumerate(noisy.domains)}
    rows = out.read_text().splitlines()[1:]
    with open(pilots, "a") as f:
        for r, row in enumerate(rows):
            cells = row.split(",")[: 1 + len(noisy.domains)]
            f.write(",".join(cells + [repr(float(filled[d][r])) for d in noisy.domains]) + "\n")
    grown = jaxmix.read_pilots(pilots)
    assert len(grown.runs) == len(noisy.runs) + 2
    again = tmp_path / "next2.csv"
    assert main(args[:1] + [str(pilots)] + args[2:] + ["-o", str(again)]) == 0
    assert set(jaxmix.read_pilots(again).runs).isdisjoint(grown.runs)
    assert main(args[:1] + [str(pilots), "--budget", "40", "--runs", "0", "-o", str(again)]) == 2


def test_optimize_warns_when_extrapolating_or_resting_on_the_largest_pilots():
    fit = jaxmix.fit(
        synthetic_table(TRUE3, scales=(1.0,), noise=1e-4), check_extrapolation=True, law="transfer"
    )
    near = jaxmix.optimize(fit, 4.0)
    assert not any("extrapolating" in w for w in near.warnings)
    far = jaxmix.optimize(fit, 40.0)
    assert any("extrapolating" in w and "jaxmix next" in w for w in far.warnings)
    other = {d: dict(TRUE3[d], C=TRUE3[d]["C"] * (3.0 if d == "a" else 1.0)) for d in TRUE3}
    shifted = fit._replace(diagnostics={**fit.diagnostics, "holdout_params": other})
    assert any("rests on the largest pilots" in w for w in jaxmix.optimize(shifted, 4.0).warnings)


def test_plan_with_a_budget_adds_near_runs_and_prices_the_pilots(tmp_path, capsys):
    out = tmp_path / "plan.csv"
    args = ["plan", "--domains", "a,b,c", "--base", "100", "--budget", "1500"]
    assert main(args + ["--near-runs", "3", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    table = jaxmix.read_pilots(out)
    assert table.runs[-3:] == ("near_base", "near_ax2", "near_bx2")
    np.testing.assert_allclose(table.amounts[-3:].sum(axis=1), 750.0)
    assert table.amounts[-2, 0] == pytest.approx(2 * table.amounts[-2, 1], abs=1)
    cost = table.amounts.sum() / 1500
    assert f"pilot cost: {cost:.2f} full-budget runs" in err and "21 mixtures" in err
    assert main(args + ["--near-runs", "9", "-o", str(out)]) == 2
    assert main(args + ["--near-fraction", "1.5", "-o", str(out)]) == 2


def test_run_bootstrap_uses_the_chosen_law(tmp_path):
    truth = {d: dict(TRUE3[d], gamma=0.3, B=2.0) for d in TRUE3}
    pilots = tmp_path / "pilots.csv"
    jaxmix.write_pilots(synthetic_table(truth, scales=(1.0, 3.0), law="broken"), pilots)
    fit_path, mix_path = tmp_path / "fit.json", tmp_path / "mix.json"
    args = ["-q", "run", str(pilots), "--law", "broken", "--budget", "20"]
    assert (
        main(args + ["--bootstrap", "4", "--fit-output", str(fit_path), "-o", str(mix_path)]) == 0
    )
    import json

    assert json.loads(fit_path.read_text())["law"] == "broken"
    mix = json.loads(mix_path.read_text())
    direct = jaxmix.optimize(jaxmix.read_fit(fit_path), 20.0)
    np.testing.assert_allclose([mix["weights"][d] for d in TRUE3], direct.weights, atol=1e-6)


def test_first_run_is_the_candidate_with_the_lowest_posterior_mean(noisy):
    rng = np.random.default_rng(3)
    cands = rng.dirichlet(np.ones(3), 40)
    budget = 40.0
    prop = jaxmix.propose(noisy, budget, runs=4, candidates=cands)
    comb, _, _ = stored_combination(jaxmix.fit(noisy))
    f_full, _ = decision.objectives(comb, 3, cands, budget, np.ones(3))
    np.testing.assert_allclose(prop.weights[0], cands[np.argmin(f_full)], atol=1e-12)
    rows = [int(np.argmin(np.abs(cands - w).sum(axis=1))) for w in prop.weights]
    np.testing.assert_allclose(prop.weights, cands[rows], atol=1e-12)  # candidates only
    assert len(set(rows)) == 4 and np.all((prop.p_best >= 0) & (prop.p_best <= 1))
    np.testing.assert_allclose(prop.table.amounts.sum(axis=1), budget)
    # a candidate already run at the budget is evidence, not a proposal
    seen = noisy._replace(
        runs=noisy.runs + ("done",),
        amounts=np.vstack([noisy.amounts, prop.weights[:1] * budget]),
        losses={d: np.append(v, 2.0) for d, v in noisy.losses.items()},
    )
    again = jaxmix.propose(seen, budget, runs=2, candidates=cands)
    assert not np.any(np.all(np.isclose(again.weights, prop.weights[0]), axis=1))


def test_continuous_proposals_stay_inside_the_bounds(noisy):
    prop = jaxmix.propose(noisy, 40.0, runs=3, max_weight={"a": 0.3})
    assert prop.table.runs == ("next1", "next2", "next3")
    assert np.all(prop.weights[:, 0] <= 0.3 + 1e-9) and np.all(prop.weights >= -1e-12)
    gaps = np.abs(prop.weights[:, None] - prop.weights[None]).sum(axis=2)
    assert np.all(gaps[~np.eye(3, dtype=bool)] > 0.02)  # distinct runs
    assert prop.p_best.sum() == pytest.approx(1.0)


def test_too_few_runs_give_new_candidates_and_say_why(noisy):
    rows = [0, 1, 5, 9]  # the base run and one move of each domain: 4 runs, 5 parameters
    few = noisy._replace(
        runs=tuple(noisy.runs[r] for r in rows),
        amounts=noisy.amounts[rows],
        losses={d: v[rows] for d, v in noisy.losses.items()},
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


def test_cli_next_reads_candidates_and_rejects_bad_ones(tmp_path, noisy, capsys):
    path = tmp_path / "noisy.csv"
    jaxmix.write_pilots(noisy, path)
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


def test_a_domain_no_candidate_varies_is_left_out_of_the_fit(noisy):
    # a fourth source that every run and every candidate leaves out (a swarm's unused source)
    four = noisy._replace(
        domains=noisy.domains + ("d",),
        amounts=np.hstack([noisy.amounts, np.zeros((len(noisy.runs), 1))]),
    )
    rng = np.random.default_rng(5)
    cands3 = rng.dirichlet(np.ones(3), 25)
    cands4 = np.hstack([cands3, np.zeros((25, 1))])
    with_d = jaxmix.propose(four, 40.0, runs=3, candidates=cands4)
    without = jaxmix.propose(noisy, 40.0, runs=3, candidates=cands3)
    np.testing.assert_allclose(with_d.weights[:, :3], without.weights, atol=1e-12)
    np.testing.assert_allclose(with_d.weights[:, 3], 0.0)
    np.testing.assert_allclose(with_d.p_best, without.p_best)
