"""Data sets of the regret benchmark: mixtures at one budget with observed losses.

Each :class:`Task` is a pool of observed mixtures at one budget. A trial draws ``n_pilots`` of
them as the pilots (fixed-budget swarm design); the others are the unseen candidates. On a
complete lattice (``lattice``) a method's continuous recommendation is scored by the observed
mixture nearest to it; otherwise each method ranks the unseen candidates and its top pick is
scored. ``extra(rows)`` adds pilot runs that are not candidates (2Mix: earlier checkpoints
of the pilot mixtures).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from benchmarks.realdata.data import _rows, load_mixinglaws, load_regmix


class Task(NamedTuple):
    name: str
    weights: np.ndarray  # [N, K] mixtures at the budget
    losses: np.ndarray  # [N, K] per-domain losses (the objective's columns)
    importance: np.ndarray  # [K] objective = losses @ importance
    budget: float
    lattice: bool
    n_pilots: int
    trials: int
    extra: Callable | None = None  # rows -> (amounts [E, K], losses [E, K])

    @property
    def objective(self) -> np.ndarray:
        return np.where(self.importance > 0, self.losses, 0.0) @ self.importance


def _size_key(s):
    return float(s[:-1]) * (1000 if s[-1] == "B" else 1)


def mixinglaws_tasks(root: Path, trials: int, quick: bool) -> list[Task]:
    out = []
    # 2Mix: a lattice of 5 mixtures (Github 0.25..0.75); pilots: 3 mixtures with their
    # checkpoints from 10k to 30k steps; budget: 30k steps.
    domains, by = load_mixinglaws(root, "2Mix", (10_000, 30_000))
    for size in sorted(by, key=_size_key)[: 1 if quick else None]:
        r = by[size]
        at = r.step == 30_000
        labels = r.mixture[at]
        budget = float(r.tokens[at][0])

        def extra(rows, r=r, at=at, labels=labels):
            keep = np.isin(r.mixture, labels[rows]) & ~at
            return r.weights[keep] * r.tokens[keep, None], r.losses[keep]

        out.append(
            Task(
                f"2Mix {size}",
                r.weights[at],
                r.losses[at],
                r.objective_weights,
                budget,
                True,
                3,
                10,
                extra,
            )
        )
    # 5Mix: 26 mixtures per size at 30k (not a lattice); 12 pilots.
    domains, by = load_mixinglaws(root, "5Mix", (30_000, 30_000))
    sizes = [s for s in sorted(by, key=_size_key) if len(np.unique(by[s].mixture)) >= 20]
    for size in sizes[: 1 if quick else None]:
        r = by[size]
        out.append(
            Task(
                f"5Mix {size}",
                r.weights,
                r.losses,
                r.objective_weights,
                float(r.tokens[0]),
                False,
                12,
                trials,
            )
        )
    return out


def redpajama_tasks(root: Path, trials: int, quick: bool) -> list[Task]:
    """RedPajama: 7 training sources, validation on the Pile (pure transfer). The objective,
    the valid_weight average of the 22 Pile domains, is every domain's loss column (each
    law's domain i then models the objective as a function of its own and the others'
    data; importance 1/K)."""
    folder = root / "mixinglaws"
    vw = json.loads((folder / "valid_weight.json").read_text())
    cells, meta = {}, {}
    for r in _rows(folder / "RedPajama_losses.csv"):
        if int(r["run_id"]) >= 900 or int(r["step"]) != 30_000:
            continue
        key = (r["model_size"], int(r["run_id"]))
        cells.setdefault(key, {})[r["valid_domain"]] = float(r["loss"])
        meta[key] = ([float(r[f"p_rp_{j}"]) for j in range(1, 8)], float(r["tokens_total"]))
    by = {}
    for key, valid in cells.items():
        if len(valid) < 22:
            continue
        obj = sum(vw[d] * v for d, v in valid.items()) / sum(vw[d] for d in valid)
        by.setdefault(key[0], []).append((meta[key][0], meta[key][1], obj))
    out = []
    for size in sorted(by, key=_size_key):
        recs = by[size]
        if len(recs) < 18:
            continue
        w = np.array([r[0] for r in recs])
        w = w / w.sum(axis=1, keepdims=True)
        obj = np.array([r[2] for r in recs])
        k = w.shape[1]
        out.append(
            Task(
                f"RedPajama {size}",
                w,
                np.repeat(obj[:, None], k, axis=1),
                np.full(k, 1 / k),
                recs[0][1],
                False,
                12,
                trials,
            )
        )
        if quick:
            break
    return out


def regmix_task(root: Path, trials: int, quick: bool) -> list[Task]:
    """RegMix 1M: 48 of the 512 training runs as pilots, the other 464 as candidates;
    objective: the Pile-CC loss (RegMix's target). Domains without a validation set have
    NaN loss columns (they act only as sources)."""
    data = load_regmix(root)
    s = data.splits["train-1M"]
    losses = np.full((len(s.weights), len(data.train_domains)), np.nan)
    for j, d in enumerate(data.loss_domains):
        losses[:, data.train_domains.index(d)] = s.losses[:, j]
    imp = np.zeros(len(data.train_domains))
    imp[data.train_domains.index("pile_cc")] = 1.0
    w = s.weights / s.weights.sum(axis=1, keepdims=True)
    return [Task("RegMix 1M", w, losses, imp, s.total, False, 48, trials)]


def sft_grid_task(repo: Path, trials: int) -> list[Task]:
    """The project's SFT grid: its lattice mixtures and its other mixtures trained at the
    budget with every seed (uniform, the recommendations), seed-averaged losses; 8 of them
    as pilots. A pick is scored by the nearest trained mixture, so uniform is uniform."""
    d = json.loads((repo / "benchmarks" / "results" / "sft_grid.json").read_text())
    named = ("uniform", "recommended", "reference", "default", "swarm_default")
    runs = d["grid"]["runs"] + [d[k] for k in named if isinstance(d.get(k), dict)]
    w = np.array([r["weights"] for r in runs])
    y = np.array([r["loss"] for r in runs])
    return [
        Task("SFT grid (swarm)", w, y, np.ones(w.shape[1]), float(d["budget"]), True, 8, trials)
    ]


def sft_paper_pilots(repo: Path):
    """The SFT grid's 13 paper pilots (1+4K at 48 examples), and with the loop's three runs
    at the budget: ``[(name, amounts, losses)]`` and the grid task to score against."""
    d = json.loads((repo / "benchmarks" / "results" / "sft_grid.json").read_text())
    a = np.array(d["pilots"]["amounts"], float)
    y = np.array(d["pilots"]["loss"], float)
    out = [("SFT grid (13 paper pilots)", a, y)]
    loop_path = repo / "benchmarks" / "results" / "sft_loop.json"
    if loop_path.exists():
        loop = json.loads(loop_path.read_text())["loop"]
        nxt = loop.get("next_runs") or []
        if nxt and all("loss" in r for r in nxt):
            a2 = np.vstack([a, [r["amounts"] for r in nxt]])
            y2 = np.vstack([y, [r["loss"] for r in nxt]])
            out.append(("SFT grid (13 + 3 `next` runs)", a2, y2))
    return out
