"""Target fit files: `fit --objective` writes one; `optimize` and `predict` answer from it as
`run --objective` answers from the table."""

import csv
import io
import json

import numpy as np
import pytest
from test_targets import K, _swarm, _write_csv, run

from jaxmix.fitting.targets import fit_targets
from jaxmix.io.pilots import pilots_to_csv
from jaxmix.io.targetfitfile import target_fit_from_dict, target_fit_to_dict
from jaxmix.objective import parse_objective
from jaxmix.optimization.targets import choose
from jaxmix.status import InputError
from jaxmix.study.targets import predict_targets


@pytest.fixture(scope="module")
def swarm():
    table, truth, rng = _swarm(noise=0.001)
    fit = fit_targets(table, parse_objective("score:avg", table.targets()))
    return table, truth, fit, rng.dirichlet(np.full(K, 1.0), 6)


def test_fit_file_round_trip_is_exact(swarm):
    table, _, fit, _ = swarm
    data = json.loads(json.dumps(target_fit_to_dict(fit, table.runs)))
    back, runs = target_fit_from_dict(data)
    assert runs == table.runs and back.domains == fit.domains
    assert back.objective.spec() == fit.objective.spec()
    for a, b in zip(back.params + back.fold_params, fit.params + fit.fold_params):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(back.held, fit.held)
    np.testing.assert_array_equal(back.values, fit.values)
    assert back.diff_rmse == fit.diff_rmse and back.objective_rmse == fit.objective_rmse
    a, b = choose(back), choose(fit)
    assert a.action == b.action
    np.testing.assert_array_equal(a.weights, b.weights)


def test_predictions_follow_the_known_law_and_zero_gain_at_the_best_run(swarm):
    table, truth, fit, cands = swarm
    best = fit.weights[int(np.argmax(table.scores["avg"]))]
    p = predict_targets(fit, np.vstack([cands, best]), level=0.9)
    assert p.gain[-1] == pytest.approx(0.0, abs=1e-12)
    # noise 0.001 and 48 runs: within the intervals (and they are not absurdly wide)
    np.testing.assert_allclose(p.predicted[:, 0], truth(p.weights), atol=0.02)
    lo, hi = p.predicted_interval[:, 0, 0], p.predicted_interval[:, 0, 1]
    inside = (lo <= truth(p.weights)) & (truth(p.weights) <= hi)
    assert inside.mean() >= 0.5 and np.all(hi - lo < 0.1)
    np.testing.assert_allclose(p.objective, -p.predicted[:, 0])  # a score is maximized
    assert np.all((p.p_beats >= 0) & (p.p_beats <= 1))
    wide = predict_targets(fit, cands, level=0.99)
    assert np.all(np.diff(wide.predicted_interval, axis=-1) > np.diff(
        predict_targets(fit, cands, level=0.5).predicted_interval, axis=-1))


def test_predict_rejects_bad_mixtures(swarm):
    fit = swarm[2]
    with pytest.raises(InputError, match="columns for 19 domains"):
        predict_targets(fit, np.ones((2, 3)) / 3)
    with pytest.raises(InputError, match="shares >= 0"):
        predict_targets(fit, np.full((1, K), 0.5))
    with pytest.raises(InputError, match="level"):
        predict_targets(fit, np.ones((1, K)) / K, level=1.5)


def _data(swarm):
    table, _, fit, _ = swarm
    return json.loads(json.dumps(target_fit_to_dict(fit, table.runs)))


def _edit(data, path, value):
    keys = path.split("/")
    node = data
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if value is KeyError:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize("path, value, key", [
    ("extra", 1, "extra"),
    ("domains", ["src0"], "domains"),
    ("targets/score:avg/floor", "high", "targets.score:avg.floor"),
    ("targets/score:avg/theta/src3", KeyError, "targets.score:avg.theta"),
    ("targets/score:avg/cv_rmse", -1.0, "targets.score:avg.cv_rmse"),
    ("objective_spec", "score:other", "objective_spec"),
    ("folds/0/held", [999], "folds[0].held"),
    ("folds/1/params/score:avg/theta", [1.0], "folds[1].params.score:avg.theta"),
    ("runs/weights/0/0", 5.0, "runs.weights"),
    ("runs/values/2", [1.0, 2.0], "runs.values"),
    ("budget", 0, "budget"),
])
def test_bad_fit_files_name_the_key(swarm, path, value, key):
    data = _edit(_data(swarm), path, value)
    with pytest.raises(InputError) as e:
        target_fit_from_dict(data, "fit.json")
    text = str(e.value)
    assert "fit.json" in text and key in text and "\n" not in text


@pytest.fixture()
def files(tmp_path, swarm):
    table, _, _, cands = swarm
    pilots = tmp_path / "swarm.csv"
    pilots.write_text(pilots_to_csv(table))
    cpath = tmp_path / "cands.csv"
    _write_csv(cpath, ["name"] + [f"w:src{j}" for j in range(K)],
               [[f"c{i}"] + [f"{x:.6f}" for x in row] for i, row in enumerate(cands)])
    return tmp_path, pilots, cpath


def test_cli_fit_optimize_predict_say_what_run_says(capsys, files, swarm):
    tmp, pilots, cands = files
    fit_file, from_run, from_fit = tmp / "fit.json", tmp / "run.json", tmp / "opt.json"
    code, _, err = run(capsys, "run", pilots, "--candidates", cands, "-o", from_run,
                       "--fit-output", tmp / "run_fit.json")
    assert code == 0, err
    code, text, err = run(capsys, "fit", pilots, "--objective", "score:avg", "-o", fit_file)
    assert code == 0, err and "score:avg" in text
    assert json.loads(fit_file.read_text()) == json.loads((tmp / "run_fit.json").read_text())
    code, _, err = run(capsys, "-q", "optimize", fit_file, "--budget", "1e6", "--candidates",
                       cands, "-o", from_fit)
    assert code == 0, err
    a, b = json.loads(from_run.read_text()), json.loads(from_fit.read_text())
    assert a["weights"] == b["weights"] and a["decision"] == b["decision"]
    code, text, err = run(capsys, "predict", fit_file, cands)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(text)))
    want = predict_targets(swarm[2], swarm[3])
    assert [r["name"] for r in rows] == [f"c{i}" for i in range(len(swarm[3]))]
    got = np.array([float(r["score:avg"]) for r in rows])
    np.testing.assert_allclose(got, want.predicted[:, 0], rtol=1e-5)  # 6-decimal shares
    assert {r["covered_by_runs"] for r in rows} <= {"true", "false"}


@pytest.mark.parametrize("argv, message", [
    (["optimize", "{fit}", "--budget", "1", "--min-weight", "src0=0.1"], "--min-weight is not"),
    (["predict", "{fit}", "{cands}", "--importance", "src0=2"], "--importance: a target fit"),
    (["optimize", "{pdfit}", "--budget", "1", "--candidates", "{cands}", "--fix", "src0=1"],
     "none of the"),
])
def test_cli_target_fit_errors_are_one_line(capsys, files, argv, message):
    tmp, pilots, cands = files
    fit_file = tmp / "fit.json"
    assert run(capsys, "fit", pilots, "--objective", "score:avg", "-o", fit_file)[0] == 0
    pd_fit = tmp / "pd.json"
    row = dict(C=1, k=0.2, alpha=0.5, beta=0.05, E=1)
    pd_fit.write_text(json.dumps({"law": "transfer", "params": {f"src{j}": row
                                                                for j in range(K)}}))
    argv = [a.format(fit=fit_file, cands=cands, pdfit=pd_fit) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_validate_targets_beats_the_mean_on_signal_and_not_on_noise():
    from jaxmix.study.target_studies import validate_targets

    table, _, _ = _swarm(noise=0.001)
    v = validate_targets(table, "score:avg")
    assert v.better and v.rank_corr > 0.8 and v.law_rmse[0] < 0.3 * v.mean_rmse[0]
    noise, _, _ = _swarm(noise=0.02, signal=0.0)
    w = validate_targets(noise, "score:avg")
    assert not w.better and abs(w.rank_corr) < 0.5


def test_next_targets_never_repeats_the_best_run_and_stays_covered(swarm):
    from jaxmix.study.target_studies import propose_targets

    table, truth, fit, cands = swarm
    p = propose_targets(table, 1e6, runs=3, objective="score:avg")
    assert p.table.runs == ("next1", "next2", "next3") and p.weights.shape == (3, K)
    np.testing.assert_allclose(p.weights.sum(axis=1), 1.0)
    best = fit.weights[int(np.argmax(table.scores["avg"]))]
    assert np.all(np.linalg.norm(p.weights - best, axis=1) > 1e-9)
    assert np.all(p.weights <= fit.weights.max(axis=0) + 0.05 + 1e-9)
    assert truth(p.weights[0]) > truth(best)  # a clear signal: the first run improves
    assert np.all(np.isnan(p.table.scores["avg"]))
    c = propose_targets(table, 1e6, runs=2, objective="score:avg", candidates=cands)
    assert all(any(np.allclose(w, x) for x in cands) for w in c.weights)


def test_cli_validate_and_next_on_a_score_swarm(capsys, files):
    tmp, pilots, cands = files
    out = tmp / "v.json"
    code, text, err = run(capsys, "validate", pilots, "-o", out)
    assert code == 0, err
    v = json.loads(out.read_text())
    assert v["law_beats_the_mean"] is True and v["objective_spec"] == "score:avg=1"
    nxt = tmp / "next.csv"
    code, text, err = run(capsys, "next", pilots, "--budget", "1e6", "--runs", "2",
                          "--candidates", cands, "-o", nxt)
    assert code == 0, err and "wrote 2 runs" in text
    from jaxmix.io.pilots import read_pilots

    t = read_pilots(nxt)
    assert t.runs == ("next1", "next2") and "avg" in t.scores
    code, _, err = run(capsys, "next", pilots, "--budget", "1e6", "--min-weight", "src0=0.1",
                       "-o", tmp / "n2.csv")
    assert code == 2 and "--min-weight is not available" in err


def test_domain_losses_of_only_some_domains_go_to_the_target_law(capsys, tmp_path):
    """A swarm that validates a few of its domains: the per-domain laws need every domain's
    loss, so an objective of those columns is fitted by the target law."""
    table, truth, _ = _swarm(noise=0.001)
    w = table.amounts / table.amounts.sum(axis=1, keepdims=True)
    losses = {"src0": 3.0 - truth(w), "src1": 2.5 - 0.5 * truth(w)}
    t = table._replace(losses=losses, scores={})
    pilots = tmp_path / "partial.csv"
    pilots.write_text(pilots_to_csv(t))
    out = tmp_path / "m.json"
    code, _, err = run(capsys, "run", pilots, "--objective", "loss:*", "-o", out)
    assert code == 0, err
    assert json.loads(out.read_text())["objective_spec"] == "loss:src0=1,loss:src1=1"
