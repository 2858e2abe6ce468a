"""RegMix (Liu et al. 2024): fit on the 512 train-1M runs, predict the held-out runs.

Amounts: weight x the split's total tokens (1.05e9 for the 1M and 60M models, 2.62e10 for
the 1B models), weights as published (many are 0: those domains get data only by transfer).
Each of the 13 validation losses is the loss of the training domain of the same name; the
other 4 training domains (nih_exporter, philpapers, enron_emails, europarl) have no validation
set and act only as sources.

Test splits: test-1M (256 new mixtures, same model and budget: every metric applies),
test-60M (the same 256 mixtures on a 60M model) and test-1B (64 mixtures, 1B model, 25x the
tokens). For 60M and 1B the absolute losses belong to other models, so only the rank metrics
(Spearman, selection regret) are comparable; their relative errors are kept in the JSON only.

Selection objective: the Pile-CC loss (RegMix's target); the mean of the 13 losses is
reported next to it in the JSON and the Markdown details.
"""

from __future__ import annotations

import numpy as np

from jaxmix import InputError

from .common import regret_pct, rel_error, spearman, spearman_cols, timed
from .data import load_regmix
from .methods import Runs, mixture_methods

TESTS = ("test-1M", "test-60M", "test-1B")
TARGET = "pile_cc"


def _runs(data, split: str) -> Runs:
    s = data.splits[split]
    losses = np.full((len(s.weights), len(data.train_domains)), np.nan)
    for j, d in enumerate(data.loss_domains):
        losses[:, data.train_domains.index(d)] = s.losses[:, j]
    return Runs(s.weights * s.total, losses, data.train_domains)


def run(root, quick: bool = False, log=print) -> list[dict]:
    data = load_regmix(root)
    train = _runs(data, "train-1M")
    if quick:  # every fourth training run, and the test-1B split only
        train = Runs(train.amounts[::4], train.losses[::4], train.domains)
    tests = ("test-1B",) if quick else TESTS
    cols = [data.train_domains.index(d) for d in data.loss_domains]
    target = data.train_domains.index(TARGET)
    rows = []
    for method, fit in mixture_methods(varying_budget=False).items():
        notes = []
        try:
            (predict, info), secs = timed(fit, train)
            warm = timed(fit, train)[1] if method.startswith("jaxmix") else None
            if info.get("failed_domains"):
                notes.append(f"step cap reached: {', '.join(info['failed_domains'])}")
            if info.get("route"):
                notes.append(f"fitted with jaxmix.{info['route']}")
        except (InputError, ValueError) as err:
            predict, secs, warm = None, float("nan"), None
            notes.append(f"n/a: {str(err).splitlines()[0][:120]}")
        log(f"regmix {method}: fitted in {secs:.1f} s")
        for split in tests:
            test = _runs(data, split)
            obs = test.losses[:, cols]
            pred = np.full(obs.shape, np.nan) if predict is None else predict(test)[:, cols]
            comparable = split == "test-1M"
            err = rel_error(pred, obs)
            rows.append(
                {
                    "dataset": "regmix",
                    "split": f"train-1M ({len(train.amounts)}) -> {split} ({len(obs)})",
                    "method": method,
                    "mean_rel_error": err if comparable else None,
                    "mean_rel_error_other_model": None if comparable else err,
                    "spearman": spearman_cols(pred, obs),
                    "spearman_pile_cc": spearman(
                        pred[:, cols.index(target)], obs[:, cols.index(target)]
                    ),
                    "regret_pct": regret_pct(
                        pred[:, cols.index(target)], obs[:, cols.index(target)]
                    ),
                    "regret_mean13_pct": regret_pct(pred.mean(axis=1), obs.mean(axis=1)),
                    "objective": "Pile-CC loss",
                    "fit_seconds": secs,
                    "fit_seconds_warm": warm,
                    "notes": notes + ([] if comparable else ["one fit on train-1M for all tests"]),
                }
            )
    return rows
