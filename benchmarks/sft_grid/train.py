"""Train R fine-tunes of equal step count at once (vmapped), with periodic evaluation.

Every run of a group starts from the same base parameters and differs only in
which pool examples it sees at each step (its mixture and its seed). The jitted
step and eval functions depend only on shapes (R, B, T, pool size), so all
groups of the same size reuse one compilation.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .model import ModelConfig, Params, masked_loss, token_losses


class Hyper(NamedTuple):
    """Optimization hyper-parameters shared by every fine-tune."""

    lr: float = 1e-3  # peak learning rate
    warmup: float = 0.1  # fraction of steps spent warming up linearly
    final: float = 0.1  # cosine decays to final * lr
    batch: int = 16  # B, examples per step
    clip: float = 1.0  # global-norm gradient clipping


def lr_schedule(hp: Hyper, steps: int) -> np.ndarray:
    """Linear warmup then cosine decay. Returns [steps] learning rates."""
    t = np.arange(steps, dtype=np.float64)
    warm = max(1, int(round(hp.warmup * steps)))
    frac = np.clip((t - warm) / max(1, steps - warm), 0.0, 1.0)
    cos = hp.final + (1 - hp.final) * 0.5 * (1 + np.cos(np.pi * frac))
    return (hp.lr * np.where(t < warm, (t + 1) / warm, cos)).astype(np.float32)


def _optimizer(clip: float) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(clip), optax.scale_by_adam())


@functools.partial(jax.jit, static_argnames=("cfg", "clip"), donate_argnums=(0, 1))
def train_step(params, opt, pool_tokens, pool_mask, idx, lr, *, cfg: ModelConfig, clip: float):
    """One step of R runs.

    params, opt: pytrees with a leading [R] axis; pool_tokens, pool_mask: [P, T];
    idx: [R, B] pool rows per run; lr: scalar. Returns (params, opt, losses [R]).
    """
    tx = _optimizer(clip)

    def one(p, o, rows):
        loss, g = jax.value_and_grad(masked_loss)(p, pool_tokens[rows], pool_mask[rows], cfg.heads)
        upd, o = tx.update(g, o, p)
        p = jax.tree.map(lambda a, u: a - lr * u, p, upd)
        return p, o, loss

    return jax.vmap(one)(params, opt, idx)


@functools.partial(jax.jit, static_argnames=("cfg", "n_domains"))
def evaluate(params, val_tokens, val_mask, val_domain, *, cfg: ModelConfig, n_domains: int):
    """Per-domain validation loss (nats per response byte) of R runs.

    params: leading [R]; val_tokens, val_mask: [Nv, T]; val_domain: [Nv] int.
    Returns [R, D]. Runs are evaluated one after another (lax.map) to bound memory.
    """
    onehot = jax.nn.one_hot(val_domain, n_domains)  # [Nv, D]
    m = val_mask[:, 1:].astype(jnp.float32)

    def one(p):
        tl = token_losses(p, val_tokens, cfg.heads)  # [Nv, T-1]
        return (onehot.T @ jnp.sum(tl * m, 1)) / (onehot.T @ jnp.sum(m, 1))

    return jax.lax.map(one, params)


def stack_params(base: Params, runs: int) -> Params:
    """Copy base parameters R times along a new leading axis."""
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (runs,) + a.shape).copy(), base)


def init_opt(params: Params, clip: float):
    """Optimizer state for stacked params (leading [R])."""
    return jax.vmap(_optimizer(clip).init)(params)


def train_group(
    base: Params, batches: np.ndarray, eval_at: list[int], pool, val, cfg: ModelConfig, hp: Hyper
) -> np.ndarray:
    """Fine-tune R runs from `base` and record validation losses.

    batches: [R, S, B] pool row indices; eval_at: step counts (1..S) after which to evaluate;
    pool: (tokens [P, T], mask [P, T]) device arrays; val: (tokens, mask, domain) arrays.
    Returns curves [R, len(eval_at), D] of per-domain validation loss.
    """
    R, S, _ = batches.shape
    params = stack_params(base, R)
    opt = init_opt(params, hp.clip)
    lrs = lr_schedule(hp, S)
    n_domains = int(np.max(np.asarray(val[2]))) + 1
    curves, todo = [], set(eval_at)
    for s in range(S):
        params, opt, _ = train_step(
            params,
            opt,
            pool[0],
            pool[1],
            jnp.asarray(batches[:, s]),
            jnp.float32(lrs[s]),
            cfg=cfg,
            clip=hp.clip,
        )
        if s + 1 in todo:
            curves.append(evaluate(params, *val, cfg=cfg, n_domains=n_domains))
    return np.asarray(jnp.stack(curves, axis=1))
