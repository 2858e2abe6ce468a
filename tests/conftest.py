"""Tests run in float64 (the CLI's default); float32 agreement is tested explicitly."""

import json
import os
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)
os.environ.setdefault("JAXMIX_NO_CACHE", "1")  # in-process CLI calls leave the cache alone

FIXTURE_JSON = Path(__file__).with_name("data") / "llama32_3b.json"


@pytest.fixture(scope="session")
def llama():
    """The authors' published Llama-3.2-3B pilots, parameters and weights."""
    return json.loads(FIXTURE_JSON.read_text())
