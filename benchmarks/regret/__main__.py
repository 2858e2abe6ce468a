"""`python -m benchmarks.regret [--quick] [--data DIR] [--out DIR] [--only SETS]`.

Regret of each protocol's recommendation on repeated random pilot subsets of public mixture
data and the project's SFT grid, and true regret on pilots drawn from known laws.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SETS = ("sft", "mixinglaws", "redpajama", "regmix", "synthetic")
MARGIN = 0.15  # points above best-of-pilots that still count as "no worse"


def _score(pick, task, pilots, unseen):
    obj = task.objective
    best = obj.min()
    if pick is None:
        return float("nan")
    kind, v = pick
    if kind == "pilot":
        o = obj[pilots[v]] if v < len(pilots) else np.nan
    elif kind == "cand":
        o = obj[unseen[v]]
    else:
        o = obj[int(np.argmin(np.abs(task.weights - v).sum(axis=1)))]
    return float(100 * (o / best - 1))


def run_task(task, seed, log):
    from .protocols import protocols

    rng = np.random.default_rng(seed)
    n = len(task.weights)
    lower, upper = task.weights.min(axis=0), task.weights.max(axis=0)
    rows = []
    for t in range(task.trials):
        pilots = np.sort(rng.choice(n, task.n_pilots, replace=False))
        unseen = np.setdiff1d(np.arange(n), pilots)
        a = task.weights[pilots] * task.budget
        y = task.losses[pilots]
        if task.extra is not None:
            ea, ey = task.extra(pilots)
            a, y = np.vstack([a, ea]), np.vstack([y, ey])
        cands = None if task.lattice else task.weights[unseen]
        t0 = time.perf_counter()
        picks, info = protocols(a, y, task.budget, task.importance, lower, upper, cands, seed=t)
        regrets = {p: _score(v, task, pilots, unseen) for p, v in picks.items()}
        rows.append(
            {
                "trial": t,
                "pilots": pilots.tolist(),
                "regret_pct": regrets,
                **info,
                "seconds": time.perf_counter() - t0,
            }
        )
        log(
            f"{task.name} trial {t}: default {regrets['default (combination + decision)']:.3f}% "
            f"best-of-pilots {regrets['best of pilots']:.3f}% ({info['action']}, "
            f"{time.perf_counter() - t0:.1f} s)"
        )
    return rows


def paper_pilot_rows(log):
    """The SFT grid's 1+4K pilots (and + the `next` runs), one trial each."""
    from .protocols import protocols
    from .tasks import sft_grid_task, sft_paper_pilots

    task = sft_grid_task(REPO, 1)[0]
    lower, upper = task.weights.min(axis=0), task.weights.max(axis=0)
    out = []
    for name, a, y in sft_paper_pilots(REPO):
        picks, info = protocols(a, y, task.budget, task.importance, lower, upper, None)
        regrets = {
            p: _score(v, task, np.array([], int), np.array([], int))
            if v is None or v[0] != "pilot"
            else float("nan")
            for p, v in picks.items()
        }
        # "best of pilots" here: the best pilot run at the budget, if any (none for 1+4K).
        out.append({"name": name, "regret_pct": regrets, **info})
        log(
            f"{name}: default {regrets['default (combination + decision)']:.3f}% ({info['action']})"
        )
    return out


def summarize(rows) -> dict:
    """Per-protocol summary of trial rows. A protocol missing from some rows (rows merged
    from runs of different versions) is n/a rather than a mean over a subset."""
    names = list(dict.fromkeys(p for r in rows for p in r["regret_pct"]))
    base = np.array([r["regret_pct"]["best of pilots"] for r in rows])
    out = {}
    for p in names:
        v = np.array([r["regret_pct"].get(p, np.nan) for r in rows], float)
        if np.all(np.isnan(v)) or any(p not in r["regret_pct"] for r in rows):
            out[p] = None
            continue
        ok = np.isfinite(v)
        out[p] = {
            "mean": float(np.mean(v[ok])),
            "p90": float(np.percentile(v[ok], 90)),
            "worst": float(np.max(v[ok])),
            "no_worse_share": float(np.mean(v[ok] <= base[ok] + MARGIN)),
            "trials": int(ok.sum()),
        }
    return out


def synthetic_rows(tables, quick, log, out_dir=None):
    from .synthetic import trial

    out = {}
    for k in (3,) if quick else (3, 5):
        for noise in (0.001, 0.005):
            res = []
            for s in range(tables):
                res.append(trial(k, noise, 1000 * k + s))
                if out_dir is not None:
                    (out_dir / f"synthetic.K{k}.{noise}.partial.json").write_text(
                        json.dumps(res) + "\n"
                    )
            key = f"K={k}, noise {100 * noise:.1f}%"
            out[key] = {
                p: {
                    "mean": float(np.mean([r[p] for r in res if p in r])),
                    "worst": float(np.max([r[p] for r in res if p in r])),
                }
                for p in res[0]
            }
            log(
                f"synthetic {key}: "
                f"default {out[key]['default (combination + decision)']['mean']:.3f}% "
                f"uniform {out[key]['uniform']['mean']:.3f}%"
            )
    return out


def markdown(results) -> str:
    lines = [f"# Regret benchmark\n\n{results['header']}\n"]
    order = [
        "default (combination + decision)",
        "combination optimum",
        "posterior mean (law + residual GP)",
        "validate -> law",
        "best of pilots",
        "uniform",
        "LightGBM",
    ] + [p for p in results["pooled"] if p.startswith("law ")]
    lines.append(
        "| data set | protocol | mean % | p90 % | worst % | no worse than best-of-pilots + 0.15 |"
    )
    lines.append("|---|---|---|---|---|---|")
    for ds, summ in list(results["datasets"].items()) + [("pooled", results["pooled"])]:
        for p in order:
            s = summ.get(p)
            if s is None:
                lines.append(f"| {ds} | {p} | n/a | | | |")
                continue
            lines.append(
                f"| {ds} | {p} | {s['mean']:.3f} | {s['p90']:.3f} | {s['worst']:.3f} | "
                f"{100 * s['no_worse_share']:.0f}% ({s['trials']}) |"
            )
    if results.get("paper_pilots"):
        lines.append("\n| SFT grid, 1+4K pilots | protocol | regret % |\n|---|---|---|")
        for r in results["paper_pilots"]:
            for p in order:
                v = r["regret_pct"].get(p)
                lines.append(
                    f"| {r['name']} | {p} | {'n/a' if v is None or v != v else f'{v:.3f}'} |"
                )
    if results.get("synthetic"):
        lines.append("\n| known law | protocol | mean true regret % | worst % |\n|---|---|---|---|")
        for key, res in results["synthetic"].items():
            for p, s in res.items():
                lines.append(f"| {key} | {p} | {s['mean']:.4f} | {s['worst']:.4f} |")
    return "\n".join(lines) + "\n"


def merged(path: Path, new: dict, only) -> dict:
    """``new``'s sets over those of the results at ``path`` (kept where not rerun)."""
    old = json.loads(path.read_text()) if path.exists() else {"datasets": {}, "trials": {}}
    trials = {**old["trials"], **new["trials"]}
    out = {
        **old,
        **new,
        "header": f"{old.get('header', '')} Rerun and merged: `--only {','.join(only)}`, "
        f"{new['wall_s']:.0f} s.".strip(),
        "datasets": {**old["datasets"], **new["datasets"]},
        "trials": trials,
        "pooled": summarize([r for rows in trials.values() for r in rows]),
    }
    if "synthetic" not in only and "synthetic" in old:
        out["synthetic"], out["wall_s_synthetic"] = old["synthetic"], old.get("wall_s_synthetic")
    if "sft" not in only and "paper_pilots" in old:
        out["paper_pilots"] = old["paper_pilots"]
    out["wall_s"] = old.get("wall_s", 0.0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.regret", description=__doc__)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "realdata")
    ap.add_argument("--quick", action="store_true", help="few trials of each data set (minutes)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--only", default=",".join(SETS))
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--tables", type=int, default=20, help="known-law tables per noise level")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="replace only the --only sets in OUT/regret.json, keep the others",
    )
    args = ap.parse_args(argv)
    if not (args.data / "README.md").exists():
        print(f"no public data at {args.data} (pass --data)", file=sys.stderr)
        return 2
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    import jax

    jax.config.update("jax_enable_x64", True)
    from . import tasks as T

    trials = args.trials or (2 if args.quick else 6)
    out_dir = args.out or (
        Path(tempfile.mkdtemp()) if args.quick else REPO / "benchmarks" / "results"
    )
    log = lambda m: print(m, flush=True)  # noqa: E731
    t0 = time.time()
    all_tasks = []
    if "sft" in only:
        all_tasks += T.sft_grid_task(REPO, trials if args.quick else 12)
    if "mixinglaws" in only:
        all_tasks += T.mixinglaws_tasks(args.data, trials, args.quick)
    if "redpajama" in only:
        all_tasks += T.redpajama_tasks(args.data, trials, args.quick)
    if "regmix" in only:
        all_tasks += T.regmix_task(args.data, 1 if args.quick else 3, args.quick)
    datasets, trial_rows = {}, {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for task in all_tasks:
        rows = run_task(task, 0, log)
        trial_rows[task.name] = rows
        datasets[task.name] = summarize(rows)
        partial = {"datasets": datasets, "trials": trial_rows}
        (out_dir / "regret.partial.json").write_text(json.dumps(partial, default=float) + "\n")
    pooled = summarize([r for rows in trial_rows.values() for r in rows]) if trial_rows else {}
    results = {
        "header": f"`python -m benchmarks.regret{' --quick' if args.quick else ''}`; "
        f"{time.time() - t0:.0f} s wall before the known-law tables.",
        "datasets": datasets,
        "pooled": pooled,
        "trials": trial_rows,
    }
    if "sft" in only:
        results["paper_pilots"] = paper_pilot_rows(log)
    if "synthetic" in only:
        results["synthetic"] = synthetic_rows(
            4 if args.quick else args.tables, args.quick, log, out_dir
        )
    results["wall_s"] = time.time() - t0
    if args.merge:
        results = merged(out_dir / "regret.json", results, only)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "regret.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (out_dir / "regret.md").write_text(markdown(results))
    print(markdown(results))
    print(f"wrote {out_dir / 'regret.json'} and regret.md ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
