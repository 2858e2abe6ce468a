"""Targets that are not training domains: score:/loss: columns, --objective, the target law,
its optimum and the decision against the best observed run."""

import csv
import io
import json

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import scipy_simplex_minimum
from scipy.optimize import minimize as scipy_minimize

from jaxmix.cli.main import main
from jaxmix.fitting.targets import fit_targets
from jaxmix.io.pilots import parse_pilots_csv, pilots_to_csv, read_pilots
from jaxmix.laws.targets import mixing_law_params, objective
from jaxmix.objective import parse_objective
from jaxmix.optimization.targets import covered_fraction, solve_targets
from jaxmix.status import InputError
from jaxmix.study.targets import recommend_targets
from jaxmix.table import PilotTable

K, R = 19, 48


def _swarm(seed=0, k=K, r=R, noise=0.003, signal=1.0):
    """A Dirichlet-sparse fixed-budget swarm with one score from a known target law."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(k, 0.3), r)
    theta = signal * rng.normal(0.0, 1.0, k)
    truth = lambda x: 0.62 - 0.3 * np.exp(-0.8 + x @ theta)  # noqa: E731
    score = truth(w) + noise * rng.standard_normal(r)
    table = PilotTable(tuple(f"src{j}" for j in range(k)), tuple(f"r{i}" for i in range(r)),
                       np.round(1e6 * w), {}, scores={"avg": score})
    return table, truth, rng


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(header)
        wr.writerows(rows)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- the table and the objective ------------------------------------------------------


def test_score_columns_read_write_round_trip():
    t = parse_pilots_csv("run,n:a,n:b,score:acc,loss:total\nx,1,2,0.5,\ny,2,1,-0.25,1.5\n")
    assert t.losses.keys() == {"total"} and t.scores.keys() == {"acc"}
    np.testing.assert_array_equal(t.scores["acc"], [0.5, -0.25])
    assert np.isnan(t.losses["total"][0])
    back = parse_pilots_csv(pilots_to_csv(t))
    np.testing.assert_array_equal(back.scores["acc"], t.scores["acc"])
    assert list(back.targets()) == ["loss:total", "score:acc"]


@pytest.mark.parametrize("text, message, column", [
    ("n:a,n:b,score:acc\n1,2,high\n", "'high' is not a number", "score:acc"),
    ("n:a,n:b,loss:acc,score:acc\n1,2,1,0.5\n", "both a loss and a score", "score:acc"),
    ("n:a,n:b,score:\n1,2,1\n", "no domain after ':'", "score:"),
    ("n:a,n:b\n1,2\n", "no loss:<name> or score:<name> column", None),
])
def test_bad_score_columns(text, message, column):
    with pytest.raises(InputError, match=message) as err:
        parse_pilots_csv(text, "p.csv")
    assert err.value.column == column and "\n" not in str(err.value)


def test_objective_weights_patterns_and_default():
    targets = ["loss:a", "loss:b", "score:gsm8k", "score:ifeval"]
    obj = parse_objective("score:*=2, loss:a", targets, ("a", "b"))
    assert obj.columns == ("score:gsm8k", "score:ifeval", "loss:a")
    np.testing.assert_array_equal(obj.weights, [2, 2, 1])
    np.testing.assert_array_equal(obj.signs, [-1, -1, 1])
    # value: lower is better, so a higher score lowers it
    assert obj.value([0.5, 0.5, 1.0]) == pytest.approx(-2 * 0.5 - 2 * 0.5 + 1.0)
    assert parse_objective("loss:*", targets, ("a", "b")).is_domain_losses(("a", "b"))
    assert parse_objective(None, targets, ("a", "b")) is None  # every domain has its loss
    only = parse_objective(None, ["score:x"], ("a", "b"))
    assert only.columns == ("score:x",) and only.signs[0] == -1


@pytest.mark.parametrize("spec, message", [
    ("score:nope", "names no column"),
    ("acc", "is not a loss:<name> or score:<name>"),
    ("score:x=-1", "must be > 0"),
    ("score:x=abc", "is not a number"),
    ("score:x,score:*", "names score:x twice"),
    ("score:x,,loss:y", "empty entry"),
    (None, "choose the objective with --objective from score:x, loss:y"),
])
def test_bad_objectives(spec, message):
    with pytest.raises(InputError, match=message):
        parse_objective(spec, ["score:x", "loss:y"], ("a", "b"))


# --- the law, its fit and its optimum ---------------------------------------------------


def test_fit_recovers_a_known_law_out_of_sample():
    table, truth, rng = _swarm(noise=0.001)
    fit = fit_targets(table, parse_objective("score:avg", table.targets()))
    assert np.all(fit.status == 0) and np.all(fit.fold_status == 0)
    new = rng.dirichlet(np.full(K, 0.3), 200)
    pred = np.asarray(objective(fit.params, fit.objective.signs, fit.objective.weights, new))
    # objective = -score; out-of-sample error well under the spread of the scores
    err = np.sqrt(np.mean((-pred - truth(new)) ** 2))
    assert err < 0.1 * np.std(truth(new))


def test_targets_fitted_together_equal_one_by_one():
    table, _, rng = _swarm(k=5, r=30)
    table = table._replace(losses={"bpb": 1.0 + 0.3 * np.exp(table.amounts[:, 0] / 1e6)
                                   + 0.01 * rng.standard_normal(30)})
    both = fit_targets(table, parse_objective("loss:bpb,score:avg", table.targets()))
    for j, col in enumerate(("loss:bpb", "score:avg")):
        one = fit_targets(table, parse_objective(col, table.targets()))
        for a, b in zip(both.params, one.params):
            np.testing.assert_allclose(np.asarray(a)[j], np.asarray(b)[0], rtol=1e-6, atol=1e-9)
        assert one.ridge[0] == both.ridge[j]


def _random_target_fit(rng, k=4, t=3):
    """A stand-in with the fields solve_targets reads, and the objective as a function."""
    params = mixing_law_params(floor=jnp.asarray(rng.uniform(1, 2, t)),
                               log_scale=jnp.asarray(rng.normal(0, 0.3, t)),
                               theta=jnp.asarray(rng.normal(0, 1.5, (t, k))))
    signs, coef = np.array([1.0, 1.0, -1.0]), np.array([1.0, 0.5, 2.0])

    class Fit:
        pass

    fit = Fit()
    fit.params, fit.domains = params, tuple("abcdefgh"[:k])
    fit.objective = type("O", (), {"signs": signs, "weights": coef,
                                   "value": lambda self, y: y @ (coef * signs)})()
    fit.weights = rng.dirichlet(np.ones(k), 6)
    fit.values = np.zeros((6, t))
    return fit, lambda x: float(objective(params, signs, coef, jnp.asarray(x)))


@pytest.mark.parametrize("strength", [0.3, 3.0])
def test_stay_near_optimum_matches_scipy_and_moves_toward_the_reference(strength):
    fit, f = _random_target_fit(np.random.default_rng(5))
    near = np.array([0.4, 0.3, 0.2, 0.1])
    pen = lambda x: f(x) + strength * float(np.sum(x * np.log(np.maximum(x, 1e-300) / near)))  # noqa: E731
    w, gap, status = solve_targets(fit, near, strength)
    ref = scipy_minimize(pen, near, method="SLSQP", bounds=[(1e-12, 1)] * 4,
                         constraints={"type": "eq", "fun": lambda x: x.sum() - 1},
                         options={"ftol": 1e-15, "maxiter": 500})
    assert status == 0 and gap < 1e-8 and pen(w) <= ref.fun + 1e-9
    np.testing.assert_allclose(w, ref.x, atol=1e-4)
    free = solve_targets(fit)[0]
    kl = lambda x: float(np.sum(x * np.log(np.maximum(x, 1e-300) / near)))  # noqa: E731
    assert kl(w) < kl(free) and f(w) >= f(free) - 1e-12
    np.testing.assert_array_equal(solve_targets(fit, near, 0.0)[0], free)


def test_optimum_matches_scipy_on_the_simplex():
    rng = np.random.default_rng(3)
    k, t = 4, 3
    params = mixing_law_params(floor=jnp.asarray(rng.uniform(1, 2, t)),
                               log_scale=jnp.asarray(rng.normal(0, 0.3, t)),
                               theta=jnp.asarray(rng.normal(0, 1.5, (t, k))))
    signs, coef = np.array([1.0, 1.0, -1.0]), np.array([1.0, 0.5, 2.0])

    class Fit:  # the fields solve_targets reads
        pass

    fit = Fit()
    fit.params, fit.domains = params, tuple("abcd")
    fit.objective = type("O", (), {"signs": signs, "weights": coef,
                                   "value": lambda self, y: y @ (coef * signs)})()
    fit.weights = rng.dirichlet(np.ones(k), 6)
    fit.values = np.zeros((6, t))
    w, gap, status = solve_targets(fit)
    f = lambda x: float(objective(params, signs, coef, jnp.asarray(x)))  # noqa: E731
    ref = scipy_simplex_minimum(f, k)
    assert status == 0 and gap < 1e-9
    assert f(w) <= ref.fun + 1e-9
    np.testing.assert_allclose(w, ref.x, atol=1e-4)


def test_covered_fraction_stops_at_the_runs_largest_share():
    ref, opt, top = np.array([0.2, 0.8]), np.array([1.0, 0.0]), np.array([0.45, 0.9])
    t = covered_fraction(ref, opt, top, slack=0.05)
    np.testing.assert_allclose(ref + t * (opt - ref), [0.5, 0.5])
    assert covered_fraction(ref, ref, top) == 1.0


# --- the decision ---------------------------------------------------------------------


def test_decision_moves_on_a_clear_signal_and_beats_the_best_run():
    table, truth, rng = _swarm(noise=0.001)
    rec = recommend_targets(table, "score:avg")
    c = rec.choice
    assert c.action in ("move", "shrink") and c.index >= 0
    assert truth(c.weights) > truth(table.amounts / table.amounts.sum(1, keepdims=True)).max()
    np.testing.assert_allclose(c.weights.sum(), 1.0)
    # random swarm mixtures rarely beat the best of 48 runs; the path's point does
    cands = np.vstack([rng.dirichlet(np.full(K, 0.3), 100), c.weights])
    picked = recommend_targets(table, "score:avg", candidates=cands).choice
    assert picked.action == "candidate" and picked.covered[picked.index]
    assert truth(picked.weights) > truth(c.best_weights)
    assert truth(picked.weights) >= np.quantile(truth(cands[picked.covered]), 0.9)


def test_decision_never_chooses_a_candidate_beyond_the_runs_shares():
    """The truly best mixture, a vertex, has a share far beyond every run's: the law predicts
    it best, but the decision takes the covered candidate and says why."""
    table, truth, _ = _swarm(noise=0.001)
    path = recommend_targets(table, "score:avg").choice.weights
    vertex = np.eye(K)[np.argmax([truth(np.eye(K)[j]) for j in range(K)])]
    assert truth(vertex) > truth(path)
    c = recommend_targets(table, "score:avg", candidates=np.stack([vertex, path])).choice
    assert c.covered.tolist() == [False, True] and c.gain[0] > c.gain[1]
    assert c.index == 1 and "1 of 2 candidates have a share beyond" in c.line
    only = recommend_targets(table, "score:avg", candidates=vertex[None]).choice
    assert only.action == "keep" and "every candidate has a share beyond" in only.line


def test_stay_near_gives_up_more_gain_the_stronger_it_is():
    table, _, _ = _swarm(noise=0.001)
    near = np.full(K, 1.0 / K)
    given = [recommend_targets(table, "score:avg", near=near, strength=s).choice
             for s in (0.0, 0.01, 0.1)]
    assert np.isnan(given[0].given_up) and 0 <= given[1].given_up < given[2].given_up
    kl = lambda x: float(np.sum(x * np.log(np.maximum(x, 1e-300) * K)))  # noqa: E731
    assert kl(given[2].optimum) < kl(given[1].optimum) < kl(given[0].optimum)
    assert given[2].optimum_gain < given[0].optimum_gain


def test_decision_keeps_the_best_run_when_the_targets_are_noise():
    table, _, rng = _swarm(noise=0.02, signal=0.0)
    rec = recommend_targets(table, "score:avg", candidates=rng.dirichlet(np.ones(K), 50))
    assert rec.choice.action == "keep" and rec.choice.index == -1
    best = int(np.argmax(table.scores["avg"]))
    assert rec.choice.best_run == best
    np.testing.assert_allclose(rec.choice.weights, table.amounts[best] / table.amounts[best].sum())


def test_too_few_mixtures_is_a_clear_error():
    table, _, _ = _swarm(r=3)
    with pytest.raises(InputError, match="at least 4 distinct mixtures with score:avg"):
        recommend_targets(table, "score:avg")


# --- the command line -------------------------------------------------------------------


@pytest.fixture()
def swarm_files(tmp_path):
    table, truth, rng = _swarm()
    pilots = tmp_path / "swarm.csv"
    pilots.write_text(pilots_to_csv(table))
    cands = rng.dirichlet(np.full(K, 0.3), 60)
    cpath = tmp_path / "cands.csv"
    _write_csv(cpath, ["name"] + [f"n:src{j}" for j in range(K)],
               [[f"c{i}"] + [f"{x * 1e6:.0f}" for x in row] for i, row in enumerate(cands)])
    return pilots, cpath


def test_cli_run_on_a_score_swarm(capsys, tmp_path, swarm_files):
    pilots, cands = swarm_files
    out = tmp_path / "m.json"
    code, text, err = run(capsys, "run", pilots, "-o", out)
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["objective_spec"] == "score:avg=1"
    assert sum(data["weights"].values()) == pytest.approx(1.0)
    assert data["budget"] == pytest.approx(read_pilots(pilots).amounts.sum(1).mean(), rel=1e-3)
    assert "decision (" in text and "score:avg" in text
    code, text, err = run(capsys, "run", pilots, "--candidates", cands, "--objective",
                          "score:avg", "-o", out)
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["decision"]["action"] in ("candidate", "keep")
    if data["decision"]["action"] == "candidate":
        assert "candidate c" in data["decision"]["line"]


@pytest.mark.parametrize("flags, message", [
    (["--objective", "score:nope"], "names no column"),
    (["--bootstrap", "10"], "--bootstrap is not available with a target objective"),
    (["--importance", "src0=2"], "--importance is not available"),
    (["--method", "reference"], "--method reference needs"),
])
def test_cli_target_errors_are_one_line(capsys, tmp_path, swarm_files, flags, message):
    pilots, _ = swarm_files
    out = tmp_path / "m.json"
    code, _, err = run(capsys, "run", pilots, *flags, "-o", out)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_stay_near(capsys, tmp_path, swarm_files):
    pilots, _ = swarm_files
    out = tmp_path / "m.json"
    code, text, err = run(capsys, "run", pilots, "--stay-near", "src0=0.5,src1=0.5",
                          "--strength", "0.05", "-o", out)
    assert code == 0, err and "gives up" in text
    assert json.loads(out.read_text())["decision"]["stay_near_gain_given_up"] >= 0
    for flags, message in ((["--stay-near", "nope=1"], "unknown domain 'nope'"),
                           (["--stay-near", "src0=x"], "is not DOMAIN=SHARE"),
                           (["--strength", "-1"], "--strength must be >= 0")):
        code, _, err = run(capsys, "run", pilots, *flags, "-o", out)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "run", "--strength", "1")  # the per-domain example
    assert code == 2 and "need a target objective" in err


def test_cli_candidates_for_the_per_domain_laws(capsys, tmp_path, swarm_files):
    _, swarm_cands = swarm_files  # the swarm's domains, not the example's
    code, _, err = run(capsys, "run", "--candidates", swarm_cands)
    assert code == 2 and "unknown domain" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "run", "--candidates", swarm_cands, "--bootstrap", "8")
    assert code == 2 and "not with --bootstrap" in err
    cands = tmp_path / "c.csv"
    cands.write_text("name,w:code,w:arith,w:prose\neven,0.34,0.33,0.33\n"
                     "code,0.6,0.2,0.2\nprose,0.1,0.2,0.7\n")
    out = tmp_path / "m.json"
    code, text, err = run(capsys, "run", "--candidates", cands, "-o", out)
    assert code == 0, err
    mix = json.loads(out.read_text())
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(cands.read_text()))}
    chosen = mix["candidate"]
    assert (chosen is None) == (mix["decision"]["candidate"] is None)
    if chosen is not None:
        assert f"candidate: {chosen}" in text
        for d, w in mix["weights"].items():
            assert w == pytest.approx(float(rows[chosen][f"w:{d}"]), abs=1e-12)
