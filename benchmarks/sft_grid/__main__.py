"""`python -m benchmarks.sft_grid [--smoke] [--out DIR] [--example PATH]`."""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .config import FULL, SMOKE
from .pipeline import run_benchmark

REPO = Path(__file__).resolve().parents[2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sft_grid", description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="tiny model, few steps, small grid")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder; also keeps the jaxmix files there (default: benchmarks/results "
        "for the JSON and Markdown only)",
    )
    ap.add_argument(
        "--example",
        type=Path,
        default=None,
        help="also copy the pilot table here (e.g. jaxmix/examples/sft_pilots.csv)",
    )
    args = ap.parse_args(argv)
    cfg = SMOKE if args.smoke else FULL
    out = args.out or REPO / "benchmarks" / "results"
    if args.smoke and not args.out:
        out = Path(tempfile.gettempdir()) / "jaxmix-sft-grid-smoke"
        print(f"smoke results go to {out}")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:7.1f}s] {msg}", flush=True)

    work = out / "sft_grid_work"
    work.mkdir(parents=True, exist_ok=True)
    res = run_benchmark(cfg, out, work, log=log)
    # The pilot tables go next to the results; the shipped example
    # (jaxmix/examples/sft_pilots.csv) changes only with --example.
    for name in ("sft_pilots.csv", "sft_swarm.csv"):
        shutil.copyfile(work / name, out / name)
    if args.example:
        shutil.copyfile(work / "sft_pilots.csv", args.example)
    keys = [k for k in res if k.endswith(("_pct", "_met", "_action"))] + ["wall_time_s"]
    for k in keys:
        log(f"{k}: {res[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
