"""Bootstrap throughput: jaxmix's batched refit + re-optimize against the authors' reference
procedure written with scipy (trust-constr fits, SLSQP weights). Prints Markdown tables.

Run: python benchmarks/bootstrap_throughput.py [--scipy 20] [--jax 1000] [--skip-k64]

Each resample redraws every pilot loss around the fitted law with 0.2% multiplicative noise
(a parametric bootstrap, so every resample keeps the 1+4K design that the reference
procedure needs), refits every domain and re-optimizes the mixture.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxmix  # noqa: E402
from benchmarks import scipy_reference  # noqa: E402
from jaxmix.fitting.joint import fit_many, joint_fit_arrays  # noqa: E402
from jaxmix.study.batch import map_batched  # noqa: E402
from jaxmix.study.sweeps import solve_many  # noqa: E402

NOISE = 2e-3


def law(k: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        f"d{i}": dict(
            C=rng.uniform(0.5, 2),
            k=rng.uniform(0.02, 0.5),
            alpha=rng.uniform(0.2, 0.8),
            beta=rng.uniform(0.05, 0.5),
            E=rng.uniform(0.8, 1.6),
        )
        for i in range(k)
    }


def resamples(k: int, n: int, seed: int = 1):
    """Amounts ``[R, K]`` of the 1+4K design and ``n`` resampled loss tables ``[n, R, K]``."""
    table = jaxmix.plan(list(law(k)), 1.0)
    y = np.asarray(jaxmix.predict(jaxmix.from_params(law(k)), table.amounts))
    rng = np.random.default_rng(seed)
    return table.amounts, y[None] * (1 + NOISE * rng.standard_normal((n,) + y.shape))


def full_data_fit(amounts, losses):
    """The fit to the first table: every refit starts from its parameters and keeps its
    Huber threshold, as ``jaxmix.bootstrap`` does; not timed (the user has that fit)."""
    ones = jnp.ones(losses.shape[1:])
    out = joint_fit_arrays(jnp.asarray(amounts), jnp.asarray(losses[0]), ones)
    return out.params, out.delta


def jax_study(amounts, losses, budget, chunk, full):
    """Batched joint refit + re-optimize of every resample; returns weights ``[n, K]``."""
    n, r, k = losses.shape
    fit_fn = functools.partial(
        fit_many,
        jnp.asarray(amounts),
        delta=full[1],
        init=full[0],
        prior=jnp.asarray(1.0),
        law_name="transfer",
        strategy="screen",
        polish=4,
        diagnose=False,
    )
    params = map_batched(lambda b: fit_fn(*b).params, (losses, np.ones_like(losses)), chunk=chunk)
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(0), n))
    solve_fn = functools.partial(solve_many, law_name="transfer", capped=False, restarts=4)
    batch = (params, np.full(n, budget), np.ones((n, k)), np.zeros((n, k)), np.ones((n, k)), keys)
    sol = map_batched(lambda b: solve_fn(*b), batch, chunk=chunk)
    return sol.exact_weights


def scipy_study(amounts, losses, budget):
    """The reference procedure on each resample, one after another."""
    k = amounts.shape[1]
    out = []
    for y in losses:
        levels, ys, n_other = [], [], []
        for i in range(k):
            others = [j for j in range(k) if j != i]
            rows = np.where(np.all(amounts[:, others] == 1.0, axis=1))[0]
            rows = rows[np.argsort(amounts[rows, i])]
            levels.append(amounts[rows, i])
            ys.append(y[rows, i])
            n_other.append(float(k - 1))
        params = scipy_reference.fit(np.array(levels), np.array(ys), np.array(n_other))
        out.append(scipy_reference.weights(params, budget))
    return np.array(out)


def row(*cells):
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scipy", type=int, default=20, help="resamples for scipy")
    parser.add_argument("--jax", type=int, default=1000, help="resamples for jaxmix")
    parser.add_argument("--skip-k64", action="store_true")
    parser.add_argument("--max-batch", type=int, default=10000)
    args = parser.parse_args()
    print(
        f"jax {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} device(s), "
        f"{os.cpu_count()} CPUs, float64\n"
    )

    amounts, losses = resamples(3, max(args.jax, args.scipy))
    budget = 150.0
    print("### Bootstrap refit + re-optimize, K = 3, 13 pilot runs, 0.2% noise\n")
    row(
        "implementation",
        "resamples",
        "wall s (all, compile included)",
        "compile s",
        "ms / resample",
        "resamples / s",
    )
    row("---", "---", "---", "---", "---", "---")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        scipy_study(amounts, losses[: args.scipy], budget)
        t_scipy = time.perf_counter() - t
    per_scipy = t_scipy / args.scipy
    row(
        "reference procedure, scipy (trust-constr + SLSQP)",
        args.scipy,
        f"{t_scipy:.1f}",
        "-",
        f"{1e3 * per_scipy:.1f}",
        f"{1 / per_scipy:.3f}",
    )
    full = full_data_fit(amounts, losses)
    t = time.perf_counter()
    jax_study(amounts, losses[:1], budget, None, full)  # compile (batch of one chunk shape below)
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    jax_study(amounts, losses[: args.jax], budget, args.jax, full)
    t_jax_run = time.perf_counter() - t
    # Compile of the full-chunk shape happened inside the timed call; time it again warm.
    t = time.perf_counter()
    jax_study(amounts, losses[: args.jax], budget, args.jax, full)
    t_warm = time.perf_counter() - t
    compile_s = t_jax_run - t_warm
    per_jax = t_jax_run / args.jax
    row(
        "jaxmix joint fit + solver, one batched call",
        args.jax,
        f"{t_jax_run:.1f}",
        f"{compile_s:.1f}",
        f"{1e3 * per_jax:.2f}",
        f"{1 / per_jax:.1f}",
    )
    row(
        "jaxmix, warm (compiled)",
        args.jax,
        f"{t_warm:.1f}",
        "0",
        f"{1e3 * t_warm / args.jax:.2f}",
        f"{args.jax / t_warm:.1f}",
    )
    print(
        f"\nthroughput ratio jaxmix / scipy reference: {per_scipy / per_jax:.0f}x compile "
        f"included, {per_scipy / (t_warm / args.jax):.0f}x warm (first call of a batch of one: "
        f"{t_first:.1f} s)\n"
    )

    print("### Throughput as the batch grows (solver only, K = 3, warm)\n")
    row("batch", "wall ms", "problems / s")
    row("---", "---", "---")
    fit = jaxmix.from_params(law(3))
    from jaxmix.study.sweeps import sweep_budgets

    for b in [1, 10, 100, 1000, args.max_batch]:
        budgets = np.geomspace(1, 1e4, b)
        sweep_budgets(fit, budgets, restarts=4)
        t = time.perf_counter()
        sweep_budgets(fit, budgets, restarts=4)
        dt = time.perf_counter() - t
        row(b, f"{1e3 * dt:.1f}", f"{b / dt:.0f}")

    if not args.skip_k64:
        print("\n### K = 64 (257 pilot runs), bootstrap 200\n")
        row("stage", "wall s", "peak RSS MiB")
        row("---", "---", "---")
        amounts64, losses64 = resamples(64, 200)
        full64 = full_data_fit(amounts64, losses64)
        t = time.perf_counter()
        jax_study(amounts64, losses64, 64 * 50.0, 50, full64)
        dt = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row("refit + re-optimize, compile included", f"{dt:.1f}", f"{rss:.0f}")


if __name__ == "__main__":
    main()
