"""Ahead-of-time export cache for the CLI: skip Python tracing in every later process.

JAX's persistent compilation cache removes XLA compile time from a second process, but each
process still traces the jitted functions in Python, which dominates a cold start. When
enabled (the CLI does), :func:`call` serializes each traced function with ``jax.export``
the first time it meets a new shape, and later processes deserialize it instead of tracing.
Keys cover the shapes, dtypes, static options, the backend platform, the JAX version,
jaxmix's own source and the code of the law a program runs with the globals and closure
values it reads (:func:`law_fingerprint`, for a user-registered law too), so a code change or
another accelerator never reuses a stale program. :func:`prepare` compiles a program on a
background thread while the next one is traced.
Every NamedTuple of jaxmix (each law's parameters included) is registered for
serialization. Any failure falls back to the plain call.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import os
import re
import threading
import types
from pathlib import Path

import jax
import numpy as np

from jaxmix.laws.ensemble import is_ensemble, member_names
from jaxmix.laws.registry import changes as registry_changes
from jaxmix.laws.registry import get_law, registered_laws

_DIR: Path | None = None
_LOADED: dict = {}  # key -> a jitted program, a compiled one, or a compile in progress
_REGISTERED = False
_POOL = None


def enable(cache_dir) -> None:
    """Store exported programs under ``cache_dir`` (None disables)."""
    global _DIR
    _DIR = None if cache_dir is None else Path(cache_dir)


@functools.lru_cache(maxsize=1)
def _source_hash() -> str:
    h = hashlib.sha256(jax.__version__.encode())
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def enabled() -> bool:
    """Whether exported programs are stored (see :func:`enable`)."""
    return _DIR is not None


def forget() -> None:
    """Drop the programs loaded in this process (a registered law changed)."""
    _LOADED.clear()
    _FINGERPRINTS.clear()


def _stable_repr(value) -> str:
    """``repr(value)`` without memory addresses, which differ from process to process."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


# Libraries whose code the JAX version (in every key) already pins: not followed.
_PINNED = ("jax", "jaxlib", "numpy", "optax", "chex", "scipy", "builtins", "math", "functools")


def _digest_value(value, h, seen: set, depth: int = 0) -> None:
    """Feed into ``h`` what a law's computation depends on: a function's bytecode, names
    and constants, its closure values and the globals it uses by name (followed into
    functions of jaxmix and of the user's modules, not into pinned libraries), arrays by
    their bytes, containers by their items (sets sorted). Stable from process to process:
    no ``marshal`` (its bytes depend on reference counts), no memory addresses, no hash
    order."""
    if depth > 12 or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, types.ModuleType):
        h.update(f"module {value.__name__}".encode())
    elif isinstance(value, type):
        h.update(f"type {value.__module__}.{value.__qualname__}".encode())
    elif isinstance(value, functools.partial):
        for part in (value.func, value.args, value.keywords):
            _digest_value(part, h, seen, depth + 1)
    elif callable(value) and not hasattr(value, "__code__"):
        inner = getattr(value, "__wrapped__", None)  # a jitted or decorated function
        if inner is not None:
            _digest_value(inner, h, seen, depth + 1)
        else:
            h.update(f"{type(value).__qualname__} {getattr(value, '__qualname__', '')}".encode())
    elif hasattr(value, "__code__"):
        _digest_function(value, h, seen, depth)
    elif isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array__"):
        a = np.asarray(value)
        h.update(f"array {a.dtype} {a.shape}".encode() + a.tobytes())
    elif isinstance(value, (tuple, list)):
        h.update(f"{type(value).__name__} {len(value)}".encode())
        for item in value:
            _digest_value(item, h, seen, depth + 1)
    elif isinstance(value, dict):
        h.update(f"dict {len(value)}".encode())
        for k in sorted(value, key=_stable_repr):
            _digest_value(k, h, seen, depth + 1)
            _digest_value(value[k], h, seen, depth + 1)
    elif isinstance(value, (set, frozenset)):
        h.update(b"set")
        for item in sorted(value, key=_stable_repr):
            _digest_value(item, h, seen, depth + 1)
    else:
        h.update(_stable_repr(value).encode())


def _digest_function(fn, h, seen: set, depth: int) -> None:
    module = getattr(fn, "__module__", "") or ""
    h.update(f"function {module}.{getattr(fn, '__qualname__', '')}".encode())
    if module.split(".")[0] in _PINNED:
        return
    names: list = []
    _digest_code_object(fn.__code__, h, seen, names)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            _digest_value(cell.cell_contents, h, seen, depth + 1)
        except ValueError:  # an empty cell
            pass
    found = getattr(fn, "__globals__", {})
    for name in sorted(set(names)):
        if name in found:
            h.update(name.encode())
            _digest_value(found[name], h, seen, depth + 1)


def _digest_code_object(code, h, seen: set, names: list) -> None:
    """Feed a code object's bytecode, names and constants (nested code too) into ``h``;
    the global names it may read are added to ``names``."""
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    names.extend(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            _digest_code_object(const, h, seen, names)
        else:
            _digest_value(const, h, seen)


_FINGERPRINTS: dict = {}


def law_fingerprint(name: str) -> str:
    """A digest of the code of the registered law ``name`` (a combination: of its members),
    and of the globals and closure values it uses: changes whenever any of them does, so a
    changed law gets new programs (a law re-registered in this process is digested again).

    >>> law_fingerprint("transfer") == law_fingerprint("transfer")
    True
    """
    laws = tuple(get_law(m) for m in (member_names(name) if is_ensemble(name) else (name,)))
    key = (name, tuple(id(law) for law in laws), registry_changes())
    if key not in _FINGERPRINTS:
        h = hashlib.sha256(name.encode())
        seen: set = set()
        for law in laws:
            for field in law._fields:
                h.update(field.encode())
                _digest_value(getattr(law, field), h, seen)
        _FINGERPRINTS[key] = (laws, h.hexdigest()[:16])  # (the laws keep their ids unique)
    return _FINGERPRINTS[key][1]


def namedtuple_classes() -> list[type]:
    """Every NamedTuple class defined in a loaded jaxmix module or in the module of a
    registered law (each law's parameters, every solver state and result): what an exported
    program's pytrees may hold.

    Importing any jaxmix module runs ``jaxmix/__init__.py``, which loads every module of the
    API (the fits, the solvers, the laws), so they are all loaded before a first :func:`call`.
    """
    import sys

    names = {m for m in list(sys.modules) if m == "jaxmix" or m.startswith("jaxmix.")}
    names |= {law.loss.__module__ for law in registered_laws()}
    out = []
    for name in sorted(names):
        module = sys.modules.get(name)
        for obj in list(vars(module).values()) if module is not None else ():
            if (
                isinstance(obj, type)
                and issubclass(obj, tuple)
                and hasattr(obj, "_fields")
                and obj.__module__ == module.__name__
            ):
                out.append(obj)
    return out


def _register() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    for cls in namedtuple_classes():
        try:
            jax.export.register_namedtuple_serialization(
                cls, serialized_name=f"jaxmix.{cls.__name__}"
            )
        except ValueError:  # already registered
            pass
    _REGISTERED = True


def _key(name: str, args, static: dict) -> str:
    """Cache key: the function, argument shapes and dtypes, static options, precision, the
    backend platform and device count (an exported program is lowered for one platform), the
    JAX version, jaxmix's source and the code of the law (``law_name``) it runs."""
    leaves, tree = jax.tree.flatten(args)
    spec = [(tuple(x.shape), str(x.dtype)) for x in leaves]
    where = (
        jax.default_backend(),
        jax.device_count(),
        jax.__version__,
        jax.config.jax_threefry_partitionable,
        jax.config.jax_default_matmul_precision,
    )
    law = static.get("law_name")
    code = law_fingerprint(law) if isinstance(law, str) else ""
    text = repr(
        (name, str(tree), spec, sorted(static.items()), jax.config.jax_enable_x64, where, code)
    )
    return hashlib.sha256((text + _source_hash()).encode()).hexdigest()[:24]


def _exporting() -> bool:
    if _DIR is None:
        return False
    try:
        import flatbuffers  # noqa: F401  (jax.export serialization needs it)
    except ImportError:
        return False
    return True


def _exported(fn, name: str, key: str, args, static):
    """``fn``'s program for ``args``, read from the export cache or traced and written."""
    _register()
    path = _DIR / f"{name}-{key}.jaxexport"
    if path.is_file():
        exported = jax.export.deserialize(bytearray(path.read_bytes()))
    else:
        exported = jax.export.export(jax.jit(functools.partial(fn, **static)))(*args)
        tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")  # one writer
        tmp.write_bytes(exported.serialize())
        tmp.replace(path)
    return jax.jit(exported.call)


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jaxmix-compile")
    return _POOL


def prepare(fn, name: str, *args, **static) -> None:
    """Trace ``fn(*args, **static)`` now and compile it in a background thread (XLA
    releases the GIL), so that the next program is traced while this one compiles; the
    :func:`call` with the same shapes waits for it. ``fn`` is jitted with ``static`` as its
    static arguments. A failure here only means the call compiles as usual. With several
    devices nothing is prepared: the batched calls place their inputs across devices, and
    a program traced for one would go unused."""
    if jax.device_count() > 1:
        return
    try:
        key = _key(name, args, static)
    except Exception:  # noqa: BLE001  (e.g. a law that cannot be digested: no cache)
        return
    if key in _LOADED:
        return
    try:
        if _exporting():
            lowered = _exported(fn, name, key, args, static).trace(*args).lower()
        else:
            lowered = fn.trace(*args, **static).lower()
        _LOADED[key] = _pool().submit(lowered.compile)
    except Exception:  # noqa: BLE001  (an optimization, never a failure)
        _LOADED.pop(key, None)


def call(fn, name: str, *args, **static):
    """``fn(*args, **static)``: the program :func:`prepare` compiled, else through the export
    cache when it is enabled, else ``fn`` itself."""
    try:
        key = _key(name, args, static)
    except Exception:  # noqa: BLE001  (e.g. a law that cannot be digested: no cache)
        return fn(*args, **static)
    entry = _LOADED.get(key)
    if isinstance(entry, concurrent.futures.Future):
        try:
            entry = _LOADED[key] = entry.result()
            return entry(*args)
        except Exception:  # noqa: BLE001  (e.g. inputs placed otherwise: the usual way)
            entry = _LOADED.pop(key, None) and None
    if entry is None and not _exporting():
        return fn(*args, **static)
    try:
        if entry is None:
            entry = _LOADED[key] = _exported(fn, name, key, args, static)
        return entry(*args)
    except Exception:  # noqa: BLE001  (the cache is an optimization, never a failure)
        _LOADED.pop(key, None)
        return fn(*args, **static)
