"""`validate`: cross-validation names the law that generated the data, folds are honest,
batched fold fits equal one-by-one refits, and the CLI prints and writes the table."""

import json

import numpy as np
import pytest
from helpers import TRUE3, random_mixing, synthetic_table

import jaxmix
from jaxmix.cli.main import main
from jaxmix.study.validate import fold_masks, mixture_groups, validate

DOMAINS = ("a", "b", "c")


def _by_law(v):
    return {s.law: s for s in v.scores}


def test_names_the_transfer_law_on_its_own_data():
    table = synthetic_table(TRUE3, scales=(1.0, 3.0), noise=1e-4, seed=1)
    v = validate(table, laws=["transfer", "mixing_law"], folds=4)
    s = _by_law(v)
    assert v.best == "transfer", v.verdict
    assert s["transfer"].cv_error < 1e-3 < s["mixing_law"].cv_error
    assert s["transfer"].cv_error < s["loglinear"].cv_error
    assert s["transfer"].rank_corr > 0.9
    assert s["transfer"].extrapolation_error < 1e-3 < s["mixing_law"].extrapolation_error


def test_names_the_mixing_law_on_fixed_budget_data():
    rng = np.random.default_rng(2)
    truth = random_mixing(rng, DOMAINS)
    weights = rng.dirichlet(np.ones(3), size=16) * 0.9 + 0.1 / 3
    amounts = 10.0 * weights  # one budget: only the proportions vary
    y = np.asarray(jaxmix.predict(jaxmix.from_params(truth, law="mixing_law"), amounts))
    y = y * (1 + 1e-4 * rng.standard_normal(y.shape))
    table = jaxmix.PilotTable(
        domains=DOMAINS,
        runs=tuple(f"r{i}" for i in range(16)),
        amounts=amounts,
        losses={d: y[:, i] for i, d in enumerate(DOMAINS)},
    )
    v = validate(table, laws=["transfer", "mixing_law"], folds=4)
    s = _by_law(v)
    assert v.best == "mixing_law", v.verdict
    assert s["mixing_law"].cv_error < 1e-3 < s["transfer"].cv_error
    assert s["mixing_law"].regret_pct == pytest.approx(0.0, abs=1e-9)


def test_no_law_is_trusted_on_noise():
    rng = np.random.default_rng(3)
    table = synthetic_table(TRUE3, scales=(1.0,))
    flat = {d: 2.0 * (1 + 0.01 * rng.standard_normal(len(table.runs))) for d in DOMAINS}
    v = validate(table._replace(losses=flat), laws=["transfer"], folds=3)
    assert v.best is None and "no law is trustworthy" in v.verdict


def test_folds_partition_mixtures_and_keep_replicates_together():
    base = synthetic_table(TRUE3)
    twice = base._replace(
        runs=base.runs + tuple(r + "b" for r in base.runs),
        amounts=np.vstack([base.amounts, base.amounts]),
        losses={d: np.concatenate([v, v]) for d, v in base.losses.items()},
    )
    groups = mixture_groups(twice)
    assert groups.max() + 1 == len(base.runs)
    loo, kfold = fold_masks(twice, 4, seed=0)
    for masks in (loo, kfold):
        assert np.all(masks.sum(axis=0) == 1)  # every run held out exactly once
        for held in masks:  # a mixture's replicates are held out together
            assert set(groups[held]).isdisjoint(groups[~held])


def test_batched_fold_fit_equals_a_refit_without_the_run():
    table = synthetic_table(TRUE3, scales=(1.0, 3.0), noise=3e-3, seed=4)
    from jaxmix.study.validate import _law_folds

    y = table.domain_losses()
    held = np.zeros((2, len(y)), bool)
    held[1, 5] = True
    pred, _ = _law_folds(table, y, "transfer", held, None)  # fit_joint's default
    keep = ~held[1]
    refit = jaxmix.fit_joint(
        table._replace(
            runs=tuple(np.asarray(table.runs)[keep]),
            amounts=table.amounts[keep],
            losses={d: v[keep] for d, v in table.losses.items()},
        )
    )
    one = np.asarray(jaxmix.predict(refit, table.amounts[5:6]))[0]
    np.testing.assert_allclose(pred[1, 5], one, rtol=1e-6)


def test_cli_validate_table_and_json(tmp_path, capsys):
    pilots = tmp_path / "pilots.csv"
    jaxmix.write_pilots(synthetic_table(TRUE3, scales=(1.0, 3.0), noise=1e-4), pilots)
    out = tmp_path / "validation.json"
    assert main(["validate", str(pilots), "--laws", "transfer", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "LOO err" in text and "extrap err" in text and "the pilots support transfer" in text
    data = json.loads(out.read_text())
    assert data["best"] == "transfer" and [s["law"] for s in data["scores"]] == [
        "transfer",
        "loglinear",
    ]
    assert main(["validate", str(pilots), "--laws", "nope"]) == 2
    assert "unknown law" in capsys.readouterr().err
