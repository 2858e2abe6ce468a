"""A small byte-level decoder-only transformer as plain pytrees.

Parameters are NamedTuples of arrays; the L blocks are stacked on a leading
axis and applied with `lax.scan`, so compile time does not grow with depth.
Shapes: V = 256 byte vocabulary, T = context, d = width, L = layers.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

VOCAB = 256


class ModelConfig(NamedTuple):
    """Static architecture (hashable, used as a jit static argument)."""

    d: int = 128  # width
    layers: int = 3
    heads: int = 4
    context: int = 128  # T


class Blocks(NamedTuple):
    """Per-layer weights, each with a leading [L] axis."""

    ln1: jax.Array  # [L, d]
    qkv: jax.Array  # [L, d, 3d]
    proj: jax.Array  # [L, d, d]
    ln2: jax.Array  # [L, d]
    up: jax.Array  # [L, d, 4d]
    down: jax.Array  # [L, 4d, d]


class Params(NamedTuple):
    embed: jax.Array  # [V, d] (tied with the output layer)
    pos: jax.Array  # [T, d]
    blocks: Blocks
    ln_f: jax.Array  # [d]


def init_params(key: jax.Array, cfg: ModelConfig) -> Params:
    """Random initial parameters (scaled normal, residual outputs scaled by 1/sqrt(2L))."""
    d, L = cfg.d, cfg.layers
    k = jax.random.split(key, 6)
    std = 0.02
    res = std / (2 * L) ** 0.5

    def normal(kk, shape, s):
        return s * jax.random.normal(kk, shape, jnp.float32)

    blocks = Blocks(
        ln1=jnp.ones((L, d)),
        qkv=normal(k[0], (L, d, 3 * d), std),
        proj=normal(k[1], (L, d, d), res),
        ln2=jnp.ones((L, d)),
        up=normal(k[2], (L, d, 4 * d), std),
        down=normal(k[3], (L, 4 * d, d), res),
    )
    return Params(
        embed=normal(k[4], (VOCAB, d), std),
        pos=normal(k[5], (cfg.context, d), std),
        blocks=blocks,
        ln_f=jnp.ones((d,)),
    )


def _rms_norm(x: jax.Array, scale: jax.Array) -> jax.Array:
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + 1e-6) * scale


def _block(x: jax.Array, w: Blocks, heads: int) -> jax.Array:
    """One pre-norm block. x: [B, T, d] -> [B, T, d]."""
    B, T, d = x.shape
    h = _rms_norm(x, w.ln1) @ w.qkv  # [B, T, 3d]
    q, k, v = jnp.split(h.reshape(B, T, 3, heads, d // heads), 3, axis=2)
    q, k, v = (a[:, :, 0].transpose(0, 2, 1, 3) for a in (q, k, v))  # [B, H, T, dh]
    att = q @ k.transpose(0, 1, 3, 2) / jnp.sqrt(d / heads)  # [B, H, T, T]
    causal = jnp.tril(jnp.ones((T, T), bool))
    att = jax.nn.softmax(jnp.where(causal, att, -1e9), axis=-1)
    y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, d)
    x = x + y @ w.proj
    return x + jax.nn.gelu(_rms_norm(x, w.ln2) @ w.up) @ w.down


def logits(params: Params, tokens: jax.Array, heads: int) -> jax.Array:
    """Next-byte logits. tokens: [B, T] int32 -> [B, T, V]."""
    T = tokens.shape[1]
    x = params.embed[tokens] + params.pos[:T]

    def step(x, w):
        return _block(x, w, heads), None

    x, _ = jax.lax.scan(step, x, params.blocks)
    return _rms_norm(x, params.ln_f) @ params.embed.T


def token_losses(params: Params, tokens: jax.Array, heads: int) -> jax.Array:
    """Cross-entropy (nats) of predicting tokens[:, t+1] from tokens[:, :t+1].

    tokens: [B, T] -> [B, T-1].
    """
    lg = logits(params, tokens[:, :-1], heads)
    logp = jax.nn.log_softmax(lg, axis=-1)
    return -jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1)[..., 0]


def masked_loss(params: Params, tokens: jax.Array, mask: jax.Array, heads: int) -> jax.Array:
    """Mean loss over target positions where mask is 1.

    tokens, mask: [B, T]; mask[b, t] says whether token t is a trained target.
    Returns a scalar.
    """
    m = mask[:, 1:].astype(jnp.float32)
    return jnp.sum(token_losses(params, tokens, heads) * m) / jnp.maximum(jnp.sum(m), 1.0)
