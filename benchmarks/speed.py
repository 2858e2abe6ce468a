"""Speed tables of jaxmix (issue targets in brackets). Run: python benchmarks/speed.py

Every timing warms up first; compile time (first call: trace + compile) is reported apart
from run time (median of repeated calls). Cold CLI runs are separate processes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import jaxmix  # noqa: E402
from jaxmix.fitting.joint import joint_fit_arrays  # noqa: E402


def synthetic(k: int, seed: int = 0, noise: float = 2e-3) -> jaxmix.PilotTable:
    """1+4K pilot table with per-domain losses from a random transfer law."""
    rng = np.random.default_rng(seed)
    true = {
        f"d{i}": dict(
            C=rng.uniform(0.5, 2),
            k=rng.uniform(0.02, 0.5),
            alpha=rng.uniform(0.2, 0.8),
            beta=rng.uniform(0.05, 0.5),
            E=rng.uniform(0.8, 1.6),
        )
        for i in range(k)
    }
    table = jaxmix.plan(list(true), 1.0)
    y = np.array(jaxmix.predict(jaxmix.from_params(true), table.amounts))
    y *= 1 + noise * rng.standard_normal(y.shape)
    return table._replace(losses={d: y[:, i] for i, d in enumerate(true)})


def timed(fn, repeats: int = 5):
    """(first-call seconds, median seconds of ``repeats`` further calls)."""
    t = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        runs.append(time.perf_counter() - t)
    return first, statistics.median(runs)


def row(*cells):
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def cold_cli(budget: float = 0) -> None:
    print("\n### Cold `jaxmix run` on the shipped example (new process, wall) [<= 5 s]\n")
    row("compilation cache", "wall s")
    row("---", "---")
    cache = tempfile.mkdtemp(prefix="jaxmix-bench-cache-")
    env = dict(os.environ, JAXMIX_CACHE_DIR=cache)
    env.pop("JAXMIX_NO_CACHE", None)
    cmd = [sys.executable, "-m", "jaxmix", "-q", "run"]
    for label in ("empty (first run after install)", "warm (every later run)"):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, env=env)
        row(label, f"{time.perf_counter() - t:.2f}")
    shutil.rmtree(cache, ignore_errors=True)


def fit_optimize(k: int, repeats: int, check: bool = False) -> tuple[float, float]:
    table = synthetic(k)
    budget = 50.0 * k

    def once():
        return jaxmix.optimize(jaxmix.fit(table, check_extrapolation=check), budget).weights

    return timed(once, repeats)


def strategies(k: int) -> None:
    table = synthetic(k, seed=1)
    y = table.domain_losses()
    a, m = jax.numpy.asarray(table.amounts), jax.numpy.ones(y.shape, bool)
    for strategy in ("screen", "vmap", "map"):
        first, run = timed(lambda s=strategy: joint_fit_arrays(a, y, m, strategy=s).objective, 3)
        obj = np.asarray(joint_fit_arrays(a, y, m, strategy=strategy).objective).sum()
        row(k, strategy, f"{first:.2f}", f"{1e3 * run:.1f}", f"{obj:.4e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip K = 32")
    args = parser.parse_args()
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, {os.cpu_count()} CPUs, float64")
    cold_cli()
    print("\n### In-process fit + optimize (per-domain pilots, 1+4K runs, joint fit)\n")
    row("K", "pilot runs", "first call s (compile)", "warm run ms", "target")
    row("---", "---", "---", "---", "---")
    first, run = fit_optimize(3, 20)
    row(3, 13, f"{first:.2f}", f"{1e3 * run:.1f}", "warm <= 50 ms")
    first, run = fit_optimize(3, 20, check=True)
    row("3, + extrapolation check (CLI default)", 13, f"{first:.2f}", f"{1e3 * run:.1f}", "-")
    if not args.quick:
        first, run = fit_optimize(32, 2)
        row(32, 129, f"{first:.2f}", f"{1e3 * run:.1f}", "fit + optimize <= 30 s (incl. compile)")
    print("\n### Joint-fit multi-start strategies (same starting grid)\n")
    row("K", "strategy", "first call s", "warm run ms", "summed objective")
    row("---", "---", "---", "---", "---")
    for k in (3, 8):
        strategies(k)


if __name__ == "__main__":
    main()
