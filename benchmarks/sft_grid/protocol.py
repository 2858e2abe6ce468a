"""Which runs to train: pilot amounts, the mixture grid, and each run's batches.

A run is a dict of amounts (examples per domain). It trains `epochs` passes over
its examples in a seeded order, B examples a step, and is evaluated
`evals_per_epoch` times per epoch; the best validation loss per domain is kept.
"""

import itertools

import numpy as np


def grid_weights(k: int, lattice: int, lo: int, hi: int) -> np.ndarray:
    """Every mixture on the 1/lattice lattice with each weight in [lo, hi]/lattice. [G, K]."""
    pts = [c for c in itertools.product(range(lo, hi + 1), repeat=k) if sum(c) == lattice]
    return np.array(sorted(pts, reverse=True), np.float64) / lattice


def integer_amounts(weights: np.ndarray, budget: int) -> np.ndarray:
    """Round w * N to integers summing to N (largest remainder). weights: [K] -> [K] int."""
    raw = np.asarray(weights, np.float64) * budget
    out = np.floor(raw).astype(np.int64)
    for i in np.argsort(-(raw - out))[: budget - out.sum()]:
        out[i] += 1
    return out


def run_batches(amounts, offsets, batch: int, epochs: float, seed: int) -> np.ndarray:
    """Pool rows of every step. amounts, offsets: [K]. Returns [S, B], S = ceil(epochs * n / B).

    Each epoch is a fresh seeded permutation of the run's rows; epochs are
    concatenated and cut into batches.
    """
    rows = np.concatenate([off + np.arange(a) for a, off in zip(amounts, offsets)])
    steps = int(np.ceil(epochs * len(rows) / batch))
    rng = np.random.default_rng(seed)
    reps = int(np.ceil(steps * batch / len(rows)))
    order = np.concatenate([rng.permutation(rows) for _ in range(reps)])
    return order[: steps * batch].reshape(steps, batch)


def eval_steps(steps: int, epochs: float, per_epoch: int) -> list[int]:
    """Steps (1-based) after which to evaluate: evenly spaced, the last step included."""
    points = max(1, int(round(epochs * per_epoch)))
    return sorted({max(1, int(round(steps * (i + 1) / points))) for i in range(points)})


def swarm_weights(k: int, runs: int, lo: float, hi: float, seed: int) -> np.ndarray:
    """`runs` random mixtures (flat Dirichlet) with every weight in [lo, hi]. [runs, K].

    The fixed-budget design: each run trains the full budget at its own mixture.
    Draws outside the bounds are rejected, so the swarm covers the grid's region.
    """
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    while len(out) < runs:
        w = rng.dirichlet(np.ones(k))
        if w.min() >= lo and w.max() <= hi:
            out.append(w)
    return np.array(out)
