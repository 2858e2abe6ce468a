"""The exact solver and the capped-weights map use safeguarded Newton iterations that stop at
a tolerance. They must give the answers of the long fixed bisections they replaced (kept
here as references), keep their derivatives, and take few steps."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import RANDOM_LAWS, assert_on_simplex
from jax.test_util import check_grads

import jaxmix
from jaxmix.optimization.exact import marginals, solve_exact
from jaxmix.optimization.simplex import _capped_sum, _tau, capped_weights


def _bisect_exact(fn, lower, upper, iters=64):
    """The former solver: 2 * iters bisections on the multiplier, each over iters bisections
    of every weight (128 x 64 sequential marginal evaluations)."""
    big = jnp.finfo(lower.dtype).max ** 0.25

    def clean(d):
        return jnp.clip(jnp.nan_to_num(d, nan=big, posinf=big, neginf=-big), -big, big)

    def weights_at(lam):
        def step(_, b):
            lo, hi = b
            mid = 0.5 * (lo + hi)
            rising = clean(marginals(fn, mid)) + lam > 0
            return jnp.where(rising, lo, mid), jnp.where(rising, mid, hi)

        lo, hi = jax.lax.fori_loop(0, iters, step, (lower, upper))
        return 0.5 * (lo + hi)

    def outer(_, b):
        lo, hi = b
        mid = 0.5 * (lo + hi)
        over = jnp.sum(weights_at(mid)) > 1.0
        return jnp.where(over, mid, lo), jnp.where(over, hi, mid)

    lam_hi = jnp.max(-clean(marginals(fn, lower)))
    lam_lo = jnp.min(-clean(marginals(fn, upper)))
    lo, hi = jax.lax.fori_loop(0, 2 * iters, outer, (lam_lo, lam_hi))
    w_many, w_few = weights_at(lo), weights_at(hi)
    s_many, s_few = jnp.sum(w_many), jnp.sum(w_few)
    t = jnp.where(s_many > s_few, (1.0 - s_few) / (s_many - s_few), 0.5)
    return jnp.clip(w_few + jnp.clip(t, 0.0, 1.0) * (w_many - w_few), lower, upper)


def _bisect_tau(z, lower, upper, iters=80):
    """The former capped map's shift: 80 bisections."""
    width = 40.0 if z.dtype == jnp.float32 else 60.0
    lo, hi = -jnp.max(z) - width, -jnp.min(z) + width

    def step(_, b):
        lo, hi = b
        mid = 0.5 * (lo + hi)
        below = _capped_sum(z, mid, lower, upper) < 0
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iters, step, (lo, hi))
    return 0.5 * (lo + hi)


def _instances(n, k=4):
    """Separable laws (transfer, broken) with random budgets, bounds and importances."""
    rng = np.random.default_rng(42)
    domains = tuple(f"d{i}" for i in range(k))
    for j in range(n):
        name = ("transfer", "broken")[j % 2]
        fit = jaxmix.from_params(RANDOM_LAWS[name](rng, domains), law=name)
        lower, upper = np.zeros(k), np.ones(k)
        if j % 3 == 1:
            upper[rng.integers(k)] = rng.uniform(0.05, 0.3)
            lower[rng.integers(k)] = rng.uniform(0.0, 0.2)
        if j % 3 == 2:
            upper = np.full(k, rng.uniform(1.0 / k + 0.01, 0.6))
        imp = rng.uniform(0.2, 3.0, k)
        if j % 5 == 4:
            imp[rng.integers(k)] = 0.0  # a flat term: its weight is set by the bracket ends
        yield name, fit.params, float(np.exp(rng.uniform(0, 8))), imp, lower, upper


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_exact_newton_gives_the_bisection_answers(dtype):
    dt = jnp.dtype(dtype)
    tol = 1e-12 if dtype == "float64" else 2e-5

    @jax.jit
    def both(params, budget, imp, lower, upper):
        terms = _separable_terms(params, budget, imp)
        return solve_exact(terms, lower, upper)[0], _bisect_exact(terms, lower, upper)

    with jax.enable_x64(dtype == "float64"):
        for name, params, budget, imp, lower, upper in _instances(16):
            args = jax.tree.map(lambda x: jnp.asarray(x, dt), (params, budget, imp, lower, upper))
            new, old = both(*args)
            assert new.dtype == dt
            assert_on_simplex(new, lower, upper, atol=10 * float(jnp.finfo(dt).eps))
            np.testing.assert_allclose(new, old, rtol=0, atol=tol, err_msg=name)


def _separable_terms(params, budget, imp):
    law = jaxmix.get_law("transfer" if len(params) == 5 else "broken")
    return lambda w: imp * law.predict_weights(params, w, budget)


def test_exact_newton_takes_few_steps():
    """The smallest step cap that already gives the converged answer: a handful of Newton
    steps per search, where the bisections took 128 x 64 = 8192 sequential evaluations."""
    solve = jax.jit(
        lambda p, n, i, lo, hi, cap: solve_exact(_separable_terms(p, n, i), lo, hi, cap)[0]
    )
    caps = []
    for _, params, budget, imp, lower, upper in _instances(8):
        args = (params, budget, imp, jnp.asarray(lower), jnp.asarray(upper))
        full = solve(*args, 200)
        caps.append(next(c for c in range(1, 101) if np.allclose(solve(*args, c), full, 0, 1e-12)))
    assert max(caps) <= 16, caps


def test_capped_map_gives_the_bisection_shift_and_sums_to_one():
    rng = np.random.default_rng(1)
    k = 6

    @jax.jit
    def both(z, lo, hi):
        old = _bisect_tau(z, lo, hi)
        w_old = lo + (hi - lo) * jax.nn.sigmoid(z + old)
        return _tau(z, lo, hi, 100), old, capped_weights(z, lo, hi), w_old

    for dtype, tol in (("float64", 1e-12), ("float32", 1e-5)):
        dt = jnp.dtype(dtype)
        with jax.enable_x64(dtype == "float64"):
            for j in range(40):
                z = jnp.asarray(rng.normal(0, (0.1, 3.0, 15.0)[j % 3], k), dt)
                lower, upper = np.zeros(k), np.ones(k)
                upper[: k // 2] = rng.uniform(1.0 / k, 0.6, k // 2)
                if j % 4 == 0:
                    lower[-1] = upper[-1] = rng.uniform(0, 1.0 / k)  # a fixed domain
                if j % 5 == 0:
                    lower[0] = rng.uniform(0, 0.5 / k)
                new, old, w_new, w_old = both(z, jnp.asarray(lower, dt), jnp.asarray(upper, dt))
                np.testing.assert_allclose(w_new, w_old, rtol=0, atol=tol)
                assert_on_simplex(w_new, lower, upper, atol=10 * float(jnp.finfo(dt).eps))
                if j % 4 != 0 and dtype == "float64":  # float32 saturates the sigmoids
                    assert float(new) == pytest.approx(float(old), abs=1e-9)


def test_capped_map_steps_are_few():
    """The number of Newton iterations for the shift, counted from the loop state."""
    rng = np.random.default_rng(2)
    residual = jax.jit(lambda z, lo, hi, cap: _capped_sum(z, _tau(z, lo, hi, cap), lo, hi))
    steps = []
    for _ in range(30):
        z = jnp.asarray(rng.normal(0, 3.0, 6))
        lower, upper = jnp.zeros(6), jnp.asarray(rng.uniform(0.2, 1.0, 6)).at[0].set(1.0)
        steps.append(
            next(c for c in range(1, 101) if abs(float(residual(z, lower, upper, c))) < 1e-14)
        )
    assert max(steps) <= 12, steps


def test_gradients_through_the_capped_map():
    lower = jnp.array([0.0, 0.05, 0.0, 0.1])
    upper = jnp.array([0.3, 1.0, 0.5, 0.1 + 0.4])
    target = jnp.array([0.5, 0.1, 0.3, 0.1])

    def f(z):
        return jnp.sum((capped_weights(z, lower, upper) - target) ** 2 * jnp.arange(1.0, 5.0))

    w = jax.jit(lambda z: capped_weights(z, lower, upper))
    check_grads(jax.jit(f), (jnp.array([0.3, -1.0, 2.0, 0.1]),), order=2, modes=["fwd", "rev"])
    check_grads(w, (jnp.array([5.0, -4.0, 0.0, 1.0]),), order=1)  # near a cap


def test_exact_float32_multiplier_tolerance_follows_the_marginals():
    """A weight capped at 1 has a marginal next to it far larger than the answer's: the
    multiplier's stopping tolerance must not scale with it (float32 was 1e-4 off)."""
    law = {
        "a": dict(C=1.0, k=0.25, alpha=0.25, beta=0.6875, E=1.0),
        "b": dict(C=1.125, k=1.0, alpha=0.5, beta=0.484375, E=1.0),
        "c": dict(C=0.3125, k=0.65625, alpha=0.9296875, beta=0.125, E=1.0),
    }
    out = {}
    for x64 in (True, False):
        with jax.enable_x64(x64):
            dt = jnp.float64 if x64 else jnp.float32
            cast = functools.partial(jnp.asarray, dtype=dt)
            params = jax.tree.map(cast, jaxmix.from_params(law).params)
            terms = _separable_terms(params, jnp.asarray(2695.0, dt), jnp.ones(3, dt))
            lo, hi = jnp.asarray([0, 0.2, 0], dt), jnp.asarray([1, 1, 0.1], dt)
            out[x64] = np.asarray(solve_exact(terms, lo, hi)[0], dtype=float)
    np.testing.assert_allclose(out[False], out[True], rtol=0, atol=1e-6)
