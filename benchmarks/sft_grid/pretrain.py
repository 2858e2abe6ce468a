"""The base model: brief pretraining on general text, cached on disk by config hash.

The cache key hashes the model config, the pretraining settings and the corpus
content, so a changed installation or config trains a new base model.
Cache directory: $JAXMIX_SFT_CACHE or ~/.cache/jaxmix-sft-grid/.
"""

import hashlib
import json
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .data_pretrain import corpus_digest, pretrain_corpus
from .model import Params, init_params
from .train import Hyper, init_opt, lr_schedule, stack_params, train_step


def cache_dir() -> Path:
    return Path(os.environ.get("JAXMIX_SFT_CACHE", Path.home() / ".cache" / "jaxmix-sft-grid"))


def _key(cfg, digest: str) -> str:
    blob = json.dumps(
        [
            cfg.model._asdict(),
            cfg.pretrain_steps,
            cfg.pretrain_batch,
            cfg.pretrain_lr,
            cfg.corpus_bytes,
            digest,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def pretrain(cfg, corpus: bytes, seed: int = 0) -> tuple[Params, float]:
    """Train from scratch on random T-byte windows of corpus. Returns (params, last loss)."""
    T, B, S = cfg.model.context, cfg.pretrain_batch, cfg.pretrain_steps
    rng = np.random.default_rng(seed)
    arr = np.frombuffer(corpus, np.uint8)
    starts = rng.integers(0, len(arr) - T, size=S * B)
    pool = jnp.asarray(arr[starts[:, None] + np.arange(T)].astype(np.int32))  # [S*B, T]
    mask = jnp.ones(pool.shape, jnp.int8)
    hp = Hyper(lr=cfg.pretrain_lr, warmup=0.05, final=0.1, batch=B, clip=1.0)
    params = stack_params(init_params(jax.random.PRNGKey(seed), cfg.model), 1)
    opt = init_opt(params, hp.clip)
    losses = []
    for s, lr in enumerate(lr_schedule(hp, S)):
        idx = jnp.arange(s * B, (s + 1) * B)[None]
        params, opt, loss = train_step(
            params, opt, pool, mask, idx, jnp.float32(lr), cfg=cfg.model, clip=hp.clip
        )
        losses.append(loss)
    last = float(np.mean(np.asarray(jnp.stack(losses[-20:]))))
    return jax.tree.map(lambda a: a[0], params), last


def load_or_pretrain(cfg, log=print) -> tuple[Params, dict]:
    """Base parameters, from the cache when present. Returns (params, info)."""
    t0 = time.time()
    corpus = pretrain_corpus(cfg.corpus_bytes)
    key = _key(cfg, corpus_digest(corpus))
    path = cache_dir() / f"base-{key}.npz"
    template = init_params(jax.random.PRNGKey(0), cfg.model)
    treedef = jax.tree.structure(template)
    info = {"cache_key": key, "corpus_bytes": len(corpus), "steps": cfg.pretrain_steps}
    if path.exists():
        with np.load(path) as z:
            leaves = [jnp.asarray(z[f"a{i}"]) for i in range(treedef.num_leaves)]
            info.update(cached=True, final_train_loss=float(z["loss"]))
        params = jax.tree.unflatten(treedef, leaves)
    else:
        log(f"pretraining base model ({cfg.pretrain_steps} steps) -> {path}")
        params, loss = pretrain(cfg, corpus)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            loss=loss,
            **{f"a{i}": np.asarray(a) for i, a in enumerate(jax.tree.leaves(params))},
        )
        os.replace(tmp, path)
        info.update(cached=False, final_train_loss=loss)
    info["seconds"] = time.time() - t0
    return params, info
