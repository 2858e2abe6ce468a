"""Run a batched (vmapped) function over a leading batch axis sharded across all devices.

The batch is cut into equal chunks (the last one padded by repeating its final problem), so
every call has one shape and nothing recompiles; a batch smaller than a chunk is padded to
a bucket (:func:`chunk_bucket`), so nearby batch sizes (100 or 120 resamples) share one
program; each chunk is placed with a ``NamedSharding``
over a one-axis device mesh, so the same code runs on one CPU, a GPU, a TPU slice, or many
forced host devices. With several processes (``jax.distributed``) every process holds the
same inputs, builds its shards from them, and gathers the whole result.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def chunk_bucket(b: int) -> int:
    """Padded size of a batch of ``b`` problems: a power of two up to 64, else a multiple
    of 64 (at most 1/8 of a big batch is padding, and a vmapped loop runs to its slowest
    member anyway).

    >>> [chunk_bucket(b) for b in (1, 5, 100, 128, 200, 1000)]
    [1, 8, 128, 128, 256, 1024]
    """
    if b <= 64:
        return 1 << max(b - 1, 0).bit_length()
    return 64 * -(-b // 64)


def chunk_size(total: int, chunk: int | None = None, shard: bool = True) -> int:
    """Problems per call of :func:`map_batched` for a batch of ``total``: ``chunk``, or
    the batch's bucket when it is smaller, rounded up to a multiple of the device count."""
    devices = jax.device_count() if shard else 1
    size = chunk_bucket(total) if chunk is None or total < chunk else chunk
    return -(-size // devices) * devices


def batch_sharding() -> NamedSharding:
    """Sharding of a leading ``batch`` axis over every device of every process."""
    mesh = Mesh(np.asarray(jax.devices()), ("batch",))
    return NamedSharding(mesh, PartitionSpec("batch"))


def _put(x: np.ndarray, sharding: NamedSharding):
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def _get(x):
    if jax.process_count() == 1:
        return np.asarray(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def map_batched(
    fn: Callable,
    batch,
    chunk: int | None = None,
    progress: Callable | None = None,
    shard: bool = True,
):
    """``fn(batch)`` for a jitted, vmapped ``fn``; ``batch`` is a pytree of ``[B, ...]``.

    Args:
      fn: maps a pytree with leading axis ``[C, ...]`` to outputs with leading ``[C, ...]``.
      batch: inputs (numpy or JAX arrays), all with the same leading size B.
      chunk: problems per call (rounded up to a multiple of the device count); all of B,
        padded to :func:`chunk_bucket`, when None or larger than B.
      progress: called as ``progress(done, total)`` after each chunk.
      shard: place chunks across devices (False: default device only).

    Returns:
      ``fn``'s outputs for all B problems, as numpy arrays.
    """
    leaves, tree = jax.tree.flatten(batch)
    leaves = [np.asarray(x) for x in leaves]
    total = leaves[0].shape[0]
    size = chunk_size(total, chunk, shard)
    sharding = batch_sharding() if shard else None
    outputs = []
    for start in range(0, total, size):
        stop = min(start + size, total)
        pad = size - (stop - start)
        part = [np.concatenate([x[start:stop]] + [x[stop - 1 : stop]] * pad) for x in leaves]
        if sharding is not None:
            part = [_put(x, sharding) for x in part]
        out = fn(jax.tree.unflatten(tree, part))
        outputs.append(jax.tree.map(lambda y, n=stop - start: _get(y)[:n], out))
        if progress is not None:
            progress(stop, total)
    return jax.tree.map(lambda *xs: np.concatenate(xs), *outputs)
