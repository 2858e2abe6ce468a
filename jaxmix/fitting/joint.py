"""Joint fit: every domain's law against its loss in every pilot run.

Unlike the reference procedure, domain i sees runs where the *other* domains' amounts vary
(perturbations of domain j), which is what identifies its transfer parameters. The fit is
separable by domain, so each (restart, domain) pair is an independent damped Newton problem
on one row of the parameters; restarts are chosen per domain.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmix.fitting.identify import Identifiability, domain_residuals, identifiability
from jaxmix.fitting.newton import MinimizeResult, minimize
from jaxmix.fitting.objective import (
    HUBER_K,
    MAD_SIGMA,
    amplitude_refine,
    domain_curvature,
    domain_objective,
    log_loss_scale,
    log_scale,
    prior_z,
    robust_delta,
    shift_loss,
    take_rows,
)
from jaxmix.laws.registry import get_law

STRATEGIES = ("screen", "vmap", "map")
EXACT_SCALE = 1e-4  # fitted residual scale (0.01%) below which pilots count as exact
EXACT_DELTA = 1e-3  # Huber threshold of the prior-free polish of exact pilots
RESCALE_PASSES = 3  # re-estimations of the threshold from the fitted residuals
AT_BOUND_Z = 2.5  # prior standard deviations beyond which a coordinate counts "at bound"
RTOL = 1e-10  # Cauchy tolerance on the objective (in noise units) and on the step
XTOL = 1e-6
MAX_REJECT = 6  # consecutive rejected steps that count as a numerical minimum


class JointFit(NamedTuple):
    """Output of :func:`joint_fit_arrays` (one problem; leading axes as noted).

    Attributes:
      params: law parameters, leaves ``[K]``, for the amounts as given (not normalized).
      objective: ``[K]`` objective of the chosen restart: summed Huber loss of the log
        residuals in noise units (``huber(r, delta) / sigma**2``, sigma = delta / 1.345)
        plus ``prior`` times the law's weak prior.
      status: ``[K]`` int32 solver status of the chosen restart.
      restart_objective: ``[S, K]`` final objective of every polished start.
      restart_status: ``[S, K]`` status of every polished start.
      identifiability: :class:`Identifiability` at the fitted parameters (None when the
        fit was called with ``diagnose=False``, as batched bootstrap refits are).
      steps: ``[K]`` int32 Newton steps of the chosen restart.
      delta: ``[K]`` Huber threshold used for each domain (log-residual units).
      prior_z: ``[K, P]`` each unconstrained coordinate's distance from the prior's centre
        in prior standard deviations (0 where the prior is flat); ``|z| >= AT_BOUND_Z``
        marks a coordinate held by the prior rather than the pilots ("at bound").
    """

    params: object
    objective: jax.Array
    status: jax.Array
    restart_objective: jax.Array
    restart_status: jax.Array
    identifiability: Identifiability
    steps: jax.Array = None
    delta: jax.Array = None
    prior_z: jax.Array = None


class Passes(NamedTuple):
    """Loop state of the joint fit's threshold re-estimation (``S`` starts, ``K`` domains).

    Attributes:
      result: MinimizeResult with leaves ``[S, K]``, the polished candidates so far.
      delta: ``[K]`` Huber threshold of the next pass (of the last one where not redone).
      prior: ``[K]`` prior weight of the next pass (0 once the pilots count as exact).
      settled: ``[K]`` polished without the prior; no further pass changes it.
      redo: ``[K]`` the next pass re-polishes this domain.
      done: ``[]`` int32 passes run, the starts' polish included.
      first_value, first_status: ``[S, K]`` objective and status of the starts' polish.
    """

    result: object
    delta: jax.Array
    prior: jax.Array
    settled: jax.Array
    redo: jax.Array
    done: jax.Array
    first_value: jax.Array
    first_status: jax.Array


@functools.partial(
    jax.jit, static_argnames=("law_name", "strategy", "polish", "max_steps", "diagnose")
)
def joint_fit_arrays(
    amounts,
    losses,
    mask,
    delta=0.0,
    prior=1.0,
    tol=0.0,
    *,
    law_name: str = "transfer",
    strategy: str = "screen",
    polish: int = 4,
    max_steps: int = 300,
    diagnose: bool = True,
    init=None,
) -> JointFit:
    """Fit a law to ``losses [R, K]`` observed (``mask [R, K]``) at ``amounts [R, K]``.

    ``mask`` is boolean, or non-negative observation weights (bootstrap counts): each
    run's Huber term is multiplied by its weight.

    Amounts are normalized internally by their geometric mean, and each domain's losses
    by theirs, so the unit of either does not change the fit. Each domain minimizes a MAP
    objective (:func:`domain_objective`): Huber of the log residuals in noise units plus
    ``prior`` times the law's weak coercive prior, so every fit has a finite minimizer.
    ``delta`` is the Huber threshold on log residuals: ``<= 0`` (default) picks it per
    domain from the pilots (:func:`robust_delta` of the fitted residuals; see below).
    The damped Newton solver stops on scale-free Cauchy tests (:func:`minimize`); ``tol``
    is an extra absolute gradient test (0: off).

    ``strategy`` picks the multi-start scheme: ``"screen"`` scores the law's starting grid
    and polishes the best ``polish`` per domain (vmapped); ``"vmap"`` polishes every grid
    point at once; ``"map"`` polishes them one after another with ``lax.map`` (no vmapped
    while-loop waits for its slowest member). ``init`` (parameters with leaves ``[K]``, in
    the units of ``amounts`` and ``losses``, e.g. a fit of the full table) replaces the
    starts with one start there, as bootstrap refits use.

    >>> import jax.numpy as jnp
    >>> from jaxmix import from_params, predict, plan
    >>> true = from_params({d: dict(C=1, k=0.3, alpha=0.6, beta=0.4, E=1) for d in "abc"})
    >>> a = jnp.asarray(plan("abc", 1.0).amounts)
    >>> out = joint_fit_arrays(a, predict(true, a), jnp.ones(a.shape, bool))
    >>> out.status.tolist()
    [0, 0, 0]
    """
    law = get_law(law_name)
    k = amounts.shape[1]
    weights, mask, log_s, scaled, log_sy, ys, grid = _normalized(law, amounts, losses, mask)
    residuals = _residuals_fn(law, scaled, ys, mask, k)
    warm = None if init is None else shift_loss(law, law.unscale(init, -log_s), -log_sy)
    starts, delta, given = _starts(residuals, grid, weights, mask, warm, delta, strategy, polish)
    prior = jnp.broadcast_to(jnp.asarray(prior, amounts.dtype), (k,))
    polish_all = _polisher(law, scaled, ys, weights, k, tol, max_steps, strategy)
    st = _passes(polish_all, residuals, starts, delta, prior, given, mask, k, amounts.dtype)
    return _final(law, st, scaled, ys, mask, log_s, log_sy, diagnose, k)


def _starts(residuals, grid, weights, mask, warm, delta, strategy: str, polish: int):
    """``(starts [S, K], delta [K], given [K])``: the starts to polish (the best ``polish``
    grid points per domain, every grid point, or the one warm start) and the Huber threshold
    (``given`` where positive, else from the residuals of the best start)."""
    if warm is None:
        order, best_res = _screen(residuals, grid, weights)
    else:  # one start: the given parameters, in this fit's normalized units
        best_res = residuals(warm)
    k = mask.shape[1]
    given = jnp.broadcast_to(jnp.asarray(delta, weights.dtype), (k,))
    delta = jnp.where(given > 0, given, robust_delta(best_res, mask))
    if warm is not None:
        starts = jax.tree.map(lambda x: x[None], warm)
    elif strategy == "screen":
        starts = jax.tree.map(lambda g: take_rows(g, order[:polish]), grid)
    else:
        starts = grid
    return starts, delta, given


def _final(law, st: Passes, scaled, ys, mask, log_s, log_sy, diagnose: bool, k: int) -> JointFit:
    """The best polished start per domain, in the amounts' and losses' own units."""
    delta, res = st.delta, st.result
    final = _best_of(res)
    params = final.params
    z = jax.vmap(lambda i: prior_z(law, jax.tree.map(lambda x: x[i], params)))(jnp.arange(k))
    ident = identifiability(law, params, scaled, ys, mask) if diagnose else None
    return JointFit(
        params=law.unscale(shift_loss(law, params, log_sy), log_s),
        objective=final.value,
        status=final.status,
        restart_objective=st.first_value,
        restart_status=st.first_status,
        identifiability=ident,
        steps=final.steps,
        delta=delta,
        prior_z=z,
    )


def _normalized(law, amounts, losses, mask):
    """``(weights, mask, log_s, scaled amounts, log_sy, scaled losses, starting grid)``:
    amounts divided by their geometric mean, each domain's losses by theirs."""
    weights = jnp.asarray(mask, amounts.dtype)
    mask = weights > 0
    log_s = log_scale(amounts, jnp.any(mask, axis=1))
    scaled = amounts / jnp.exp(log_s)
    k = amounts.shape[1]
    log_sy = log_loss_scale(losses, mask) if law.loss_fields else jnp.zeros(k, amounts.dtype)
    ys = jnp.where(mask, losses / jnp.exp(log_sy), 1.0)
    grid = law.init_grid(scaled, ys, weights)  # leaves [G, K]
    return weights, mask, log_s, scaled, log_sy, ys, grid


def _residuals_fn(law, scaled, ys, mask, k: int):
    def residuals(params):  # [R, K] log residuals at a full parameter set
        def one(i):
            row = jax.tree.map(lambda x: x[i], params)
            return domain_residuals(law, scaled, ys, mask, i)(row)

        return jax.vmap(one, out_axes=1)(jnp.arange(k))

    return residuals


def _screen(residuals, grid, weights):
    """``(order [G, K], residuals [R, K] of the best grid point)``: the grid ranked per
    domain by the weighted sum of squares (no threshold needed yet)."""
    res_grid = jax.vmap(residuals)(grid)  # [G, R, K]
    scores = jnp.sum(weights * res_grid**2, axis=1)
    scores = jnp.where(jnp.isfinite(scores), scores, jnp.inf)  # [G, K]
    order = jnp.argsort(scores, axis=0)  # [G, K]
    best_res = jnp.take_along_axis(res_grid, order[0][None, None], axis=0)[0]  # [R, K]
    return order, best_res


def _polisher(law, scaled, ys, weights, k: int, tol, max_steps: int, strategy: str):
    """``(starts [S, K], delta [K], prior [K]) -> MinimizeResult [S, K]``: the damped Newton
    polish of every start and domain (vmapped, or one start after another for ``"map"``)."""

    def polish_one(row0, delta_i, prior_i, i):
        objective = domain_objective(law, scaled, ys, weights, delta_i, prior_i, i)
        return minimize(
            objective,
            row0,
            max_steps,
            tol,
            hessian=domain_curvature(law, scaled, ys, weights, delta_i, prior_i, i),
            rtol=RTOL,
            xtol=XTOL,
            max_reject=MAX_REJECT,
            refine=amplitude_refine(law, objective, row0),
        )

    def solve(start, delta, prior):  # start leaves [K], delta, prior [K] -> rows [K]
        def one(i):
            return polish_one(jax.tree.map(lambda x: x[i], start), delta[i], prior[i], i)

        return jax.vmap(one)(jnp.arange(k))

    def polish_all(cands, d, p):  # leaves [S, K] -> MinimizeResult with leaves [S, K]
        if strategy == "map":
            return jax.lax.map(lambda st: solve(st, d, p), cands)
        return jax.vmap(lambda st: solve(st, d, p))(cands)

    return polish_all


def _best_of(res):  # MinimizeResult [S, K] -> the best start per domain, [K]
    obj = jnp.where(jnp.isfinite(res.value), res.value, jnp.inf)
    best = jnp.argmin(obj, axis=0)
    return jax.tree.map(lambda x: take_rows(x, best[None])[0], res)


# Pass 0 polishes the starts with the threshold of the best grid point. That threshold
# overstates the noise (it holds the misfit of a coarse grid), and an overstated noise
# lets the prior pull identified parameters, so later passes re-estimate it from the
# best fit's residuals and polish every candidate again, where it fell by half or
# more. Pilots fitted to within 0.01% (a residual scale below EXACT_SCALE) determine
# every identified parameter exactly, so that polish drops the prior: the exact fit is
# then a finite minimizer, and no prior biases it. Passes run while some domain's
# threshold still falls by half, up to RESCALE_PASSES after the first; every pass is
# the same loop body, so the Newton solve is traced and compiled once.
def _passes(polish_all, residuals, starts, delta, prior, given, mask, k: int, dtype) -> Passes:
    """The polish passes (see above), in one ``while_loop``; the final :class:`Passes`."""

    def plan_next(st: Passes, out) -> Passes:
        """The next pass's threshold and prior per domain, from ``out``'s best fit."""
        fitted = residuals(_best_of(out).params)
        scale = robust_delta(fitted, mask, floor=0.0) / (HUBER_K * MAD_SIGMA)
        exact = scale < EXACT_SCALE
        d = jnp.where(exact, EXACT_DELTA, robust_delta(fitted, mask))
        redo = (given <= 0) & ~st.settled & (exact | (d < 0.5 * st.delta))
        redo = redo & (st.done <= RESCALE_PASSES)  # no pass is planned beyond the last
        return st._replace(
            delta=jnp.where(redo, d, st.delta),
            prior=jnp.where(redo & exact, 0.0, st.prior),
            settled=st.settled | (redo & exact),
            redo=redo,
        )

    def one_pass(st: Passes) -> Passes:
        # Domains not redone re-polish their converged fits under the same threshold and
        # prior (a step or two) and keep the earlier result with its own steps.
        again = polish_all(st.result.params, st.delta, st.prior)
        take = st.redo.reshape((1, k))
        keep = lambda a, b: jnp.where(take.reshape(take.shape + (1,) * (a.ndim - 2)), a, b)  # noqa: E731
        out = jax.tree.map(keep, again, st.result)._replace(
            steps=st.result.steps + jnp.where(take, again.steps, 0)
        )
        first = st.done == 0  # the starts' own polish, kept for the diagnostics
        return plan_next(
            st._replace(
                result=out,
                done=st.done + 1,
                first_value=jnp.where(first, again.value, st.first_value),
                first_status=jnp.where(first, again.status, st.first_status),
            ),
            out,
        )

    def more(st: Passes):
        return (st.done == 0) | jnp.any(st.redo)

    shape = jax.tree.leaves(starts)[0].shape  # [S, K]
    zero, izero = jnp.zeros(shape, dtype), jnp.zeros(shape, jnp.int32)
    init = MinimizeResult(starts, zero, zero, izero, izero)
    ones = jnp.ones(k, bool)
    st = Passes(init, delta, prior, ~ones, ones, jnp.asarray(0, jnp.int32), zero, izero)
    return jax.lax.while_loop(more, one_pass, st)


@functools.partial(
    jax.jit, static_argnames=("law_name", "strategy", "polish", "max_steps", "diagnose")
)
def fit_many(
    amounts,
    losses,
    weights,
    delta,
    prior,
    *,
    law_name,
    strategy,
    polish,
    max_steps=300,
    diagnose=True,
    init=None,
):
    """:func:`joint_fit_arrays` at shared ``amounts [R, K]``, vmapped over ``losses [B, R, K]``
    and observation ``weights [B, R, K]`` (bootstrap counts times the observed mask);
    ``init`` (leaves ``[K]``, shared) is the one start of every fit when given."""

    def one(y, w):
        return joint_fit_arrays(
            amounts,
            y,
            w,
            delta,
            prior,
            law_name=law_name,
            strategy=strategy,
            polish=polish,
            max_steps=max_steps,
            diagnose=diagnose,
            init=init,
        )

    return jax.vmap(one)(losses, weights)
