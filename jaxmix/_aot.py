"""Ahead-of-time export cache for the CLI: skip Python tracing in every later process.

JAX's persistent compilation cache removes XLA compile time from a second process, but each
process still traces the jitted functions in Python, which dominates a cold start. When
enabled (the CLI does), :func:`call` serializes each traced function with ``jax.export``
the first time it meets a new shape, and later processes deserialize it instead of tracing.
Keys cover the shapes, dtypes, static options, the JAX version and jaxmix's own source, so a
code change never reuses a stale program. Any failure falls back to the plain call.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import jax

_DIR: Path | None = None
_LOADED: dict = {}
_REGISTERED = False


def enable(cache_dir) -> None:
    """Store exported programs under ``cache_dir`` (None disables)."""
    global _DIR
    _DIR = None if cache_dir is None else Path(cache_dir)


@functools.lru_cache(maxsize=1)
def _source_hash() -> str:
    h = hashlib.sha256(jax.__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _register() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    from jaxmix._identify import Identifiability
    from jaxmix._joint import JointFit
    from jaxmix._newton import MinimizeResult
    from jaxmix._optimize import Solution
    from jaxmix._reference import ReferenceFit
    from jaxmix._broken import BrokenParams
    from jaxmix._decide import EnsembleParams
    from jaxmix._interference import InterferenceParams
    from jaxmix._mixing import MixingParams
    from jaxmix._pairwise import PairwiseParams
    from jaxmix._transfer import TransferParams

    for cls in (
        Identifiability,
        JointFit,
        MinimizeResult,
        Solution,
        ReferenceFit,
        TransferParams,
        BrokenParams,
        EnsembleParams,
        InterferenceParams,
        MixingParams,
        PairwiseParams,
    ):
        try:
            jax.export.register_namedtuple_serialization(
                cls, serialized_name=f"jaxmix.{cls.__name__}"
            )
        except ValueError:  # already registered
            pass
    _REGISTERED = True


def _key(name: str, args, static: dict) -> str:
    leaves, tree = jax.tree.flatten(args)
    spec = [(tuple(x.shape), str(x.dtype)) for x in leaves]
    text = repr((name, str(tree), spec, sorted(static.items()), jax.config.jax_enable_x64))
    return hashlib.sha256((text + _source_hash()).encode()).hexdigest()[:24]


def call(fn, name: str, *args, **static):
    """``fn(*args, **static)``, through the export cache when it is enabled."""
    if _DIR is None:
        return fn(*args, **static)
    try:
        import flatbuffers  # noqa: F401  (jax.export serialization needs it)
    except ImportError:
        return fn(*args, **static)
    key = _key(name, args, static)
    try:
        _register()
        if key not in _LOADED:
            path = _DIR / f"{name}-{key}.jaxexport"
            if path.is_file():
                exported = jax.export.deserialize(bytearray(path.read_bytes()))
            else:
                exported = jax.export.export(jax.jit(functools.partial(fn, **static)))(*args)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(exported.serialize())
                tmp.replace(path)
            _LOADED[key] = jax.jit(exported.call)
        return _LOADED[key](*args)
    except Exception:  # noqa: BLE001  (the cache is an optimization, never a failure)
        _LOADED.pop(key, None)
        return fn(*args, **static)
