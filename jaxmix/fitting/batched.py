"""The joint fit of a batch of observation weights (folds, hold-outs), padded to shared shapes.

``fit_many`` compiles once per shape. Tables of nearby sizes (a pilot table before and after
``jaxmix next`` adds runs, the folds of a 13- and a 14-run table) would each compile their
own program, so the runs are padded to a multiple of :data:`RUN_MULTIPLE` with runs of weight
zero (a run of weight zero is a run left out: every sum, median and scale of the fit skips
it) and the batch to a bucket (:func:`batch_bucket`) with copies of its first member, which
are dropped from the result.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting.joint import JointFit, fit_many

RUN_MULTIPLE = 8


def batch_bucket(b: int) -> int:
    """The padded batch size: 2 for one or two fits, a multiple of 4 up to 16, else of 8.

    >>> [batch_bucket(b) for b in (1, 2, 3, 14, 17, 64)]
    [2, 2, 4, 16, 24, 64]
    """
    if b <= 2:
        return 2
    step = 4 if b <= 16 else 8
    return step * math.ceil(b / step)


def pad_runs(amounts, losses, weights):
    """``(amounts [R', K], losses [..., R', K], weights [..., R', K])`` (each keeps its own
    leading axes), ``R'`` the next multiple of :data:`RUN_MULTIPLE`: added runs repeat the
    first run's amounts, with loss 1 and weight 0.

    >>> a, l, w = pad_runs(np.ones((13, 3)), np.ones((13, 3)), np.ones((5, 13, 3)))
    >>> a.shape, l.shape, w.shape, float(w[:, 13:].sum())
    ((16, 3), (16, 3), (5, 16, 3), 0.0)
    """
    amounts, losses, weights = (np.asarray(x, float) for x in (amounts, losses, weights))
    extra = -amounts.shape[0] % RUN_MULTIPLE
    if extra == 0:
        return amounts, losses, weights
    amounts = np.concatenate([amounts, np.repeat(amounts[:1], extra, axis=0)])

    def padded(x, value):  # [..., R, K] -> [..., R', K]
        fill = np.full(x.shape[:-2] + (extra, x.shape[-1]), value)
        return np.concatenate([x, fill], axis=-2)

    losses, weights = padded(losses, 1.0), padded(weights, 0.0)
    return amounts, losses, weights


def _weighted_args(amounts, losses, weights, delta, prior, options: dict):
    """``(arguments, options, B)`` of the padded ``fit_many`` call of :func:`fit_weighted`."""
    options = {"strategy": "screen", "polish": 4, "diagnose": False, **options}
    b = losses.shape[0]
    amounts, losses, weights = pad_runs(amounts, losses, weights)
    pad = batch_bucket(b) - b
    losses = np.concatenate([losses, np.repeat(losses[:1], pad, axis=0)])
    weights = np.concatenate([weights, np.repeat(weights[:1], pad, axis=0)])
    dt = jnp.result_type(float)
    args = tuple(jnp.asarray(x, dt) for x in (amounts, losses, weights, delta, prior))
    return args, options, b


def fit_weighted(amounts, losses, weights, delta, prior, **options) -> JointFit:
    """``fit_many(..., **options)`` of ``losses, weights [B, R, K]`` at ``amounts [R, K]``
    (options default to ``strategy="screen", polish=4, diagnose=False``), through the export
    cache, padded as the module docstring says; a :class:`JointFit` with leading axis
    ``[B]``, as numpy arrays. ``delta <= 0``: the fit's own threshold."""
    args, options, b = _weighted_args(amounts, losses, weights, delta, prior, options)
    out = aot.call(fit_many, "joint_fit", *args, **options)
    return jax.tree.map(lambda x: np.asarray(x)[:b], jax.device_get(out))


def prepare_weighted(amounts, losses, weights, delta, prior, **options) -> None:
    """Start compiling the program of ``fit_weighted`` with these arguments in the
    background (:func:`jaxmix.aot.prepare`), so that the next one is traced meanwhile."""
    args, options, _ = _weighted_args(amounts, losses, weights, delta, prior, options)
    aot.prepare(fit_many, "joint_fit", *args, **options)
