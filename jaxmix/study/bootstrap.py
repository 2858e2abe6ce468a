"""Bootstrap intervals of the recommended mixture: resample the pilot runs, refit the law
to every resample and re-optimize, all batched (:func:`replicates`), then intervals of the
weights and predicted losses and the probability of beating a baseline (:func:`bootstrap`)."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmix import aot
from jaxmix.fitting.batched import pad_runs
from jaxmix.fitting.checks import measured_runs
from jaxmix.fitting.joint import fit_many
from jaxmix.fitting.objective import log_scale
from jaxmix.fitting.result import FitResult
from jaxmix.fitting.single import fit_joint
from jaxmix.laws.base import flat_field_names
from jaxmix.laws.registry import get_law
from jaxmix.optimization.api import optimize
from jaxmix.optimization.constraints import constraints, per_domain
from jaxmix.status import InputError, Status
from jaxmix.study.batch import chunk_size, map_batched
from jaxmix.study.sweeps import batched_solve, objective_many, prepare_batched_solve
from jaxmix.table import PilotTable


def _dtype():
    return jnp.result_type(float)


def _flat_perturbation(fit: FitResult, rng, n: int, scale: float) -> list:
    """Per leaf ``[n, K, ...]`` displacements along the directions the pilots do not
    determine (unconstrained, normalized units)."""
    leaves = [np.zeros((n,) + np.shape(x)) for x in fit.params]
    for i, d in enumerate(fit.domains):
        names = flat_field_names(fit.params, fit.domains, i)
        for direction in (
            (fit.diagnostics or {}).get("identifiability", {}).get(d, {}).get("directions", [])
        ):
            if direction["kind"] != "unidentified":
                continue
            v = np.array([direction["vector"].get(p, 0.0) for p in names])
            v /= max(np.linalg.norm(v), 1e-12)
            u = rng.uniform(-scale, scale, size=(n, 1))
            pos = 0
            for leaf, x in zip(leaves, fit.params):
                size = int(np.prod(np.shape(x)[1:], dtype=int))
                leaf[:, i] += (u * v[pos : pos + size]).reshape((n,) + np.shape(x)[1:])
                pos += size
    return leaves


class Replicates(NamedTuple):
    """Bootstrap replicates of a fit and of its optimal mixture (see :func:`replicates`).

    Attributes:
      fit: the full-data :class:`FitResult`; mixture: its :class:`Mixture`.
      params: the law's parameters with a leading ``[B]`` axis.
      weights: ``[B, K]`` optimal weights of every replicate (NaN rows where not finite).
      moved_flat: whether unidentified directions were moved at random.
      refit_status: ``[B, K]`` int32 :class:`Status` of every refit and domain.
    """

    fit: FitResult
    mixture: object
    params: object
    weights: np.ndarray
    moved_flat: bool
    refit_status: np.ndarray | None = None


def replicates(
    table: PilotTable,
    budget: float,
    n: int,
    seed: int = 0,
    law: str = "transfer",
    flat_scale: float = 2.0,
    chunk: int = 256,
    progress=None,
    fit: FitResult | None = None,
    **optimize_kw,
) -> Replicates:
    """Resample pilot runs ``n`` times, refit (batched) and re-optimize (batched).

    Each replicate draws the R runs with replacement (multinomial counts as observation
    weights, so every refit has the same shapes); parameter directions the pilots do not
    determine at all are also moved at random by up to ``flat_scale``, since no resample can.
    Each refit starts from the full-data fit (one start) and keeps its per-domain Huber
    threshold. ``fit`` is the joint fit of ``table`` already made (its strategy and
    threshold are reused, and its extrapolation check reaches the mixture); None fits
    ``law`` with the defaults.
    """
    if fit is not None and fit.method != "joint":
        raise InputError("the bootstrap needs per-domain losses (the joint fit)")
    table = measured_runs(table)[0]  # runs not trained yet are not resampled
    fit0 = fit_joint(table, law=law) if fit is None else fit
    prepare_replicates(table, fit0, n, budget, chunk, **optimize_kw)  # compiles meanwhile
    mix0 = optimize(fit0, budget, **optimize_kw)
    rng = np.random.default_rng(seed)
    fits, status = _refits(table, fit0, rng, n, chunk, progress)
    fits, moved = _moved_flat(table, fit0, fits, rng, n, flat_scale)
    fits = jax.tree.map(np.asarray, fits)
    res = _reoptimized(fit0, mix0, fits, budget, n, seed, chunk, progress, optimize_kw)
    return Replicates(fit0, mix0, fits, np.asarray(res.weights), moved, np.asarray(status))


def _refit_setup(table: PilotTable, fit0: FitResult):
    """``(amounts [R', K], losses [R', K], mask [R, K], shared, static)`` of the refits:
    the padded runs, the arguments every refit shares and the static options."""
    diag = fit0.diagnostics or {}
    number = lambda key, default: (  # noqa: E731
        float(diag[key]) if isinstance(diag.get(key), (int, float)) else default
    )
    # Every refit keeps the full-data fit's threshold per domain (the noise scale of the
    # experiment), so a refit is one polish with no re-estimation passes.
    found = diag.get("huber_delta")
    given_delta = (
        [float(found.get(d, 0.0)) for d in table.domains] if isinstance(found, dict) else 0.0
    )
    y = table.domain_losses()
    mask = np.isfinite(y)
    dt = _dtype()
    # Runs padded with weight zero, so tables of nearby sizes share one compiled refit.
    amounts, losses, _ = pad_runs(table.amounts, np.where(mask, y, 1.0), mask[None])
    shared = (
        jnp.asarray(given_delta, dt),
        jnp.asarray(number("prior", 1.0), dt),
        # One start per refit, at the full-data fit: a resample moves the optimum a little,
        # and the full-data fit's own multi-start already chose the basin.
        jax.tree.map(lambda x: jnp.asarray(x, dt), fit0.params),
    )
    static = {
        "law_name": fit0.law,
        "strategy": (diag.get("restarts") or {}).get("strategy", "screen"),
    }
    return jnp.asarray(amounts, dt), losses, mask, shared, static


def _refits(table: PilotTable, fit0: FitResult, rng, n: int, chunk: int, progress):
    """The law refitted to ``n`` resamples of the runs (multinomial counts as observation
    weights), each from the full-data fit with its threshold: ``(parameters with leaves
    [n, ...], status [n, K])``."""
    amounts, losses, mask, shared, static = _refit_setup(table, fit0)
    r = len(table.runs)
    counts = rng.multinomial(r, np.full(r, 1.0 / r), size=n).astype(float)  # [n, R]
    # Padded like the runs (weight zero); only the weights are needed from pad_runs here.
    weights = pad_runs(table.amounts, np.ones(mask.shape), counts[:, :, None] * mask[None])[2]

    def fn(b):
        return aot.call(refit_many, "refit_many", amounts, *b, *shared, **static)

    stage = (lambda done, total: progress("refit", done, total)) if progress else None
    dt = _dtype()
    batch = (np.broadcast_to(losses.astype(dt), weights.shape), weights.astype(dt))
    return map_batched(fn, batch, chunk=chunk, progress=stage)


def prepare_replicates(
    table: PilotTable, fit0: FitResult, n: int, budget: float, chunk: int = 256, **optimize_kw
) -> None:
    """Start compiling the refits and re-optimizations of :func:`replicates` in the
    background (:func:`jaxmix.aot.prepare`), so that what runs before them (the full-data
    optimum) is traced and compiled meanwhile."""
    table = measured_runs(table)[0]
    amounts, losses, _, shared, static = _refit_setup(table, fit0)
    zeros = np.zeros((chunk_size(n, chunk),) + losses.shape, _dtype())
    aot.prepare(refit_many, "refit_many", amounts, zeros, zeros, *shared, **static)
    lower, upper = _bounds_of(fit0, budget, optimize_kw)
    prepare_batched_solve(fit0, n, lower, upper, optimize_kw.get("restarts", 8), chunk)


@functools.partial(jax.jit, static_argnames=("law_name", "strategy"))
def refit_many(amounts, losses, weights, delta, prior, init, *, law_name, strategy):
    """The bootstrap's refits: :func:`fit_many` of ``losses, weights [B, R, K]`` from the
    one start ``init`` (leaves ``[K]``) with the thresholds ``delta [K]``: ``(parameters
    with leaves [B, K], status [B, K])`` (no diagnostics are computed)."""
    out = fit_many(
        amounts,
        losses,
        weights,
        delta,
        prior,
        law_name=law_name,
        strategy=strategy,
        polish=4,
        diagnose=False,
        init=init,
    )
    return out.params, out.status


def _moved_flat(table: PilotTable, fit0: FitResult, fits, rng, n: int, flat_scale: float):
    """``(fits, moved)``: the refits with the directions the pilots do not determine moved
    at random (in normalized units), and whether any was."""
    law_spec = get_law(fit0.law)
    shift = _flat_perturbation(fit0, rng, n, flat_scale)
    moved = any(np.any(x) for x in shift)
    if moved:
        log_s = float(log_scale(jnp.asarray(table.amounts)))
        norm = law_spec.unscale(fits, -log_s)
        leaves = [np.asarray(x) + d for x, d in zip(norm, shift)]
        fits = law_spec.unscale(type(fits)(*leaves), log_s)
    return fits, moved


def _bounds_of(fit0: FitResult, budget: float, optimize_kw: dict):
    """``(lower [K], upper [K])`` of the full-data mixture's constraints."""
    return constraints(
        fit0,
        budget,
        **{key: optimize_kw.get(key) for key in ("min_weight", "max_weight", "fix", "available")},
        max_epochs=optimize_kw.get("max_epochs", 1.0),
    )


def _reoptimized(fit0, mix0, fits, budget, n: int, seed, chunk, progress, optimize_kw):
    """Every refit's optimal mixture under the full-data mixture's objective and bounds."""
    k = len(fit0.domains)
    lower, upper = _bounds_of(fit0, budget, optimize_kw)
    stage = (lambda done, total: progress("optimize", done, total)) if progress else None
    res = batched_solve(
        fit0._replace(params=fits),
        np.full(n, float(budget)),
        np.broadcast_to(np.asarray(mix0.importance), (n, k)),
        np.broadcast_to(lower, (n, k)),
        np.broadcast_to(upper, (n, k)),
        optimize_kw.get("restarts", 8),
        seed,
        chunk,
        stage,
        batched=True,
    )
    return res


def bootstrap(
    table: PilotTable,
    budget: float,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.9,
    baseline=None,
    flat_scale: float = 2.0,
    chunk: int = 256,
    progress=None,
    law: str = "transfer",
    fit: FitResult | None = None,
    **optimize_kw,
) -> tuple:
    """Uncertainty of the recommended mixture: resample the pilot runs ``n`` times, refit
    the joint law to each resample and re-optimize, all batched.

    Args:
      table: the pilot table (per-domain ``loss:<domain>`` columns).
      budget: total amount N. n: resamples. seed: seed of the resampling.
      level: interval level. baseline: ``{domain: weight}`` to compare with (default
        uniform). flat_scale: how far directions the pilots do not determine are moved.
      chunk, progress: batch size of the vmapped calls and a ``(stage, done, total)``
        callback.
      law: the law of the joint fit when ``fit`` is None.
      fit: the joint fit of ``table`` already made (:func:`fit` with its ``strategy`` and
        ``check_extrapolation``); its mixture then carries the same warnings as
        :func:`optimize` gives it.
      optimize_kw: the options of :func:`optimize` (bounds, availability, restarts).

    Returns:
      ``(study, mixture, fit)``: ``study`` is the JSON-ready additions to a mixture file
      (``weights_interval``, ``predicted_loss_interval`` of the recommended mixture across
      replicates, ``p_beats_uniform`` or ``p_beats_baseline``, the replicate count);
      ``mixture`` and ``fit`` are the full-data :class:`Mixture` and :class:`FitResult`.
    """
    if n < 2:
        raise InputError(f"n: the bootstrap needs at least 2 resamples, got {n}")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level}")
    reps = replicates(
        table, budget, n, seed, law, flat_scale, chunk, progress, fit=fit, **optimize_kw
    )
    fit0, mix0, fits = reps.fit, reps.mixture, reps.params
    base_w = _baseline_weights(fit0, baseline)
    f_rec, pred_rec = _objectives_at(fits, mix0.weights, budget, mix0.importance, fit0.law, n)
    f_base, _ = _objectives_at(fits, base_w, budget, mix0.importance, fit0.law, n)
    study = _study(table, reps, pred_rec, f_rec, f_base, n, seed, level, baseline, base_w)
    return study, mix0, fit0


def _baseline_weights(fit0: FitResult, baseline) -> np.ndarray:
    """``[K]`` the mixture the bootstrap compares with: uniform, or ``baseline`` checked."""
    k = len(fit0.domains)
    if baseline is None:
        return np.full(k, 1.0 / k)
    base_w = per_domain(fit0, baseline, "baseline", 0.0)
    if np.any(base_w < 0) or abs(base_w.sum() - 1) > 1e-6:
        raise InputError("baseline weights must be >= 0 and sum to 1")
    return base_w


def _objectives_at(fits, weights, budget, importance, law_name: str, n: int):
    """``(objective [n], predicted [n, K])`` of every replicate at one mixture ``[K]`` (or
    at its own, ``[n, K]``)."""
    dt = _dtype()
    k = np.shape(weights)[-1]
    budget, importance = jnp.asarray(budget, dt), jnp.asarray(np.asarray(importance), dt)

    def fn(batch):  # padded to a bucket by map_batched: nearby n share one program
        return aot.call(
            objective_many, "objective_many", *batch, budget, importance, law_name=law_name
        )

    batch = (jax.tree.map(lambda x: np.asarray(x, dt), fits), np.broadcast_to(weights, (n, k)))
    return map_batched(fn, batch, shard=False)


def _refit_counts(status) -> dict:
    """``refits_converged``: resamples whose every domain's refit met its stopping test, and
    ``refit_status``: how many refits (resample x domain) ended in each :class:`Status`."""
    if status is None:
        return {}
    status = np.asarray(status)
    return {
        "refits_converged": int(np.all(status == Status.SUCCESS, axis=1).sum()),
        "refit_status": {s.name: int(np.sum(status == s)) for s in Status if np.any(status == s)},
    }


def _study(table, reps, pred_rec, f_rec, f_base, n, seed, level, baseline, base_w) -> dict:
    """The JSON-ready bootstrap study (see :func:`bootstrap`)."""
    lo, hi = (1 - level) / 2, (1 + level) / 2
    ok = np.all(np.isfinite(reps.weights), axis=1)
    q = lambda a: np.quantile(a[ok], [lo, hi], axis=0)  # noqa: E731
    wq, pq = q(reps.weights), q(np.asarray(pred_rec))
    win = float(np.mean(np.asarray(f_rec)[ok] < np.asarray(f_base)[ok]))
    per = lambda arr: {d: [float(arr[0, i]), float(arr[1, i])] for i, d in enumerate(table.domains)}  # noqa: E731
    return {
        "bootstrap": {
            "resamples": n,
            "finite": int(ok.sum()),
            "seed": seed,
            "level": level,
            "flat_directions_moved": reps.moved_flat,
            **_refit_counts(reps.refit_status),
        },
        "weights_interval": per(wq),
        "predicted_loss_interval": per(pq),
        ("p_beats_uniform" if baseline is None else "p_beats_baseline"): win,
        **({} if baseline is None else {"baseline": dict(zip(table.domains, base_w.tolist()))}),
    }
