"""Convergence of the joint fit on noisy pilots, every law family. Prints a Markdown table.

Run: python benchmarks/convergence.py [--tables 20] [--k 3 8] [--laws transfer ...]

For each law family, K and noise level: ``--tables`` synthetic 1+4K pilot tables (base
amount 1 per domain) with losses from a random law of that family times ``1 + noise * z``,
z standard normal. Every table is fitted twice in one batched call each, at the default
step cap and at 10x it; both fits are optimized at a budget 10x the base run's total.
Reported per cell: share of domain fits (the chosen restart) ending with SUCCESS, median
and largest Newton steps, share of domains with a coordinate at bound (held by the prior),
and the largest change of any recommended weight when the cap grows 10x. Targets: SUCCESS
>= 99%, median steps <= 30, weight change <= 0.005. The first (law, K) call compiles; its
time (compile and one run at each cap) is reported apart from the warm runs.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxmix  # noqa: E402
from jaxmix.fitting.joint import AT_BOUND_Z, fit_many  # noqa: E402
from jaxmix.study.sweeps import solve_many  # noqa: E402

LAWS = ("transfer", "pairwise", "interference", "mixing_law", "broken")
NOISES = (0.005, 0.01, 0.03)
CAP = 300


def truth(law: str, k: int, rng) -> dict:
    """Natural parameters of a random law of the family (amounts of order 1)."""
    doms = [f"d{i}" for i in range(k)]
    out = {}
    for d in doms:
        src = [s for s in doms if s != d]
        base = dict(
            C=rng.uniform(0.3, 3),
            k=rng.uniform(0.01, 1),
            alpha=rng.uniform(0.05, 0.95),
            beta=rng.uniform(0.05, 0.8),
            E=rng.uniform(0.5, 2),
        )
        if law == "transfer":
            out[d] = base
        elif law == "pairwise":
            row = {n: base[n] for n in ("C", "beta", "E")}
            row.update({f"k:{s}": rng.uniform(0.05, 0.8) for s in src})
            row.update({f"alpha:{s}": rng.uniform(0.2, 0.8) for s in src})
            out[d] = row
        elif law == "interference":
            out[d] = dict(base, **{f"g:{s}": rng.uniform(-0.3, 0.3) for s in src})
        elif law == "mixing_law":
            out[d] = dict(
                c=rng.uniform(0.5, 2),
                k=rng.uniform(0.2, 1),
                **{f"t:{s}": rng.uniform(-2, 1) for s in src},
            )
        else:  # broken
            out[d] = dict(base, gamma=rng.uniform(0.1, 0.5), B=rng.uniform(1.0, 5.0))
    return out


def tables(law: str, k: int, noise: float, n: int, seed: int):
    """Amounts ``[R, K]`` and ``n`` noisy loss tables ``[n, R, K]``, each from its own law."""
    rng = np.random.default_rng(seed)
    amounts = jaxmix.plan([f"d{i}" for i in range(k)], 1.0).amounts
    ys = []
    for _ in range(n):
        y = np.asarray(jaxmix.predict(jaxmix.from_params(truth(law, k, rng), law=law), amounts))
        ys.append(y * (1 + noise * rng.standard_normal(y.shape)))
    return amounts, np.stack(ys)


@functools.cache
def _solver(law):
    return functools.partial(solve_many, law_name=law, capped=False, restarts=4)


def fit_and_solve(law, amounts, losses, cap):
    n, _, k = losses.shape
    out = fit_many(
        jnp.asarray(amounts),
        jnp.asarray(losses),
        jnp.ones(losses.shape),
        jnp.asarray(0.0),
        jnp.asarray(1.0),
        law_name=law,
        strategy="screen",
        polish=4,
        max_steps=cap,
        diagnose=False,
    )
    keys = jax.random.split(jax.random.PRNGKey(0), n)
    budget = jnp.full(n, 10.0 * k)
    ones, zeros = jnp.ones((n, k)), jnp.zeros((n, k))
    sol = _solver(law)(out.params, budget, ones, zeros, ones, keys)
    return jax.device_get((out.status, out.steps, out.prior_z, sol.weights))


def row(*cells):
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--k", type=int, nargs="+", default=[3, 8])
    parser.add_argument("--laws", nargs="+", default=list(LAWS))
    args = parser.parse_args()
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, {os.cpu_count()} CPUs, float64")
    print(f"{args.tables} tables per cell, step cap {CAP} and {10 * CAP}\n")
    row(
        "law", "K", "noise", "SUCCESS", "median steps", "max steps", "at bound",
        "max weight change (cap x10)", "first calls s (compile incl.)", "warm s (both caps)",
    )
    row(*["---"] * 10)
    for law in args.laws:
        for k in args.k:
            compile_s = None
            for j, noise in enumerate(NOISES):
                amounts, losses = tables(law, k, noise, args.tables, seed=100 * k + j)
                if compile_s is None:  # warm-up: compile both caps on this shape
                    t = time.perf_counter()
                    fit_and_solve(law, amounts, losses, CAP)
                    fit_and_solve(law, amounts, losses, 10 * CAP)
                    compile_s = time.perf_counter() - t
                t = time.perf_counter()
                status, steps, z, w = fit_and_solve(law, amounts, losses, CAP)
                _, _, _, w10 = fit_and_solve(law, amounts, losses, 10 * CAP)
                run_s = time.perf_counter() - t
                bound = np.any(np.abs(z) >= AT_BOUND_Z, axis=-1)
                row(
                    law, k, f"{100 * noise:g}%",
                    f"{100 * np.mean(status == 0):.1f}%",
                    f"{np.median(steps):.0f}", int(np.max(steps)),
                    f"{100 * np.mean(bound):.0f}%",
                    f"{np.max(np.abs(w - w10)):.1e}",
                    f"{compile_s:.1f}" if j == 0 else "",
                    f"{run_s:.1f}",
                )


if __name__ == "__main__":
    main()
