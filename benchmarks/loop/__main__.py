"""`python -m benchmarks.loop [--quick] [--trials T] [--only GROUPS] [--protocols P,..]`.

Regret after R runs: each trial draws ``n_init`` random pool members as the first runs (the
same for every protocol); each protocol then asks for ``q`` runs per round until it has
``3 n_init`` runs. A run is trained by reading its observed losses; the regret at R runs is
the best objective observed so far against the pool's best (%). ``best of initial`` is the
regret of the first runs alone. Writes ``benchmarks/results/loop.json`` and ``loop.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
GROUPS = ("sft", "mixinglaws", "redpajama", "regmix", "olmix")


def _regret(pool, observed) -> float:
    obj = pool.objective
    return float(100 * (obj[observed].min() / obj.min() - 1))


def run_trial(pool, protocols, rng_seed, log):
    """``{protocol: {R: regret}}`` of one trial."""
    from .searchers import MAX_K

    rng = np.random.default_rng(rng_seed)
    n = len(pool.weights)
    init = rng.choice(n, pool.n_init, replace=False).tolist()
    r_max = min(3 * pool.n_init, n)
    out, secs = {}, {}
    for name, fn in protocols.items():
        if pool.weights.shape[1] > MAX_K.get(name, np.inf):
            continue
        observed = list(init)
        curve = {len(observed): _regret(pool, observed)}
        prng = np.random.default_rng([rng_seed, len(name)])
        t0 = time.perf_counter()
        while len(observed) < r_max:
            picks = fn(pool, observed, min(pool.q, r_max - len(observed)), prng)
            picks = [p for p in picks if p not in observed]
            if not picks:  # a protocol that proposes nothing new: fill at random
                free = np.setdiff1d(np.arange(n), observed)
                picks = [int(prng.choice(free))]
            observed += picks
            curve[len(observed)] = _regret(pool, observed)
        # dense in R: the regret after R runs is that of the last round within R
        out[name] = {
            r: curve[max(c for c in curve if c <= r)] for r in range(pool.n_init, r_max + 1)
        }
        secs[name] = time.perf_counter() - t0
    log(
        f"{pool.name} seed {rng_seed}: "
        + ", ".join(f"{p} {c[max(c)]:.3f}% ({secs[p]:.0f} s)" for p, c in out.items())
    )
    return out, secs


def checkpoints(pool) -> list[int]:
    """The R reported: the initial runs, then every half of them up to 3x."""
    r_max = min(3 * pool.n_init, len(pool.weights))
    steps = {pool.n_init + (h * pool.n_init) // 2 for h in range(5)}
    return sorted(r for r in steps if r <= r_max)


def summarize(pool, trials):
    """``{protocol: {R: {mean, p90, worst}}}`` over trials at the reported R."""
    out = {}
    for p in trials[0]:  # the protocols run on this pool
        out[p] = {}
        for r in checkpoints(pool):
            v = np.array([t[p][r] for t in trials])
            out[p][r] = {
                "mean": float(v.mean()),
                "p90": float(np.quantile(v, 0.9)),
                "worst": float(v.max()),
            }
    return out


def markdown(results) -> str:
    lines = [
        "# Loop benchmark: regret after R runs",
        "",
        "Regret (%) of the best run so far against the pool's best; mean / 90th percentile / "
        "worst over trials. R0 = the initial random runs (best of initial).",
        "",
    ]
    for name, res in results.items():
        s = res["summary"]
        rs = sorted({int(r) for p in s.values() for r in p})
        lines += [
            f"## {name} (pool {res['pool_size']}, K = {res['k']}, {res['n_init']} initial runs, "
            f"q = {res['q']}, {res['trials']} trials)",
            "",
            "| protocol | " + " | ".join(f"R = {r}" for r in rs) + " |",
            "|---|" + "---|" * len(rs),
        ]
        for p, by_r in s.items():
            by_r = {int(r): v for r, v in by_r.items()}  # JSON keys are strings
            cells = [
                f"{by_r[r]['mean']:.3f} / {by_r[r]['p90']:.3f} / {by_r[r]['worst']:.3f}" for r in rs
            ]
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += pooled_lines(results) + verdict_lines(results)
    return "\n".join(lines) + "\n"


def verdict_lines(results, protocol: str = "jaxmix loop") -> list[str]:
    """Per data set at R = 2x and 3x the initial runs: the protocol's mean regret against the
    better of random search and GP-EI."""
    lines = [
        f"## {protocol} against the better of random search and GP-EI (mean regret %)",
        "",
        "| data set | R | " + protocol + " | better of random / GP-EI | at most it |",
        "|---|---|---|---|---|",
    ]
    for name, res in results.items():
        s = res["summary"]
        if protocol not in s:
            continue
        by = {p: {int(r): v["mean"] for r, v in s[p].items()} for p in s}
        for mult in (2, 3):
            r = min(mult * res["n_init"], max(by[protocol]))
            base = min(by[p][r] for p in ("random search", "GP-EI") if p in by)
            ours = by[protocol][r]
            ok = "yes" if ours <= base + 1e-9 else "no"
            lines.append(f"| {name} | {r} | {ours:.3f} | {base:.3f} | {ok} |")
    return lines + [""]


def pooled_lines(results) -> list[str]:
    """Mean regret pooled over data sets at R = 2 n_init and 3 n_init (each data set weighs
    the same): over every data set for the protocols run on all of them, and over the data
    sets every protocol ran on."""
    protos = list(dict.fromkeys(p for res in results.values() for p in res["summary"]))
    everywhere = [p for p in protos if all(p in r["summary"] for r in results.values())]
    common = [n for n, r in results.items() if all(p in r["summary"] for p in protos)]
    lines = []
    for title, names, ps in (
        ("every data set", list(results), everywhere),
        (f"the {len(common)} data sets every protocol ran on", common, protos),
    ):
        if not names or not ps:
            continue
        lines += [
            f"## Pooled over {title} (mean regret %, each data set weighs the same)",
            "",
            "| protocol | R = 2 x initial | R = 3 x initial |",
            "|---|---|---|",
        ]
        for p in ps:
            cells = []
            for mult in (2, 3):
                vals = []
                for n in names:
                    by_r = {int(r): v for r, v in results[n]["summary"][p].items()}
                    vals.append(by_r[min(mult * results[n]["n_init"], max(by_r))]["mean"])
                cells.append(f"{np.mean(vals):.3f}")
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def main(argv=None) -> int:
    from .pools import load_pools
    from .searchers import PROTOCOLS

    ap = argparse.ArgumentParser(prog="python -m benchmarks.loop", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="2 trials, the first size of each set")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--only", help=f"comma-separated groups of {', '.join(GROUPS)}")
    ap.add_argument("--protocols", help="comma-separated protocol names (default: all)")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "realdata")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    trials = 2 if args.quick else args.trials
    only = set(args.only.split(",")) if args.only else None
    protocols = dict(PROTOCOLS)
    if args.protocols:
        names = [p.strip() for p in args.protocols.split(",")]
        protocols = {p: PROTOCOLS[p] for p in names}
    pools = load_pools(args.data, REPO, only, args.quick)
    if not pools:
        print("no data sets found under", args.data, file=sys.stderr)
        return 1
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    results = {}
    for pool in pools:
        runs = [run_trial(pool, protocols, args.seed + t, log) for t in range(trials)]
        curves = [c for c, _ in runs]
        results[pool.name] = {
            "pool_size": len(pool.weights),
            "k": int(pool.weights.shape[1]),
            "n_init": pool.n_init,
            "q": pool.q,
            "trials": trials,
            "summary": summarize(pool, curves),
            "curves": curves,
            "seconds": {p: float(np.mean([s[p] for _, s in runs])) for p in runs[0][1]},
        }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "loop_quick" if args.quick else "loop"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    md = markdown(results)
    (args.out / f"{stem}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
