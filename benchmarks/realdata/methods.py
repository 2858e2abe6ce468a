"""The methods compared on mixture data: jaxmix's laws and the peers' regressions.

Adding a jaxmix law to the benchmark is one entry in ``JAXMIX_LAWS``; laws not registered in
the installed jaxmix are skipped (and listed in the output).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import jaxmix

from .common import jaxmix_law, lgbm_fit, linear_fit

JAXMIX_LAWS = ("transfer", "pairwise", "mixing_law", "interference", "broken")
BUDGET_FREE = {"mixing_law"}  # laws of the proportions only: fit at one budget


class Runs(NamedTuple):
    """Runs seen by a method.

    Attributes:
      amounts: ``[R, K]`` tokens of each training domain.
      losses: ``[R, K]`` validation losses: column i is the loss on training domain i's
        validation set, NaN where that domain has none.
      domains: the K training domain names.
    """

    amounts: np.ndarray
    losses: np.ndarray
    domains: tuple = ()

    @property
    def weights(self) -> np.ndarray:
        return self.amounts / self.amounts.sum(axis=1, keepdims=True)


def available_laws() -> tuple[str, ...]:
    have = set(jaxmix.available_laws())
    return tuple(law for law in JAXMIX_LAWS if law in have)


def missing_laws() -> tuple[str, ...]:
    have = set(jaxmix.available_laws())
    return tuple(law for law in JAXMIX_LAWS if law not in have)


def _jaxmix(law: str) -> Callable:
    def fit(train: Runs):
        predict, info = jaxmix_law(law, train.amounts, train.losses, train.domains or None)
        return (lambda test: predict(test.amounts)), info

    return fit


def _features(runs: Runs, with_tokens: bool) -> np.ndarray:
    w = runs.weights
    if with_tokens:
        return np.concatenate([w, np.log(runs.amounts.sum(axis=1, keepdims=True))], axis=1)
    return w


def _regression(make: Callable, with_tokens: bool) -> Callable:
    def fit(train: Runs):
        predict = make(_features(train, with_tokens), train.losses)
        return (lambda test: predict(_features(test, with_tokens))), {}

    return fit


def mixture_methods(varying_budget: bool) -> dict[str, Callable]:
    """``{name: fit(train: Runs) -> (predict(test: Runs) -> [R', V], info)}``.

    With ``varying_budget`` (runs of several training lengths) the budget-free laws are left
    out and the regressions get log total tokens as an extra feature.
    """
    out = {}
    for law in available_laws():
        if varying_budget and law in BUDGET_FREE:
            continue
        out[f"jaxmix {law}"] = _jaxmix(law)
    suffix = " (+ log tokens)" if varying_budget else ""
    out["linear regression" + suffix] = _regression(linear_fit, varying_budget)
    out["LightGBM" + suffix] = _regression(lgbm_fit, varying_budget)
    return out
