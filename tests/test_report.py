import base64
import io
import json
import re
import sys

import numpy as np
import pytest
from helpers import TRUE3, synthetic_table

import jaxmix
from jaxmix.cli.main import main
from jaxmix.report.build import build_report, curve_data, default_budgets

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"
FIGURES = {
    "fit_curves.png",
    "predicted_vs_observed.png",
    "weights_vs_budget.png",
    "pareto.png",
    "bootstrap.png",
}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _image(data: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(data), format="png")


DESIGN = (0.25, 1.0, 4.0)  # the pilot design and bootstrap size of test_study: compiled once


@pytest.fixture(scope="module")
def fitted():
    table = synthetic_table(scales=DESIGN, noise=3e-3, seed=1)
    fit = jaxmix.fit(table, law="transfer")
    return table, fit, jaxmix.optimize(fit, 30.0)


def test_report_has_every_figure_and_a_self_contained_page(fitted):
    table, fit, mix = fitted
    files = build_report(fit, mix, table)
    assert set(files) == FIGURES | {"index.html"}
    for name in FIGURES:
        assert files[name].startswith(PNG), name
        img = _image(files[name])
        assert img.shape[0] > 200 and img.shape[1] > 300
        assert img[..., :3].std() > 0.05, f"{name} is blank"  # something was drawn
    page = files["index.html"].decode("utf-8")
    embedded = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert sorted(base64.b64decode(b) for b in embedded) == sorted(files[n] for n in FIGURES)
    assert "src='http" not in page and "<script" not in page  # nothing fetched
    for d in fit.domains:
        assert f"<td>{d}</td>" in page
    assert f"{mix.weights[0]:.4f}" in page and "weight interval" in page
    assert "Fitted parameters" in page and "Budget sweep" in page


def test_curves_pass_through_the_base_run_and_follow_own_amount(fitted):
    table, fit, _ = fitted
    curves, points, y, pred = curve_data(table, fit)
    for i in range(len(fit.domains)):
        gx, gy = curves[i]
        assert np.all(np.diff(gy) < 0)  # more own data, lower loss
        x, obs, p, on = points[i]
        assert on.sum() == 5  # the base run and its four perturbations of this domain
        # the curve (others at base) meets the law's prediction at those runs
        np.testing.assert_allclose(np.interp(np.log(x[on]), np.log(gx), gy), p[on], rtol=2e-3)
        np.testing.assert_allclose(obs, y[:, i])


def test_same_seed_same_bytes(fitted):
    table, fit, mix = fitted
    a = build_report(fit, mix, table, bootstrap=0, seed=3)
    b = build_report(fit, mix, table, bootstrap=0, seed=3)
    assert a == b


def test_default_budgets_span_the_budget():
    b = default_budgets(30.0)
    assert len(b) == 11 and b[0] == pytest.approx(0.3) and b[-1] == pytest.approx(3000.0)
    assert b[5] == pytest.approx(30.0)


def test_cli_run_report(capsys, tmp_path):
    pilots = tmp_path / "pilots.csv"
    jaxmix.write_pilots(synthetic_table(scales=DESIGN, noise=1e-3), pilots)
    out = tmp_path / "rep"
    mix = tmp_path / "mix.json"
    code, text, _ = run(
        capsys, "run", pilots, "--budget", 30, "--bootstrap", 8, "-o", mix, "--report", out
    )
    assert code == 0 and "report:" in text
    assert {p.name for p in out.iterdir()} == FIGURES | {"index.html"}
    # report from the files: the mixture's budget and bootstrap intervals, no new bootstrap
    out2 = tmp_path / "rep2"
    code, _, err = run(capsys, "report", pilots, "--mixture", mix, "--bootstrap", 0, "-o", out2)
    assert code == 0, err
    page = (out2 / "index.html").read_text()
    assert "budget 30</h2>" in page and (out2 / "bootstrap.png").exists()
    study = json.loads(mix.read_text())
    lo, hi = study["weights_interval"]["a"]
    assert f"{lo:.4f} .. {hi:.4f}" in page


def test_cli_report_from_a_hand_written_fit(capsys, tmp_path):
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"law": "transfer", "params": TRUE3}))
    out = tmp_path / "rep"
    code, _, err = run(
        capsys, "report", "--fit", fit, "--budget", 50, "--between", "b,c", "-o", out
    )
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == {"weights_vs_budget.png", "pareto.png", "index.html"}
    assert "no pilot table" in (out / "index.html").read_text()
    code, _, err = run(capsys, "report", "--fit", fit, "-o", tmp_path / "rep3")
    assert code == 2 and "--budget is needed" in err and err.count("\n") == 1


def test_cli_report_bad_input_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "report", "-o", tmp_path / "no" / "such" / "dir")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"law": "transfer", "params": TRUE3}))
    code, _, err = run(
        capsys, "report", "--fit", fit, "--between", "a,nope", "--budget", 5, "-o", tmp_path
    )
    assert code == 2 and "unknown domain 'nope'" in err
    assert not (tmp_path / "index.html").exists()


def test_missing_matplotlib_is_one_line_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, _, err = run(capsys, "report", "-o", tmp_path / "rep")
    assert code == 2 and err.count("\n") == 1
    assert "pip install 'jaxmix[plot]'" in err
    assert not (tmp_path / "rep").exists()


def test_report_tables_show_per_source_parameters():
    from jaxmix.report.html import _params_table
    from jaxmix.report.text import format_fit

    rows = {
        d: dict(
            C=1.0, k=0.3, alpha=0.5, beta=0.3, E=1.0, **{f"g:{s}": 0.1 for s in "abc" if s != d}
        )
        for d in "abc"
    }
    fit = jaxmix.from_params(rows, law="interference")
    for text in (_params_table(fit), format_fit(fit)):
        assert "g:a" in text and "g:c" in text and "-" in text  # a has no g:a, c no g:c
