"""Regret of picking a mixture among unseen swarm runs, on Olmix's own swarms.

``python -m benchmarks.olmix_targets [--trials N] [--out benchmarks/results/olmix_targets]``

Each Olmix swarm (``../shared/realdata/olmix``: 127 runs x 24 domains, 512 x 64, 64 x 22;
110 downstream bits-per-byte targets, lower is better) is split at random, per trial, into
pilots (a quarter of the runs, at least 32) and candidates (the rest). The objective is the
mean BPB over the 110 targets (``--objective 'loss:*'``). Each protocol picks one mixture among
the pilots and candidates; its regret is the pick's observed objective over the best of the
whole swarm, in percent. Protocols:

- ``jaxmix default``: the target law per target and the decision among the candidates and
  the best pilot (``jaxmix run --objective 'loss:*' --candidates``);
- ``jaxmix law's best candidate``: the candidate the law predicts best (no decision);
- ``best of pilots``;
- ``log-linear (Huber)``: Olmix's default regressor, ``log y_t = a_t + theta_t . w`` per
  target with a Huber loss (scikit-learn), the candidate with the best predicted mean;
- ``LightGBM``: RegMix's regressor of the objective on the mixture.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.realdata.common import lgbm_fit

ROOT = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "olmix"
SWARMS = (
    ("dclm (127 x 24)", "dclm"),
    ("full recomputation (512 x 64)", "full_recomputation"),
    ("reuse update (64 x 22)", "full_reuse_update_5_seed_0"),
)
PROTOCOLS = ("jaxmix default", "jaxmix law's best candidate", "best of pilots",
             "log-linear (Huber)", "LightGBM")


def load_swarm(root: Path, stem: str):
    """``(domains, weights [R, K], metric names, values [R, T])`` joined on ``run``."""
    def rows(path):
        with open(path, newline="") as f:
            return list(csv.DictReader(f))

    ratios, metrics = rows(root / f"{stem}_ratios.csv"), rows(root / f"{stem}_metrics.csv")
    skip = {"", "run", "name", "index"}
    domains = [c for c in ratios[0] if c not in skip]
    names = [c for c in metrics[0] if c not in skip]
    by_run = {m["run"]: m for m in metrics}
    w, y = [], []
    for r in ratios:
        if r["run"] in by_run:
            w.append([float(r[d]) for d in domains])
            y.append([float(by_run[r["run"]][n]) for n in names])
    w = np.asarray(w)
    return domains, w / w.sum(axis=1, keepdims=True), names, np.asarray(y)


def _jaxmix(domains, names, w_p, y_p, w_c):
    """``(default pick, law's best candidate)``: indices into ``[pilots; candidates]``."""
    from jaxmix.fitting.targets import fit_targets
    from jaxmix.objective import parse_objective
    from jaxmix.optimization.targets import choose
    from jaxmix.table import PilotTable

    table = PilotTable(tuple(domains), tuple(f"r{i}" for i in range(len(w_p))), w_p, {
        n: y_p[:, j] for j, n in enumerate(names)})
    fit = fit_targets(table, parse_objective("loss:*", table.targets()))
    c = choose(fit, candidates=w_c)
    default = c.best_run if c.index < 0 else len(w_p) + c.index
    law_best = len(w_p) + int(np.argmax(c.gain))
    return default, law_best


def _loglinear(w_p, y_p, w_c):
    from sklearn.linear_model import HuberRegressor

    pred = np.zeros(len(w_c))
    for j in range(y_p.shape[1]):
        m = HuberRegressor(alpha=1e-4, max_iter=1000).fit(w_p, np.log(y_p[:, j]))
        pred += np.exp(m.predict(w_c))
    return len(w_p) + int(np.argmin(pred))


def _lightgbm(w_p, y_p, w_c):
    predict = lgbm_fit(w_p, y_p.mean(axis=1, keepdims=True))
    return len(w_p) + int(np.argmin(predict(w_c)[:, 0]))


def run_swarm(stem: str, trials: int):
    domains, w, names, y = load_swarm(ROOT, stem)
    f = y.mean(axis=1)
    best = f.min()
    n_p = max(32, len(w) // 4)
    out = {p: [] for p in PROTOCOLS}
    seconds = []
    for t in range(trials):
        perm = np.random.default_rng(t).permutation(len(w))
        pi, ci = perm[:n_p], perm[n_p:]
        order = np.concatenate([pi, ci])
        regret = lambda i, o=order: 100 * (f[o[i]] - best) / best  # noqa: E731
        t0 = time.perf_counter()
        default, law_best = _jaxmix(domains, names, w[pi], y[pi], w[ci])
        seconds.append(time.perf_counter() - t0)
        print(f"  {stem} trial {t + 1}/{trials}: {seconds[-1]:.1f} s", file=sys.stderr,
              flush=True)
        out["jaxmix default"].append(regret(default))
        out["jaxmix law's best candidate"].append(regret(law_best))
        out["best of pilots"].append(regret(int(np.argmin(f[pi]))))
        out["log-linear (Huber)"].append(regret(_loglinear(w[pi], y[pi], w[ci])))
        out["LightGBM"].append(regret(_lightgbm(w[pi], y[pi], w[ci])))
    return out, n_p, len(w), seconds


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--out", default="benchmarks/results/olmix_targets")
    ap.add_argument("--swarms", default=",".join(stem for _, stem in SWARMS),
                    help="comma-separated swarm stems (default: all three)")
    args = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)  # the CLI's default precision
    warnings.filterwarnings("ignore", module="sklearn")  # Huber's lbfgs iteration notes
    results, lines = {}, ["| swarm | pilots / runs | protocol | mean % | p90 % | worst % |",
                          "|---|---|---|---|---|---|"]
    chosen = args.swarms.split(",")
    for label, stem in (s for s in SWARMS if s[1] in chosen):
        out, n_p, n, seconds = run_swarm(stem, args.trials)
        results[label] = {"pilots": n_p, "runs": n, "regret_pct": out,
                          "jaxmix_seconds": seconds}
        for p in PROTOCOLS:
            r = np.asarray(out[p])
            lines.append(f"| {label} | {n_p} / {n} | {p} | {r.mean():.3f} | "
                         f"{np.quantile(r, 0.9):.3f} | {r.max():.3f} |")
        print("\n".join(lines[-len(PROTOCOLS):]), flush=True)
        print(f"  jaxmix fit + choice per trial: first {seconds[0]:.1f} s, then median "
              f"{np.median(seconds[1:]) if len(seconds) > 1 else float('nan'):.1f} s", flush=True)
    head = (f"# Olmix swarms: regret of the pick among unseen runs\n\n`python -m "
            f"benchmarks.olmix_targets --trials {args.trials}`, objective the mean BPB over the "
            "110 targets.\n\n")
    Path(args.out + ".md").write_text(head + "\n".join(lines) + "\n")
    Path(args.out + ".json").write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
