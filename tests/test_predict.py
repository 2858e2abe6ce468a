"""`jaxmix predict` and `jaxmix.predict_mixtures`: the model at given mixtures, with the
fold fits' jackknife intervals; mixture tables validated completely."""

import csv
import io
import statistics

import numpy as np
import pytest

import jaxmix
from jaxmix.cli.main import main
from jaxmix.fitting.combined import stored_combination
from jaxmix.fitting.stacking import ensemble_params
from jaxmix.io.fitfile import write_fit

DOMAINS = ("code", "arith", "prose")


@pytest.fixture(scope="module")
def fitted():
    table = jaxmix.read_pilots(jaxmix.example_pilots())
    return table, jaxmix.fit(table)


def test_at_the_optimum_it_predicts_what_optimize_does(fitted):
    _, fit = fitted
    mix = jaxmix.optimize(fit, 20.0, importance={"arith": 2.0})
    out = jaxmix.predict_mixtures(fit, [mix.weights], 20.0, importance={"arith": 2.0})
    np.testing.assert_allclose(out.predicted[0], mix.predicted, rtol=1e-10)
    np.testing.assert_allclose(out.objective[0], mix.objective, rtol=1e-10)


def test_intervals_are_the_grouped_jackknife_of_the_fold_fits(fitted):
    """Each fold's combination predicted one by one, and the jackknife computed here."""
    _, fit = fitted
    w = np.array([[0.2, 0.5, 0.3], [1 / 3, 1 / 3, 1 / 3]])
    out = jaxmix.predict_mixtures(fit, w, [10.0, 30.0], level=0.8)
    comb = stored_combination(fit)[0]
    amounts = w * np.array([10.0, 30.0])[:, None]
    per_fold = []
    for f in range(comb.held.shape[0]):
        name, params = ensemble_params(comb, len(DOMAINS), fold=f)
        fold_fit = jaxmix.FitResult(name, DOMAINS, params)
        per_fold.append(np.asarray(jaxmix.predict(fold_fit, amounts)))
    per_fold = np.stack(per_fold)
    n = len(per_fold)
    se = np.sqrt((n - 1) / n * ((per_fold - per_fold.mean(axis=0)) ** 2).sum(axis=0))
    z = statistics.NormalDist().inv_cdf(0.9)
    np.testing.assert_allclose(out.predicted_interval[..., 1] - out.predicted, z * se, rtol=1e-8)
    np.testing.assert_allclose(out.predicted - out.predicted_interval[..., 0], z * se, rtol=1e-8)
    assert np.all(out.objective_interval[:, 0] < out.objective)


def test_a_single_law_has_no_intervals(fitted):
    table, _ = fitted
    out = jaxmix.predict_mixtures(jaxmix.fit(table, law="transfer"), [[0.5, 0.25, 0.25]], 20.0)
    assert np.all(np.isfinite(out.predicted)) and np.all(np.isnan(out.predicted_interval))


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_cli_amounts_and_shares_agree(fitted, tmp_path, capsys):
    _, fit = fitted
    write_fit(fit, tmp_path / "fit.json")
    (tmp_path / "w.csv").write_text("name,w:code,w:arith,w:prose\narithy,0.2,0.6,0.2\n")
    (tmp_path / "n.csv").write_text("n:prose,n:arith,n:code\n4,12,4\n")
    assert main(["predict", str(tmp_path / "fit.json"), str(tmp_path / "w.csv"),
                 "--budget", "20", "-o", str(tmp_path / "out.csv")]) == 0
    assert main(["predict", str(tmp_path / "fit.json"), str(tmp_path / "n.csv")]) == 0
    by_shares = _rows((tmp_path / "out.csv").read_text())[0]
    by_amounts = _rows(capsys.readouterr().out)[0]
    assert by_shares["name"] == "arithy" and by_amounts["name"] == "mixture 1"
    for key in ("budget", "loss:arith", "loss:arith:lo90", "objective", "objective:hi90"):
        assert float(by_shares[key]) == pytest.approx(float(by_amounts[key]), rel=1e-9)
    want = jaxmix.predict_mixtures(fit, [[0.2, 0.6, 0.2]], 20.0).objective[0]
    assert float(by_shares["objective"]) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize(
    "text, flags, message",
    [
        ("w:code,w:arith,w:poetry\n0.5,0.5,0\n", ["--budget", "1"], "column 'w:poetry': unknown"),
        ("w:code,w:arith\n0.5,0.5\n", ["--budget", "1"], "no w: column for prose"),
        ("w:code,w:arith,w:prose\n0.5,0.7,-0.2\n", ["--budget", "1"], ":2: column 'w:prose'"),
        ("w:code,w:arith,w:prose\n0.5,0.6,0.2\n", ["--budget", "1"], ":2: the shares sum to 1.3"),
        ("w:code,w:arith,w:prose\n0.5,x,0.5\n", ["--budget", "1"], "not a number: 'x'"),
        ("w:code,n:arith,w:prose\n0.5,1,0.5\n", ["--budget", "1"], "not both"),
        ("w:code,w:arith,w:prose\n0.5,0.25,0.25\n", [], "--budget: needed"),
        ("n:code,n:arith,n:prose\n1,2,3\n", ["--budget", "6"], "--budget: the n: amounts"),
        ("name,w:code,w:arith,w:prose\n", ["--budget", "1"], "no mixture rows"),
    ],
)
def test_bad_mixture_tables_one_line_exit_2(fitted, tmp_path, capsys, text, flags, message):
    _, fit = fitted
    write_fit(fit, tmp_path / "fit.json")
    (tmp_path / "m.csv").write_text(text)
    out = tmp_path / "out.csv"
    code = main(["predict", str(tmp_path / "fit.json"), str(tmp_path / "m.csv"), *flags,
                 "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
