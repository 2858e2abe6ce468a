"""Data sets of the loop benchmark: pools of observed mixtures at one budget.

A trial starts from ``n_init`` random pool members; each protocol then asks for ``q`` runs per
round, and a run is "trained" by reading the pool member's observed losses. Every pool of the
regret benchmark (the SFT grid's lattice, Data Mixing Laws' 2Mix lattices and 5Mix pools,
RedPajama, RegMix's 512 runs) and the Olmix swarms (objective: the mean bits per byte over
their evaluation tasks, every training domain a source).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

import numpy as np

from benchmarks.regret import tasks as regret_tasks

OLMIX = (  # (file stem, name, initial runs)
    ("dclm", "Olmix DCLM (24 topics)", 8),
    ("full_reuse_update_5_seed_0", "Olmix reuse (22 sources)", 8),
    ("full_recomputation", "Olmix full (64 sources)", 16),
)


class Pool(NamedTuple):
    name: str
    weights: np.ndarray  # [N, K] mixtures at the budget
    losses: np.ndarray  # [N, K] per-domain losses (NaN: a source without a validation set)
    importance: np.ndarray  # [K] objective = losses @ importance (over finite columns)
    budget: float
    n_init: int  # initial random runs
    q: int  # runs per round

    @property
    def objective(self) -> np.ndarray:
        return np.where(self.importance > 0, self.losses, 0.0) @ self.importance


def _from_task(task, n_init: int, q: int) -> Pool:
    losses, imp = task.losses, task.importance
    if not np.all(np.isfinite(losses)):
        # Sources without a validation set (RegMix): the user-facing joint fit needs a loss
        # column per domain, so, as for RedPajama, every column is the objective.
        k = losses.shape[1]
        losses, imp = np.repeat(task.objective[:, None], k, axis=1), np.full(k, 1 / k)
    return Pool(task.name, task.weights, losses, imp, task.budget, n_init, q)


def _olmix(root: Path, stem: str, name: str, n_init: int) -> Pool | None:
    ratios, metrics = root / f"{stem}_ratios.csv", root / f"{stem}_metrics.csv"
    if not (ratios.exists() and metrics.exists()):
        return None

    def read(path):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        cols = [c for c in rows[0] if c not in ("", "run", "name", "index")]
        return {
            r["run"]: [float(r[c]) if r[c] not in ("", "nan") else np.nan for c in cols]
            for r in rows
        }, cols

    w_by, _ = read(ratios)
    m_by, _ = read(metrics)
    runs = [r for r in w_by if r in m_by]
    w = np.array([w_by[r] for r in runs])
    m = np.array([m_by[r] for r in runs])
    keep = np.all(np.isfinite(m), axis=0)  # tasks every run reports
    obj = m[:, keep].mean(axis=1)
    w = w / w.sum(axis=1, keepdims=True)
    k = w.shape[1]
    # As RedPajama: every domain's loss column is the objective (importance 1/K).
    return Pool(
        name,
        w,
        np.repeat(obj[:, None], k, axis=1),
        np.full(k, 1 / k),
        1.0,
        n_init,
        max(2, n_init // 2),
    )


def load_pools(data: Path, repo: Path, only, quick: bool) -> list[Pool]:
    """Every pool whose files exist (``only``: names of groups to keep)."""
    out = []
    want = lambda g: not only or g in only  # noqa: E731
    if want("sft") and (repo / "benchmarks" / "results" / "sft_grid.json").exists():
        out += [_from_task(t, 4, 2) for t in regret_tasks.sft_grid_task(repo, 0)]
    if want("mixinglaws") and (data / "mixinglaws").exists():
        for t in regret_tasks.mixinglaws_tasks(data, 0, quick):
            two = t.name.startswith("2Mix")
            out.append(_from_task(t, 2 if two else 4, 1 if two else 2))
    if want("redpajama") and (data / "mixinglaws").exists():
        out += [_from_task(t, 4, 2) for t in regret_tasks.redpajama_tasks(data, 0, quick)]
    if want("regmix") and (data / "regmix").exists():
        out += [_from_task(t, 8, 4) for t in regret_tasks.regmix_task(data, 0, quick)]
    if want("olmix"):
        for stem, name, n0 in OLMIX[: 2 if quick else None]:
            pool = _olmix(data / "olmix", stem, name, n0)
            if pool is not None:
                out.append(pool)
    return out
