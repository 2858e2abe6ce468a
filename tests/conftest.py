"""Tests run in float64 (the CLI's default); float32 agreement is tested explicitly."""

import json
import os
import tempfile
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)


def _share_compiled_programs() -> None:
    """One cache of traced (jaxmix's export cache) and compiled (XLA's) programs for this
    test run, shared by the xdist workers and the processes the tests start (each is its own
    process and would otherwise trace and compile every common program again). It lives in
    a fresh folder per run, so no program of an earlier checkout is reused, and the user's
    own cache is never touched."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"solo-{os.getpid()}"
    folder = Path(tempfile.gettempdir()) / f"jaxmix-tests-xla-{run}"
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    # jaxmix (imported after this) and the processes the tests start (the notebook's kernel,
    # CLI and benchmark smoke runs) share it too.
    os.environ["JAXMIX_CACHE_DIR"] = str(folder)
    os.environ.pop("JAXMIX_NO_CACHE", None)
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(folder))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")


_share_compiled_programs()

# The suite compiles about 1,300 distinct programs and runs most of them a few times, so its
# wall time is mostly XLA compiling. LLVM's expensive passes buy run time it does not need
# (test_next.py: 103 s -> 83 s without them on the 2-core CPU), and so does the backend's
# optimization level (-O0: about 40% less compile time over the suite); the answers are the
# same to the tests' tolerances. The processes the tests start inherit the flags. Users'
# programs are compiled with XLA's defaults.
SUITE_XLA_FLAGS = "--xla_llvm_disable_expensive_passes=true --xla_backend_optimization_level=0"
if SUITE_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {SUITE_XLA_FLAGS}".strip()

FIXTURE_JSON = Path(__file__).with_name("data") / "llama32_3b.json"


@pytest.fixture(scope="session")
def llama():
    """The authors' published Llama-3.2-3B pilots, parameters and weights."""
    return json.loads(FIXTURE_JSON.read_text())
