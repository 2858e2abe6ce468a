"""What a user sees: reports keep the caps, the two-step flow says what `run` says, bad
columns and outliers are named, warnings are few and plain, tables keep their layout, the
command line's ergonomics and the public API."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import TRUE3, synthetic_table

import jaxmix
from jaxmix.cli.main import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _bent_pilots(path):
    """Pilots whose law bends at domain a's largest runs: the recommendation then rests on
    them (the hold-out refit recommends other weights)."""
    t = synthetic_table(noise=1e-3)
    top = t.amounts[:, 0] == t.amounts[:, 0].max()
    t.losses["a"][top] *= 0.93
    jaxmix.write_pilots(t, path)
    return path


# --- 2: a report keeps the availability caps of the mixture at every budget -----------------


def test_report_from_a_capped_mixture_keeps_the_cap_at_every_budget(
    capsys, tmp_path, monkeypatch
):
    pytest.importorskip("matplotlib")
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"law": "transfer", "params": TRUE3}))
    mix = tmp_path / "mix.json"
    cap = 5.0 * 3  # --available a=5 --max-epochs 3
    code, _, err = run(
        capsys, "optimize", fit, "--budget", 20, "--available", "a=5", "--max-epochs", 3,
        "-o", mix,
    )
    assert code == 0, err
    assert json.loads(mix.read_text())["amounts"]["a"] <= cap * (1 + 1e-9)

    import jaxmix.report.build
    import jaxmix.study.sweeps

    seen = {}
    sweep = jaxmix.study.sweeps.sweep_budgets

    def spy(fit, budgets, **kw):
        res = sweep(fit, budgets, **kw)
        seen["amounts"] = res.weights[:, 0] * np.asarray(budgets)
        return res

    monkeypatch.setattr(jaxmix.study.sweeps, "sweep_budgets", spy)
    build = jaxmix.report.build.build_report

    def keep(fit, mixture, *a, **kw):
        seen["mixture"] = mixture
        return build(fit, mixture, *a, **kw)

    monkeypatch.setattr(jaxmix.report.build, "build_report", keep)
    out = tmp_path / "rep"
    code, _, err = run(
        capsys, "report", "--fit", fit, "--mixture", mix, "--budget", 2000, "-o", out
    )
    assert code == 0, err
    assert seen["mixture"].amounts[0] <= cap * (1 + 1e-9)
    assert len(seen["amounts"]) and np.all(seen["amounts"] <= cap * (1 + 1e-6))
    # without --budget too: the sweep runs from 1/100x to 100x the mixture's budget
    code, _, err = run(capsys, "report", "--fit", fit, "--mixture", mix, "-o", out)
    assert code == 0, err
    assert np.all(seen["amounts"] <= cap * (1 + 1e-6))


# --- 3: fit + optimize report what run reports --------------------------------------------


def test_fit_then_optimize_says_what_run_says(capsys, tmp_path):
    pilots = _bent_pilots(tmp_path / "pilots.csv")
    fit, opt, both = tmp_path / "fit.json", tmp_path / "opt.json", tmp_path / "run.json"
    fit_run = tmp_path / "fit_run.json"
    code, _, err_run = run(
        capsys, "run", pilots, "--budget", 10, "-o", both, "--fit-output", fit_run
    )
    assert code == 0
    code, _, err_fit = run(capsys, "fit", pilots, "-o", fit)
    assert code == 0
    code, _, err_opt = run(capsys, "optimize", fit, "--budget", 10, "-o", opt)
    assert code == 0
    a, b = json.loads(both.read_text()), json.loads(opt.read_text())
    # The fit file keeps natural parameters; their round trip through log/exp may move the
    # last bit of a weight, so "the same weights" means equal to rounding.
    assert a["weights"].keys() == b["weights"].keys()
    for d in a["weights"]:
        assert b["weights"][d] == pytest.approx(a["weights"][d], abs=1e-12)
    assert a["warnings"] == b["warnings"]
    assert any("rests on the largest pilots" in w for w in b["warnings"])
    assert json.loads(fit.read_text())["warnings"] == json.loads(fit_run.read_text())["warnings"]
    def said(err):
        return {x for x in err.splitlines() if x.startswith(("warning:", "note:"))}

    assert said(err_run) == said(err_fit) | said(err_opt)
    assert any("largest pilots" in line for line in said(err_opt))


def test_run_bootstrap_keeps_the_strategy_and_the_extrapolation_check(
    capsys, tmp_path, monkeypatch
):
    import jaxmix.study.bootstrap

    pilots = _bent_pilots(tmp_path / "pilots.csv")
    strategies = []
    fit_many = jaxmix.study.bootstrap.fit_many

    def spy(*a, **kw):
        strategies.append(kw.get("strategy"))
        return fit_many(*a, **kw)

    monkeypatch.setattr(jaxmix.study.bootstrap, "fit_many", spy)
    out = tmp_path / "boot.json"
    code, _, err = run(
        capsys, "run", pilots, "--budget", 10, "--bootstrap", 4, "--strategy", "vmap",
        "--law", "transfer", "-o", out,  # one law: the strategy reaches its bootstrap
    )
    assert code == 0, err
    assert strategies == ["vmap"]
    warnings = json.loads(out.read_text())["warnings"]
    assert any("rests on the largest pilots" in w for w in warnings)


def test_read_fit_keeps_the_diagnostics_and_drops_broken_ones(tmp_path):
    t = synthetic_table(noise=1e-3)
    result = jaxmix.fit(t, check_extrapolation=True, law="transfer")
    path = tmp_path / "fit.json"
    jaxmix.write_fit(result, path)
    back = jaxmix.read_fit(path)
    assert set(back.diagnostics["holdout_params"]) == set(t.domains)
    assert back.warnings == result.warnings
    data = json.loads(path.read_text())
    data["diagnostics"]["holdout_params"] = {"a": {"C": "x"}}
    data["diagnostics"]["identifiability"] = {"a": {"directions": [{"kind": 1}]}}
    path.write_text(json.dumps(data))
    back = jaxmix.read_fit(path)
    assert "holdout_params" not in back.diagnostics
    assert "identifiability" not in back.diagnostics
    jaxmix.optimize(back, 10.0)  # and it still optimizes


# --- 11: ergonomics ---------------------------------------------------------------------


def test_global_flags_after_the_command(capsys, tmp_path):
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"law": "transfer", "params": TRUE3}))
    out = tmp_path / "m.json"
    code, text, err = run(capsys, "optimize", fit, "--budget", 10, "-o", out, "-q")
    assert code == 0 and text == "" and err == "" and out.exists()
    code, text, _ = run(capsys, "-q", "optimize", fit, "--budget", 10, "-o", out)
    assert code == 0 and text == ""  # before the command: not reset by the subcommand
    code, _, _ = run(capsys, "optimize", fit, "--budget", 10, "-o", out, "--float32", "-v")
    assert code == 0


def test_optimize_sweep_pareto_print_json_without_o(capsys, tmp_path):
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"law": "transfer", "params": TRUE3}))
    code, text, err = run(capsys, "optimize", fit, "--budget", 10)
    assert code == 0 and json.loads(text)["budget"] == 10 and "objective" in err
    code, text, err = run(capsys, "sweep", fit, "--budgets", "10,100")
    assert code == 0 and len(json.loads(text)["results"]) == 2
    code, text, err = run(capsys, "pareto", fit, "--budget", 10, "--between", "a,b", "--points", 3)
    assert code == 0 and len(json.loads(text)["results"]) == 3


def test_bare_jaxmix_prints_help(capsys):
    code, text, err = run(capsys)
    assert code == 0 and "usage: jaxmix" in text and "optimize" in text and err == ""


def test_bad_number_names_its_flag(capsys, tmp_path):
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"law": "transfer", "params": TRUE3}))
    code, _, err = run(capsys, "optimize", fit, "--budget", 10, "--max-weight", "a=abc")
    assert code == 2 and "--max-weight" in err and "'abc'" in err


def test_help_does_not_reuse_E_for_epochs(capsys):
    code, text, _ = run(capsys, "optimize", "--help")
    assert code == 0 and "E*available" not in text and "max-epochs * available" in text


def test_plan_run_names_are_folder_names(capsys, tmp_path):
    t = jaxmix.plan(["if", "math"], 660000)
    assert not any("/" in r for r in t.runs)
    assert "ifx1of3" in t.runs and "mathx2" in t.runs
    # tables with the older names still read
    old = tmp_path / "old.csv"
    old.write_text("run,n:a,n:b,loss:a,loss:b\nbase,3,3,1,1\nax1/3,1,3,1.2,1\n")
    assert jaxmix.read_pilots(old).runs == ("base", "ax1/3")


def test_public_api_has_all_and_mixture_export_import(tmp_path):
    assert all(not n.startswith("_") for n in jaxmix.__all__ if n != "__version__")
    for name in ("read_mixture", "export_mixture", "import_trainer_state", "import_wandb"):
        assert name in jaxmix.__all__
    import inspect

    assert inspect.signature(jaxmix.bootstrap).return_annotation in (tuple, "tuple")
    fit = jaxmix.from_params(TRUE3)
    path = tmp_path / "mix.json"
    jaxmix.write_mixture(jaxmix.optimize(fit, 10.0), path)
    mix = jaxmix.read_mixture(path)
    assert mix.domains == ("a", "b", "c") and mix.budget == 10.0
    assert abs(float(np.sum(mix.weights)) - 1) < 1e-9
    text = jaxmix.export_mixture(mix, "llama-factory")
    assert text.startswith("dataset: a,b,c")
    counts = json.loads(jaxmix.export_mixture(path, "counts", available={"a": 4}))
    assert counts["domains"]["a"]["available"] == 4


# --- 5: silent wrong models are named ---------------------------------------------------


def _sft_rows():
    import csv

    with open(jaxmix.example_pilots("sft"), encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write_rows(path, rows, drop=()):
    import csv

    names = [k for k in rows[0] if k not in drop]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, names, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def test_loss_column_without_its_amounts_is_named(capsys, tmp_path):
    bad = _write_rows(tmp_path / "nocode.csv", _sft_rows(), drop=("n:code",))
    # the warning comes from the pilot table, whatever the law
    code, _, err = run(capsys, "fit", bad, "--law", "transfer", "-o", tmp_path / "fit.json")
    assert code == 0
    line = next(x for x in err.splitlines() if "loss:code" in x)
    assert line.startswith("warning:") and "nocode.csv" in line and "n:code" in line
    assert err.splitlines()[0] == line  # the first thing the user reads
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert any("'loss:code' has no 'n:code'" in w for w in fit["warnings"])
    # an aggregate-only table is the reference fit's business (no warning)
    from jaxmix.fitting.checks import unmatched_loss_columns

    only = jaxmix.read_pilots(_write_rows(tmp_path / "agg.csv", _sft_rows()))
    assert unmatched_loss_columns(only) == []
    agg = only._replace(losses={"total": only.losses["code"]})
    assert unmatched_loss_columns(agg) == []
    extra = only._replace(losses={**only.losses, "total": only.losses["code"]})
    assert unmatched_loss_columns(extra) == []  # the usual name of an extra target
    extra = only._replace(losses={**only.losses, "mmlu": only.losses["code"]})
    assert len(unmatched_loss_columns(extra)) == 1


def test_outlier_loss_names_the_run_row_and_column(capsys, tmp_path):
    rows = _sft_rows()
    rows[4]["loss:arith"] = str(float(rows[4]["loss:arith"]) * 100)  # a perplexity, pasted
    bad = _write_rows(tmp_path / "outlier.csv", rows)
    code, _, err = run(capsys, "fit", bad, "-o", tmp_path / "fit.json")
    assert code == 0
    line = err.splitlines()[0]
    assert line.startswith("warning: ") and "outlier.csv:6" in line
    assert "'loss:arith'" in line and f"'{rows[4]['run']}'" in line
    from jaxmix.fitting.checks import pilot_warnings

    assert pilot_warnings(jaxmix.read_pilots(jaxmix.example_pilots("sft"))) == []
    assert pilot_warnings(jaxmix.read_pilots(jaxmix.example_pilots("llama32_3b"))) == []


# --- 6: few warnings, in plain words, the ones that matter first --------------------------


def test_shipped_example_shows_few_plain_warnings(capsys, tmp_path):
    code, _, err = run(capsys, "run", "-o", tmp_path / "m.json")
    assert code == 0
    shown = [x for x in err.splitlines() if x.startswith(("warning:", "note:"))]
    assert 1 <= len(shown) <= 4
    for jargon in ("direction {", "singular value", "step cap", "log_C", "alpha_logit"):
        assert jargon not in err
    assert "-v" in err
    code, _, full = run(capsys, "run", "-o", tmp_path / "m.json", "-v")
    raw = json.loads((tmp_path / "m.json").read_text())["warnings"]
    assert all(f"warning: {w}" in full for w in raw)
    assert "singular value" in full  # the details are one flag away


def test_warnings_are_ranked_and_collapsed():
    from jaxmix.report.warnings import lines

    ident = [
        f"{d}: the pilots do not pin down the direction {{'log_C': 0.1}} (weak; relative "
        "singular value 1e-4)"
        for d in ("a", "b", "c", "a", "b")
    ]
    noisy = [f"a: noisy pilots: loss rises from 1 to {v} as n:a grows" for v in (2, 3, 4, 5)]
    cap = ["b: fit stopped at the step cap before converging"]
    worst = "the recommendation rests on the largest pilots: fitted without them ..."
    out = lines(ident + noisy + cap + [worst])
    assert out[0] == f"warning: {worst}"
    assert len(out) == 5  # worst, noisy summary, step-limit note, parameters note, -v hint
    assert sum("noisy pilots" in x for x in out) == 1 and "4 places" in out[1]
    assert out[-1].startswith("(-v")
    assert lines(ident + [worst], verbose=True) == [f"warning: {w}" for w in ident + [worst]]
    assert lines(["something new"]) == ["warning: something new"]
    far = [
        f"{d}: the budget's amount 8 is {r}x the largest pilot amount 2; the law is "
        "extrapolating (confirm the mixture with runs from `jaxmix next`)"
        for d, r in (("if", 4), ("math", 2.7))
    ]
    assert lines(far[:1]) == [f"warning: {far[0]}"]
    (one, hint) = lines(far)
    assert "if gets 4x its largest pilot amount, math 2.7x" in one and hint.startswith("(-v")


# --- 7: validate shows diverged folds as words, in a fixed layout --------------------------


def test_validate_table_keeps_its_layout_when_a_fold_diverges():
    from jaxmix.report.validation import format_validation
    from jaxmix.study.validate import LawScore, Validation, _verdict

    def score(law, cv, kfold=0.01, extrap=0.02, regret=0.5):
        return LawScore(law, 5, 0.004, cv, 0.001, kfold, extrap, 0.9, regret, 1.0, "")

    calm = [score("loglinear", 0.02), score("transfer", 0.01)]
    wild = [
        score("loglinear", 0.02),
        score("transfer", 0.01, kfold=3.3e27, extrap=25.0, regret=4e30),
    ]
    texts = []
    for scores in (calm, wild):
        best, verdict = _verdict(scores)
        texts.append(format_validation(Validation(tuple(scores), best, verdict, 5)))
    calm_text, wild_text = texts
    assert "diverged" in wild_text and ">1000%" in wild_text and "e+" not in wild_text
    # the columns stay where they were: every table line as wide as with calm folds
    width = lambda text: [len(x) for x in text.splitlines()[:4]]  # noqa: E731
    assert width(wild_text) == width(calm_text)


# --- 12: pictures without overlapping text, and no stale figure -------------------------


def _figures(monkeypatch):
    """Capture the matplotlib figures the report draws (drawn, before they are closed)."""
    pytest.importorskip("matplotlib")
    from jaxmix.report import plots as _plots

    figs = []
    to_png = _plots.to_png

    def keep(fig):
        fig.canvas.draw()
        figs.append(
            [
                (
                    sorted(
                        (
                            t.get_window_extent()
                            for t in ax.get_xticklabels(which="both")
                            if t.get_text() and t.get_visible()
                        ),
                        key=lambda box: box.x0,
                    ),
                    ax.get_window_extent(),
                    ax.get_legend().get_window_extent() if ax.get_legend() else None,
                )
                for ax in fig.axes
                if ax.get_visible()
            ]
        )
        return to_png(fig)

    monkeypatch.setattr(_plots, "to_png", keep)
    return _plots, figs


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_tick_labels_of_token_amounts_do_not_overlap(monkeypatch):
    plots, figs = _figures(monkeypatch)
    grid = np.geomspace(1.5e5, 3e6, 60)
    curves = [(grid, 1 + 1 / np.log(grid))] * 3
    x = np.array([2.2e5, 3.3e5, 6.6e5, 1.32e6, 1.98e6])
    pts = [(x, 1 + 1 / np.log(x), 1 + 1 / np.log(x), np.ones(5, bool))] * 3
    plots.fit_curves(("a", "b", "c"), curves, pts)
    budgets = np.geomspace(1.6e5, 1.6e9, 11)
    plots.weights_vs_budget(("a", "b", "c"), budgets, np.full((11, 3), 1 / 3), 1.6e7, 2e6)
    for fig in figs:
        for labels, _, _ in fig:
            assert len(labels) >= 2
            for a, b in zip(labels[:-1], labels[1:]):
                assert not _overlap(a, b)


def test_weights_legend_does_not_cover_the_curves_for_five_domains(monkeypatch):
    plots, figs = _figures(monkeypatch)
    budgets = np.geomspace(1e5, 1e9, 11)
    w = np.random.default_rng(0).dirichlet(np.ones(5), size=11)
    plots.weights_vs_budget(tuple("abcde"), budgets, w, 1e7, 1e6)
    (_, axes, legend), = figs[0]
    assert legend is not None and not _overlap(legend, axes)


def test_rewritten_report_leaves_no_stale_figure(tmp_path):
    from jaxmix.report.build import write_report

    folder = tmp_path / "rep"
    write_report({"bootstrap.png": b"old", "index.html": b"<p>1</p>"}, folder)
    (folder / "mine.txt").write_text("a file of the user's")
    write_report({"index.html": b"<p>2</p>"}, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "mine.txt"]


def test_report_page_ranks_warnings_and_keeps_them_all_one_click_away():
    from jaxmix.report.html import report_html

    ident = [
        f"{d}: the pilots do not determine the direction {{'alpha_logit': 1.0}} (unidentified; "
        "relative singular value 3e-12)"
        for d in "abc"
    ]
    fit = jaxmix.from_params(TRUE3)._replace(warnings=tuple(ident))
    mix = jaxmix.optimize(fit, 10.0)._replace(warnings=("a: the law is extrapolating",))
    page = report_html("t", fit, mix, images={}, study=None, sweep=None, notes=[], inputs={})
    top = page.index("<h2>Warnings</h2>")
    assert page.index("the law is extrapolating", top) < page.index("note: the pilots", top)
    assert "<details>" in page and page.count("relative singular value") == 3


# --- hardening, round two: one set of numbers per mixture, warnings once, plain numbers ---


def _perplexity_pilots(path):
    """The shipped SFT pilots with loss:code as a perplexity: the default then moves part of
    the way from uniform (a recommendation that is neither uniform nor the optimum)."""
    table = jaxmix.read_pilots(jaxmix.example_pilots("sft"))
    losses = dict(table.losses)
    losses["code"] = np.exp(losses["code"])
    jaxmix.write_pilots(table._replace(losses=losses), path)
    return path


def test_one_probability_and_one_interval_per_mixture(capsys, tmp_path):
    out = tmp_path / "m.json"
    code, text, err = run(
        capsys, "run", _perplexity_pilots(tmp_path / "p.csv"), "--bootstrap", 16, "-o", out
    )
    assert code == 0, err
    mix = json.loads(out.read_text())
    dec = mix["decision"]
    assert dec["action"] == "shrink" and dec["safe"]["kind"] == "uniform"
    # against uniform, the recommendation's probability is the decision's, everywhere
    assert dec["p_beats_uniform"] == pytest.approx(dec["p_beats_safe"], abs=1e-12)
    assert mix["p_beats_uniform"] == dec["p_beats_uniform"]
    assert f"P(beats uniform) {dec['p_beats_uniform']:.2f}" in text
    assert "p_beats_uniform:" not in text  # no second number from the bootstrap
    # the intervals are of the weights recommended, the optimum's beside them
    for d, (lo, hi) in mix["weights_interval"].items():
        assert lo - 1e-9 <= mix["weights"][d] <= hi + 1e-9
    lo, hi = mix["optimum_weights_interval"]["code"]
    assert lo <= dec["optimum"]["code"] <= hi
    assert "optimum weight" in text


def test_no_probability_of_uniform_beating_itself(capsys, tmp_path):
    # an earlier SFT grid's pilots: a flat optimum near uniform, which the decision keeps
    flat = Path(__file__).with_name("data") / "sft_pilots_flat.csv"
    out = tmp_path / "m.json"
    code, text, err = run(capsys, "run", flat, "--budget", 720, "-o", out)
    assert code == 0, err
    dec = json.loads(out.read_text())["decision"]
    assert dec["action"] == "keep" and dec["safe"]["kind"] == "uniform"
    assert dec["p_beats_uniform"] is None and "P(beats uniform)" not in text


def test_each_warning_once_and_no_bootstrap_hint_after_a_bootstrap():
    from jaxmix.report.warnings import lines

    noisy = "math: noisy pilots: loss rises from 1.1 to 1.2 as n:math grows from 1 to 2"
    ident = "math: the pilots do not determine the direction {k: 1, alpha: -1}"
    shown = lines([noisy, noisy, ident])
    assert sum(noisy in x for x in shown) == 1
    assert any("--bootstrap shows" in x for x in shown)
    assert not any("--bootstrap shows" in x for x in lines([ident], bootstrapped=True))


def test_numbers_in_plain_words():
    from jaxmix.optimization.decision import _line
    from jaxmix.report.text import certificate_line

    line = _line("keep", "uniform", np.array([0.01]), np.array([202.4]), 0, -1, False, 0.8)
    assert "20240" not in line and "over 100%" in line
    c = {"gap": -1.03e-17, "max_weight_diff": 1e-12}
    assert "-1.03e-17" not in certificate_line(c) and "gap 0.00e+00" in certificate_line(c)


def test_python_errors_name_arguments_and_the_cli_names_flags(capsys, tmp_path):
    fit = jaxmix.from_params(TRUE3)
    with pytest.raises(jaxmix.InputError) as err:
        jaxmix.optimize(fit, 10.0, max_weight={"zz": 0.3})
    assert str(err.value).startswith("max_weight: unknown domain 'zz'")
    path = tmp_path / "fit.json"
    jaxmix.write_fit(fit, path)
    code, _, cli = run(capsys, "optimize", path, "--budget", 10, "--max-weight", "zz=0.3")
    assert code == 2 and "--max-weight: unknown domain 'zz'" in cli


def test_a_typo_in_a_fit_file_is_an_error(capsys, tmp_path):
    row = dict(C=1.2, k=0.2, alpha=0.5, beta=0.3, E=1.1)
    for data, where in (
        ({"law": "transfer", "params": {"a": {**row, "alpah": 0.4}, "b": row}}, "params.a.alpah"),
        ({"law": "transfer", "params": {"a": row, "b": row}, "domians": ["a", "b"]}, "domians"),
    ):
        path = tmp_path / "fit.json"
        path.write_text(json.dumps(data))
        code, _, err = run(capsys, "optimize", path, "--budget", 10)
        assert code == 2 and err.count("\n") == 1 and f"'{where}'" in err, err


def test_quiet_without_output_still_gives_the_answer(capsys):
    code, out, err = run(capsys, "run", "--law", "transfer", "-q")
    assert code == 0 and err == ""
    domains = jaxmix.read_pilots(jaxmix.example_pilots()).domains
    assert set(json.loads(out)["weights"]) == set(domains)


def test_validate_says_why_its_regret_column_is_zero():
    from jaxmix.report.validation import format_validation
    from jaxmix.study.validate import LawScore, Validation, _equal_budget_groups

    table = jaxmix.read_pilots(jaxmix.example_pilots("sft"))
    groups = _equal_budget_groups(table, np.ones(len(table.runs), bool))
    assert len(groups) == 4  # the 1+4K design: one group of K runs per multiplier
    assert all(len(g) == 3 and len(set(table.amounts[g].sum(axis=1))) == 1 for g in groups)
    zero = [LawScore(law, 5, 0.004, 0.01, 0.001, 0.01, 0.02, 0.9, 0.0, 1.0, "")
            for law in ("transfer", "loglinear")]
    text = format_validation(Validation(tuple(zero), "transfer", "v", 5, regret_groups=4))
    assert "0 for every law" in text and "4 groups" in text
    some = [zero[0], zero[1]._replace(regret_pct=0.5)]
    assert "regret:" not in format_validation(Validation(tuple(some), None, "v", 5, 4))
    assert "no two pilot mixtures share a budget" in format_validation(
        Validation(tuple(some), None, "v", 5, 0)
    )


def test_pareto_says_the_other_domains_stay_in_the_objective(capsys, tmp_path):
    path = tmp_path / "fit.json"
    jaxmix.write_fit(jaxmix.from_params(TRUE3), path)
    code, _, err = run(capsys, "pareto", path, "--budget", 10, "--between", "a,b")
    assert code == 0 and "others 1" in err
