"""False-alarm rate of the warnings the terminal ranks first. Prints a Markdown table.

Run: python benchmarks/warning_rates.py [--tables 20] [--k 3 4] [--noise 0.001 0.003 0.01]

Each table is a 1+4K pilot design (base amount 1 per domain) with losses drawn from a random
known transfer law (``benchmarks.convergence.truth``) times ``1 + noise * z``: the law is
exactly right, so every warning that says the law may not carry to the budget is a false
alarm. ``jaxmix run`` is reproduced in Python (the default fit with its extrapolation
check, then ``optimize`` at 10x the base total) and each top-ranked ("may change the
decision") warning is counted once per table. Target: at most 5% of tables per warning.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxmix  # noqa: E402
from benchmarks.calibration import table_from  # noqa: E402
from benchmarks.convergence import row, truth  # noqa: E402
from jaxmix.report.warnings import ACT, _severity  # noqa: E402

KINDS = {  # the top-ranked warnings about the law and the pilots, by a phrase of each
    "falls faster than the fitted law": "steepening",
    "misses them by": "hold-out miss",
    "rests on the largest pilots": "rests on largest pilots",
    "x the column's median": "outlier loss",
    "look like perplexities": "perplexity-like column",
    "in another unit": "budget unit",
}


def fired(warnings) -> set:
    """The kinds of top-ranked warnings among ``warnings`` (others: their first words)."""
    out = set()
    for w in warnings:
        if _severity(w) != ACT and "x the column's median" not in w:
            continue
        out.add(next((v for k, v in KINDS.items() if k in w), w[:40]))
    return out


def one_table(k: int, noise: float, rng) -> set:
    law = truth("transfer", k, rng)
    table = table_from(law, noise, rng)
    fit = jaxmix.fit(table, check_extrapolation=True)
    mix = jaxmix.optimize(fit, 10.0 * k)
    return fired(list(fit.warnings) + list(mix.warnings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--k", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.001, 0.003, 0.01])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"jax {jax.__version__}, {jax.default_backend()}, {os.cpu_count()} CPUs, float64")
    print(f"{args.tables} tables per row; share of tables where each warning fires\n")
    names = list(dict.fromkeys(KINDS.values()))
    row("K", "noise", *names, "other", "s")
    row(*["---"] * (len(names) + 4))
    for k in args.k:
        for noise in args.noise:
            rng = np.random.default_rng([args.seed, k, int(noise * 1e6)])
            counts, other, t0 = Counter(), Counter(), time.perf_counter()
            for _ in range(args.tables):
                for kind in one_table(k, noise, rng):
                    (counts if kind in names else other)[kind] += 1
            share = lambda c: f"{100 * c / args.tables:.0f}%"  # noqa: E731
            extra = ", ".join(f"{w!r} {share(c)}" for w, c in other.items()) or "-"
            row(
                k,
                noise,
                *[share(counts[n]) for n in names],
                extra,
                f"{time.perf_counter() - t0:.0f}",
            )


if __name__ == "__main__":
    main()
