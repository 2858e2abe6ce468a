"""Calibration of the bootstrap's weight intervals. Prints a Markdown table.

Run: python benchmarks/calibration.py [--tables 30] [--resamples 200] [--k 3] [--noise ...]

For each noise level: ``--tables`` synthetic 1+4K pilot tables (transfer law, base amount 1
per domain, losses times ``1 + noise * z``), each from its own random law. ``jaxmix
bootstrap`` (``--resamples`` resamples of the pilot runs, each refitted and re-optimized) at
a budget 10x the pilots' base total gives a 90% interval per weight; the true optimum is
the optimum of the law the table was drawn from. Reported: the share of (table, domain)
weights whose interval holds the true weight (target 80-97%), the share of tables where
every weight's interval holds it, the median interval width, and the mean distance of the
point recommendation from the true optimum (largest weight error).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxmix  # noqa: E402
from benchmarks.convergence import row, truth  # noqa: E402

LEVEL = 0.9


def table_from(law: dict, noise: float, rng) -> jaxmix.PilotTable:
    """A 1+4K pilot table (base amount 1 per domain) with noisy losses from ``law``."""
    domains = tuple(law)
    amounts = jaxmix.plan(list(domains), 1.0).amounts
    y = np.asarray(jaxmix.predict(jaxmix.from_params(law), amounts))
    y = y * (1 + noise * rng.standard_normal(y.shape))
    return jaxmix.PilotTable(
        domains=domains,
        runs=tuple(f"r{i}" for i in range(len(amounts))),
        amounts=amounts,
        losses={d: y[:, i] for i, d in enumerate(domains)},
    )


def one_table(k: int, noise: float, resamples: int, rng):
    """``(covered [K] bool, width [K], point error [])`` for one random table."""
    law = truth("transfer", k, rng)
    budget = 10.0 * k
    best = np.asarray(jaxmix.optimize(jaxmix.from_params(law), budget).weights)
    table = table_from(law, noise, rng)
    study, mixture, _ = jaxmix.bootstrap(
        table, budget, n=resamples, seed=int(rng.integers(1 << 30)), level=LEVEL
    )
    lo = np.array([study["weights_interval"][d][0] for d in table.domains])
    hi = np.array([study["weights_interval"][d][1] for d in table.domains])
    covered = (lo <= best) & (best <= hi)
    return covered, hi - lo, float(np.abs(np.asarray(mixture.weights) - best).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int, default=30)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--k", type=int, nargs="+", default=[3])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.005, 0.01])
    args = parser.parse_args()
    print(f"jax {jax.__version__}, {jax.default_backend()}, {os.cpu_count()} CPUs, float64")
    print(f"{args.tables} tables per row, {args.resamples} resamples, {LEVEL:.0%} intervals\n")
    row(
        "K",
        "noise",
        "weights covered",
        "tables fully covered",
        "median width",
        "mean largest weight error",
        "s",
    )
    row(*["---"] * 7)
    for k in args.k:
        for noise in args.noise:
            rng = np.random.default_rng(1000 * k + int(noise * 1e4))
            start = time.perf_counter()
            res = [one_table(k, noise, args.resamples, rng) for _ in range(args.tables)]
            covered = np.stack([r[0] for r in res])
            width = np.concatenate([r[1] for r in res])
            row(
                k,
                f"{noise:.1%}",
                f"{covered.mean():.1%}",
                f"{covered.all(axis=1).mean():.1%}",
                f"{np.median(width):.3f}",
                f"{np.mean([r[2] for r in res]):.3f}",
                f"{time.perf_counter() - start:.0f}",
            )


if __name__ == "__main__":
    main()
