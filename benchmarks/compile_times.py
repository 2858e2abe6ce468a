"""Cold and warm starts: what a user waits for before jaxmix answers, and where it goes.

Run: python benchmarks/compile_times.py [--repeats 3]

1. The CLI as users run it, each call a new process: ``jaxmix run`` and ``jaxmix run
   --bootstrap 100`` on the shipped example, with an empty cache folder (cold: the first
   run after an install) and then with the caches it wrote (warm). Median, min and max of
   ``--repeats`` runs, each cold run in a fresh folder.
2. Every library entry point in a new process (``import jaxmix``: the persistent caches are
   on by default), cold and then warm: traces, lowerings and XLA compiles (count and
   seconds, from :func:`jaxmix.compiles.count_compiles`), the first call's wall time and a
   second call's (same shapes, other numbers: the run time alone).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ENTRY_POINTS = ("fit", "optimize", "bootstrap 100", "sweep_budgets", "validate", "propose")


def row(*cells) -> None:
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def _env(cache: str) -> dict:
    env = dict(os.environ, JAXMIX_CACHE_DIR=cache)
    for key in ("JAXMIX_NO_CACHE", "JAX_COMPILATION_CACHE_DIR"):
        env.pop(key, None)
    return env


def cli_table(repeats: int) -> None:
    print("\n### `jaxmix` CLI, new process each call, shipped example (wall s)\n")
    row("command", "cold median (min-max)", "warm median (min-max)", "target cold / warm")
    row("---", "---", "---", "---")
    targets = {"run": "<= 10 / <= 2", "run --bootstrap 100 --seed 0": "<= 30 / <= 5"}
    for command, target in targets.items():
        cmd = [sys.executable, "-m", "jaxmix", "-q", *command.split(), "-o", os.devnull]
        cold, warm = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="jaxmix-bench-") as cache:
                for out in (cold, warm, warm):
                    t = time.perf_counter()
                    subprocess.run(cmd, check=True, env=_env(cache), stdout=subprocess.DEVNULL)
                    out.append(time.perf_counter() - t)
        row(f"`jaxmix {command}`", _spread(cold), _spread(warm), target)


def _spread(xs) -> str:
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})"


def child() -> None:
    """Run every entry point twice in this process; print one JSON line per entry point."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jaxmix
    from jaxmix.compiles import count_compiles
    from jaxmix.study.intervals import recommendation_intervals

    table = jaxmix.read_pilots(jaxmix.example_pilots())
    nudged = table._replace(losses={c: v * 1.01 for c, v in table.losses.items()})
    state = {}

    def fit(t):
        state["fit"] = jaxmix.fit(t, check_extrapolation=True)

    def optimize(t):
        state["mix"] = jaxmix.optimize(state["fit"], 20.0 if t is table else 25.0)

    calls = {
        "fit": fit,
        "optimize": optimize,
        "bootstrap 100": lambda t: recommendation_intervals(
            table, state["fit"], state["mix"], 100, seed=0 if t is table else 1
        ),
        "sweep_budgets": lambda t: jaxmix.sweep_budgets(
            state["fit"], [10.0, 20.0, 40.0 if t is table else 50.0]
        ),
        "validate": lambda t: jaxmix.validate(t, laws=("transfer",)),
        "propose": lambda t: jaxmix.propose(t, 20.0, seed=0 if t is table else 1),
    }
    for name in ENTRY_POINTS:
        t0 = time.perf_counter()
        with count_compiles() as log:
            calls[name](table)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        with count_compiles() as again:
            calls[name](nudged)
        second = time.perf_counter() - t0
        print(json.dumps({"name": name, "first": first, "second": second,
                          "log": vars(log), "again": vars(again)}), flush=True)


def library_table() -> None:
    print("\n### Library entry points, new process, shipped example (s; n = count)\n")
    row("entry point", "process", "traces n / s", "lowerings n / s", "XLA compiles n / s",
        "cache hits", "first call s", "second call s (run only)", "second call compiles")
    row(*["---"] * 9)
    with tempfile.TemporaryDirectory(prefix="jaxmix-bench-") as cache:
        for label in ("cold", "warm"):
            out = subprocess.run([sys.executable, __file__, "--child"], check=True,
                                 env=_env(cache), capture_output=True, text=True).stdout
            for line in out.splitlines():
                r = json.loads(line)
                g, a = r["log"], r["again"]
                row(r["name"], label, f"{g['traces']} / {g['trace_s']:.2f}",
                    f"{g['lowerings']} / {g['lower_s']:.2f}",
                    f"{g['compiles']} / {g['compile_s']:.2f}", g["cache_hits"],
                    f"{r['first']:.2f}", f"{r['second']:.3f}", a["traces"] + a["compiles"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    import jax

    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, {os.cpu_count()} CPUs, float64")
    cli_table(args.repeats)
    library_table()


if __name__ == "__main__":
    main()
