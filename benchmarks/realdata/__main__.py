"""`python -m benchmarks.realdata [--data DIR] [--quick] [--out DIR] [--only SETS]`.

jaxmix's laws against peer methods on public experiment data (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETS = ("sft", "repetition", "mixinglaws", "regmix")


def _commit() -> str:
    """jaxmix's commit (``JAXMIX_COMMIT`` overrides, for runs from an exported copy)."""
    if os.environ.get("JAXMIX_COMMIT"):
        return os.environ["JAXMIX_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "jaxmix"], cwd=REPO, capture_output=True, text=True
        )
        return out.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.realdata", description=__doc__)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "realdata")
    ap.add_argument("--quick", action="store_true", help="a subset of every data set (< 2 min)")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: benchmarks/results; a temp folder with --quick)",
    )
    ap.add_argument("--only", default=",".join(SETS), help=f"comma list of {', '.join(SETS)}")
    args = ap.parse_args(argv)
    if not (args.data / "README.md").exists():
        print(f"no public data at {args.data} (pass --data)", file=sys.stderr)
        return 2
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    if unknown := set(only) - set(SETS):
        print(f"unknown data sets: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2

    import jax

    jax.config.update("jax_enable_x64", True)  # the benchmark's choice; jaxmix never flips it

    from . import methods, mixinglaws, regmix, repetition, report, sft
    from .common import lgbm_params

    out = args.out or (
        Path(tempfile.gettempdir()) / "jaxmix-realdata-quick"
        if args.quick
        else REPO / "benchmarks" / "results"
    )
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:7.1f}s] {msg}", flush=True)

    modules = {"sft": sft, "repetition": repetition, "mixinglaws": mixinglaws, "regmix": regmix}
    rows = []
    for name in only:
        rows += modules[name].run(args.data, quick=args.quick, log=log)
    result = {
        "quick": args.quick,
        "data": str(args.data),
        "jaxmix_commit": _commit(),
        "jax_version": jax.__version__,
        "laws": list(methods.available_laws()),
        "laws_missing": list(methods.missing_laws()),
        "effective_amounts": repetition.effective_source(),
        "lightgbm_params": {**lgbm_params(512), "num_boost_round": 1000},
        "wall_seconds": time.time() - t0,
        "rows": rows,
    }
    report.write(result, out)
    log(f"wrote {out / 'realdata.json'} and {out / 'realdata.md'}")
    for r in rows:
        e = r["mean_rel_error"]
        log(
            f"{r['dataset']:28.28s} {r['split'][:34]:34s} {r['method'][:34]:34s} "
            f"err {'-' if e is None else format(100 * e, '.2f') + '%':>7s} "
            f"rho {_fmt(r['spearman'])} regret {_fmt(r['regret_pct'])}"
        )
    return 0


def _fmt(x) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.2f}"


if __name__ == "__main__":
    sys.exit(main())
