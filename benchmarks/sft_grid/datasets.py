"""Assemble the fine-tuning domains: deterministic split into validation and train pools.

Each domain's pairs are shuffled with a fixed seed; the first n_val are the
held-out validation set, the next ones the training pool. A run that uses m
examples of a domain takes the first m of its pool (nested subsets).
"""

from typing import NamedTuple

import numpy as np

from .data_arith import arith_pairs
from .data_code import code_pairs, stdlib_files
from .data_prose import prose_pairs
from .tokens import encode_pairs

DOMAINS = ("code", "arith", "prose")


class Pools(NamedTuple):
    """Training pool and validation set of all domains, concatenated."""

    train_tokens: np.ndarray  # [P, T] int32
    train_mask: np.ndarray  # [P, T] int8
    offsets: np.ndarray  # [K] first pool row of each domain
    sizes: np.ndarray  # [K] pool rows of each domain
    val_tokens: np.ndarray  # [K * n_val, T]
    val_mask: np.ndarray  # [K * n_val, T]
    val_domain: np.ndarray  # [K * n_val] int32
    stats: dict  # per-domain source sizes (for the report)


def _raw_pairs(name: str, need: int, code_files: int):
    if name == "code":
        return code_pairs(stdlib_files()[:code_files] if code_files else None)
    if name == "arith":
        return arith_pairs(need, seed=0)
    return prose_pairs()


def build_pools(cfg, cap: int, need: int) -> Pools:
    """Encode every domain. Each training pool holds min(available, cap) examples (>= need)."""
    T, rows_t, rows_m, val_t, val_m, val_d, offsets, sizes, stats = (
        cfg.model.context,
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        {},
    )
    start = 0
    for k, name in enumerate(DOMAINS):
        pairs = _raw_pairs(name, cfg.n_val + cap, cfg.code_files)
        train_need = min(cap, len(pairs) - cfg.n_val)
        order = np.random.default_rng(1000 + k).permutation(len(pairs))
        pairs = [pairs[i] for i in order]
        if train_need < need:
            raise ValueError(f"domain {name}: {len(pairs)} pairs < {cfg.n_val + need} needed")
        vt, vm = encode_pairs(pairs[: cfg.n_val], T, cfg.max_prompt)
        tt, tm = encode_pairs(pairs[cfg.n_val : cfg.n_val + train_need], T, cfg.max_prompt)
        val_t.append(vt), val_m.append(vm), val_d.append(np.full(cfg.n_val, k, np.int32))
        rows_t.append(tt), rows_m.append(tm)
        offsets.append(start), sizes.append(train_need)
        start += train_need
        stats[name] = {
            "pairs_available": len(pairs),
            "train_pool": train_need,
            "val": cfg.n_val,
            "mean_response_bytes_in_context": float(tm.sum(1).mean()),
            "mean_pair_bytes": float(np.mean([len(i) + len(r) for i, r in pairs])),
        }
    return Pools(
        np.concatenate(rows_t),
        np.concatenate(rows_m),
        np.array(offsets),
        np.array(sizes),
        np.concatenate(val_t),
        np.concatenate(val_m),
        np.concatenate(val_d),
        stats,
    )
