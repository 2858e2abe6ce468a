"""Persistent compilation caches, for the CLI and for library users (notebooks included).

jaxmix's arithmetic is fast and its compiles are not: a new process would trace and compile
every program again. :func:`enable_caches` keeps two caches in one folder,
``~/.cache/jaxmix/xla`` (``JAXMIX_CACHE_DIR`` moves it):

- JAX's persistent compilation cache (XLA executables), unless the user already set
  ``jax_compilation_cache_dir`` (theirs is kept);
- jaxmix's export cache of traced programs (:mod:`jaxmix.aot`), which skips Python tracing.

``import jaxmix`` calls it, and so does the CLI; ``JAXMIX_NO_CACHE=1`` turns both off before
the import, :func:`disable_caches` after it. Precision (``jax_enable_x64``) is never touched:
programs of either precision are cached apart.

>>> import os, jaxmix.cache
>>> folder = jaxmix.cache.cache_folder()
>>> str(folder) == os.environ.get("JAXMIX_CACHE_DIR", str(folder)) and folder.is_absolute()
True
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

from jaxmix import aot


def cache_folder() -> Path:
    """The cache folder: ``$JAXMIX_CACHE_DIR``, else ``~/.cache/jaxmix/xla``."""
    given = os.environ.get("JAXMIX_CACHE_DIR")
    return Path(given) if given else Path.home() / ".cache" / "jaxmix" / "xla"


def enable_caches(folder=None) -> Path | None:
    """Store compiled and traced programs under ``folder`` (default :func:`cache_folder`);
    returns it, or None when ``JAXMIX_NO_CACHE`` is set or the folder cannot be made (a
    read-only home: everything still works, uncached)."""
    if os.environ.get("JAXMIX_NO_CACHE"):
        return None
    folder = cache_folder() if folder is None else Path(folder)
    try:
        (folder / "export").mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if jax.config.jax_compilation_cache_dir in (None, "", str(folder)):
        jax.config.update("jax_compilation_cache_dir", str(folder))
        # jaxmix's programs are many and small: keep every one, not only those > 1 s.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    aot.enable(folder / "export")
    return folder


def disable_caches() -> None:
    """Stop storing traced programs (the export cache) from now on in this process. JAX's
    own compilation cache stays as configured: set ``jax_compilation_cache_dir`` to None
    to turn it off as well."""
    aot.enable(None)
