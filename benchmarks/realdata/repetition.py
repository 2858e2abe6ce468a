"""Repeated data (Muennighoff et al. 2023): does repetition-aware effective data extrapolate
from few epochs to many?

Runs with at most ``MAX_TRAIN_EPOCHS`` epochs train the fit, the rest (up to 9,000 epochs)
are held out. Effective data of U unique tokens seen D times in total:
D' = min(D, U) + U R* (1 - exp(-max(D/U - 1, 0) / R*)), from ``jaxmix.effective_amounts``
when jaxmix exports it (the same formula written here otherwise).

- ``pooled``: every model size at once, L = E + A N^-a + B X^-b (Muennighoff's form without
  the excess-parameter term), X = D (tokens) or D'.
- ``per size``: sizes with at least ``MIN_TRAIN`` training runs and one held-out run,
  L = C X^-beta + E per size.

Curve fits are scipy least squares on log residuals (jaxmix's laws are mixture laws; a
single-domain law in N and D is outside their interface).
"""

from __future__ import annotations

import functools

import numpy as np

from .common import amplitudes, fit_curve, rel_error, spearman, timed
from .data import load_repetition

MAX_TRAIN_EPOCHS = 4.0
MIN_TRAIN = 4
R_STAR_PAPER = 15.4  # Muennighoff et al. 2023, fitted R*_D
SCALE = 1e9  # tokens and parameters per unit inside the fits


def _effective_local(amounts, unique, r_star):
    n, u = np.asarray(amounts, float), np.asarray(unique, float)
    r = np.maximum(n / u - 1.0, 0.0)
    return np.minimum(n, u) + u * r_star * (1.0 - np.exp(-r / r_star))


@functools.cache
def _jaxmix_effective():
    """jaxmix's effective_amounts (jitted: the fits call it thousands of times): the public
    export, else the module that defines it."""
    import jax

    import jaxmix

    fn = getattr(jaxmix, "effective_amounts", None)
    if fn is not None:
        return jax.jit(fn), "jaxmix.effective_amounts"
    try:
        from jaxmix.laws.repetition import effective_amounts
    except ImportError:
        return None, "local formula (jaxmix has no effective_amounts)"
    return jax.jit(effective_amounts), "jaxmix.laws.repetition.effective_amounts (not exported yet)"


def effective(amounts, unique, r_star):
    """Repetition-aware effective data (jaxmix's function when it exists)."""
    fn, _ = _jaxmix_effective()
    if fn is None:
        return _effective_local(amounts, unique, r_star)
    return np.asarray(fn(np.asarray(amounts, float), np.asarray(unique, float), r_star))


def effective_source() -> str:
    return _jaxmix_effective()[1]


def _data(runs, idx, r_star):
    d = runs.tokens[idx]
    if r_star is not None:
        d = effective(d, runs.unique[idx], r_star)
    return d / SCALE


# Each fitter: (runs, train idx, r_star mode) -> (predict(idx) -> [n], r_star used)


def fit_pooled(runs, train, mode):
    n = runs.params / SCALE
    y = runs.loss[train]

    def model_at(idx, theta):
        log_a, log_pa, log_b, log_pb, log_e = theta[:5]
        r_star = np.exp(theta[5]) if mode == "fit" else (R_STAR_PAPER if mode else None)
        x = _data(runs, idx, r_star)
        return (
            np.exp(log_a - np.exp(log_pa) * np.log(n[idx]))
            + np.exp(log_b - np.exp(log_pb) * np.log(x))
            + np.exp(log_e)
        )

    starts = []
    for pa in (0.1, 0.3, 0.6):
        for pb in (0.1, 0.3, 0.6):
            for rs in (5.0, 15.0, 50.0) if mode == "fit" else (None,):
                e = 0.5 * y.min()
                s = [np.log(0.5), np.log(pa), np.log(0.5), np.log(pb), np.log(e)]
                starts.append(s + ([np.log(rs)] if rs else []))
    lower = [-20, np.log(1e-3), -20, np.log(1e-3), -20] + ([np.log(0.1)] if mode == "fit" else [])
    upper = [20, np.log(3.0), 20, np.log(3.0), np.log(y.min())] + (
        [np.log(1e4)] if mode == "fit" else []
    )
    theta, _ = fit_curve(lambda t: model_at(train, t), y, starts, lower, upper)
    r_star = float(np.exp(theta[5])) if mode == "fit" else (R_STAR_PAPER if mode else None)
    return (lambda idx: model_at(idx, theta)), r_star


def fit_size(runs, train, mode):
    y = runs.loss[train]

    def model_at(idx, theta):
        log_c, log_b, log_e = theta[:3]
        r_star = np.exp(theta[3]) if mode == "fit" else (R_STAR_PAPER if mode else None)
        x = _data(runs, idx, r_star)
        return np.exp(log_c - np.exp(log_b) * np.log(x)) + np.exp(log_e)

    starts = []
    for beta in (0.05, 0.15, 0.4):
        for rs in (5.0, 15.0, 50.0) if mode == "fit" else (None,):
            x = _data(runs, train, rs if mode == "fit" else (R_STAR_PAPER if mode else None))
            c, e = amplitudes(x**-beta, y)
            starts.append([np.log(c), np.log(beta), np.log(e)] + ([np.log(rs)] if rs else []))
    lower = [-50, np.log(1e-3), -20] + ([np.log(0.1)] if mode == "fit" else [])
    upper = [50, np.log(3.0), np.log(y.min())] + ([np.log(1e4)] if mode == "fit" else [])
    theta, _ = fit_curve(lambda t: model_at(train, t), y, starts, lower, upper)
    r_star = float(np.exp(theta[3])) if mode == "fit" else (R_STAR_PAPER if mode else None)
    return (lambda idx: model_at(idx, theta)), r_star


METHODS = {  # name -> r_star mode: None (tokens), "fit", or True (paper's R*)
    "tokens D": None,
    "effective D', R* fitted": "fit",
    f"effective D', R* = {R_STAR_PAPER} (Muennighoff)": True,
}


def run(root, quick: bool = False, log=print) -> list[dict]:
    runs = load_repetition(root)
    held = runs.epochs > MAX_TRAIN_EPOCHS
    rows = []
    source = effective_source()
    # Pooled over sizes.
    train, test = np.where(~held)[0], np.where(held)[0]
    for method, mode in METHODS.items():
        (predict, r_star), secs = timed(fit_pooled, runs, train, mode)
        pred = predict(test)
        rows.append(
            {
                "dataset": "data_constrained_muennighoff",
                "split": f"pooled sizes: <= 4 epochs ({len(train)}) -> > 4 ({len(test)})",
                "method": method,
                "mean_rel_error": rel_error(pred, runs.loss[test]),
                "spearman": spearman(pred, runs.loss[test]),
                "regret_pct": None,
                "objective": None,
                "fit_seconds": secs,
                "r_star": r_star,
                "notes": [f"L = E + A N^-a + B X^-b; D' from {source}"],
            }
        )
    log("repetition: pooled fits done")
    # Per model size.
    sizes = []
    for n in np.unique(runs.params):
        size = runs.params == n
        if np.sum(size & ~held) >= MIN_TRAIN and np.any(size & held):
            sizes.append(n)
    for method, mode in METHODS.items():
        errs, rhos, secs, r_stars, obs_all, pred_all = [], [], 0.0, [], [], []
        for n in sizes:
            size = runs.params == n
            train, test = np.where(size & ~held)[0], np.where(size & held)[0]
            (predict, r_star), s = timed(fit_size, runs, train, mode)
            pred = predict(test)
            secs += s
            errs.append(rel_error(pred, runs.loss[test]))
            rhos.append(spearman(pred, runs.loss[test]) if len(test) > 1 else np.nan)
            r_stars.append(r_star)
            obs_all.append(runs.loss[test])
            pred_all.append(pred)
        rows.append(
            {
                "dataset": "data_constrained_muennighoff",
                "split": (
                    f"per size ({len(sizes)} sizes with >= {MIN_TRAIN} runs at <= 4 epochs): "
                    f"-> > 4 epochs ({sum(len(o) for o in obs_all)})"
                ),
                "method": method,
                "mean_rel_error": rel_error(np.concatenate(pred_all), np.concatenate(obs_all)),
                "spearman": float(np.nanmean(rhos)),
                "regret_pct": None,
                "objective": None,
                "fit_seconds": secs,
                "r_star": r_stars,
                "sizes": [float(n) for n in sizes],
                "mean_rel_error_by_size": errs,
                "notes": [f"L = C X^-beta + E per size; D' from {source}"],
            }
        )
    log("repetition: per-size fits done")
    return rows
