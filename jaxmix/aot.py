"""Ahead-of-time export cache for the CLI: skip Python tracing in every later process.

JAX's persistent compilation cache removes XLA compile time from a second process, but each
process still traces the jitted functions in Python, which dominates a cold start. When
enabled (the CLI does), :func:`call` serializes each traced function with ``jax.export``
the first time it meets a new shape, and later processes deserialize it instead of tracing.
Keys cover the shapes, dtypes, static options, the backend platform, the JAX version,
jaxmix's own source and the code of the law a program runs (:func:`law_fingerprint`, for a
user-registered law too), so a code change or another accelerator never reuses a stale
program.
Every NamedTuple of jaxmix (each law's parameters included) is registered for
serialization. Any failure falls back to the plain call.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import inspect
import re
from pathlib import Path

import jax

from jaxmix.laws.ensemble import is_ensemble, member_names
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


def _digest_code_object(code, h) -> None:
    """Feed a code object's bytecode, names and constants (nested code too) into ``h``
    (``marshal`` output is not stable: it depends on reference counts)."""
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            _digest_code_object(const, h)
        else:
            h.update(_stable_repr(const).encode())


def _code_digest(fn, h, depth: int = 0) -> None:
    """Feed ``fn``'s code into ``h``: its bytecode, constants and names (nested functions
    included), closure values, a ``functools.partial``'s arguments, and the source file of
    a module outside jaxmix (whose helpers the code calls by name)."""
    if depth > 4:
        return
    if isinstance(fn, functools.partial):
        h.update(repr((fn.args, sorted(fn.keywords.items()))).encode())
        _code_digest(fn.func, h, depth + 1)
        return
    code = getattr(fn, "__code__", None)
    if code is None:
        inner = getattr(fn, "__wrapped__", None)  # a jitted or decorated function
        if inner is not None:
            _code_digest(inner, h, depth + 1)
        else:
            h.update(_stable_repr(fn).encode())
        return
    _digest_code_object(code, h)
    for cell in getattr(fn, "__closure__", None) or ():
        value = cell.cell_contents
        if callable(value):
            _code_digest(value, h, depth + 1)
        else:
            h.update(_stable_repr(value).encode()[:10000])
    module = getattr(fn, "__module__", "") or ""
    if module != "jaxmix" and not module.startswith("jaxmix."):
        try:
            h.update(Path(inspect.getsourcefile(fn)).read_bytes())
        except (TypeError, OSError):
            pass  # a function typed at a prompt: its bytecode above is all there is


_FINGERPRINTS: dict = {}


def law_fingerprint(name: str) -> str:
    """A digest of the code of the registered law ``name`` (a combination: of its members):
    changes whenever the law's functions do, so a re-registered law gets new programs.

    >>> law_fingerprint("transfer") == law_fingerprint("transfer")
    True
    """
    laws = tuple(get_law(m) for m in (member_names(name) if is_ensemble(name) else (name,)))
    key = (name, laws)
    if key not in _FINGERPRINTS:
        _FINGERPRINTS[key] = _digest_laws(name, laws)
    return _FINGERPRINTS[key]


def _digest_laws(name: str, laws) -> str:
    h = hashlib.sha256(name.encode())
    for law in laws:
        for field in law._fields:
            value = getattr(law, field)
            if callable(value):
                _code_digest(value, h)
            else:
                h.update(_stable_repr((field, value)).encode())
    return h.hexdigest()[:16]


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
    where = (jax.default_backend(), jax.device_count(), jax.__version__)
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
        tmp = path.with_suffix(".tmp")
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
    static arguments. A failure here only means the call compiles as usual."""
    key = _key(name, args, static)
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
    key = _key(name, args, static)
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
