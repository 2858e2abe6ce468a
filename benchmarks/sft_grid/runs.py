"""Train a list of fine-tunes from the base model and keep the best loss per domain.

Runs with the same number of steps are trained together, `per_call` at a time,
by one vmapped jitted step (per_call = 1 trains them one after another through
the same compiled step: on a 2-core CPU vmapping small runs gave no speed-up).
"""

import time

import jax.numpy as jnp
import numpy as np

from .protocol import eval_steps, run_batches
from .train import train_group


def train_runs(base, specs, pools, cfg, per_call: int = 1, log=print) -> tuple[np.ndarray, list]:
    """specs: list of (amounts [K] ints, seed). Returns (best [M, K], curves: M arrays [E, K])."""
    hp = cfg.hyper
    pool = (jnp.asarray(pools.train_tokens), jnp.asarray(pools.train_mask))
    val = (
        jnp.asarray(pools.val_tokens),
        jnp.asarray(pools.val_mask),
        jnp.asarray(pools.val_domain),
    )
    batches = [run_batches(a, pools.offsets, hp.batch, cfg.epochs, 7919 * s + 1) for a, s in specs]
    curves: list = [None] * len(specs)
    by_steps: dict[int, list[int]] = {}
    for i, b in enumerate(batches):
        by_steps.setdefault(len(b), []).append(i)
    done = 0
    for steps, members in sorted(by_steps.items()):
        at = eval_steps(steps, cfg.epochs, cfg.evals_per_epoch)
        for j in range(0, len(members), per_call):
            chunk = members[j : j + per_call]
            t0 = time.time()
            out = train_group(
                base, np.stack([batches[i] for i in chunk]), at, pool, val, cfg.model, hp
            )
            for r, i in enumerate(chunk):
                curves[i] = out[r]
            done += len(chunk)
            best = np.round(out.min(1), 4).tolist()
            log(
                f"  runs {done}/{len(specs)}: {steps} steps, {time.time() - t0:.1f}s, "
                f"best {best[0] if len(chunk) == 1 else best}"
            )
    return np.stack([c.min(0) for c in curves]), curves
