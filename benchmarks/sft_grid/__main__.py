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
        help="also copy the pilot table here (full run default: jaxmix/examples/sft_pilots.csv)",
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

    with tempfile.TemporaryDirectory(prefix="sft_grid_") as tmp:
        work = args.out / "sft_grid_work" if args.out else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        res = run_benchmark(cfg, out, work, log=log)
        default = (
            None if args.smoke or args.out else REPO / "jaxmix" / "examples" / "sft_pilots.csv"
        )
        for dest in filter(
            None, (args.example or default, args.out and args.out / "sft_pilots.csv")
        ):
            shutil.copyfile(work / "sft_pilots.csv", dest)
    keys = [k for k in res if k.endswith("_pct")] + ["target_met", "wall_time_s"]
    for k in keys:
        log(f"{k}: {res[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
