"""Every docstring example in the package runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import jaxmix

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(jaxmix.__path__, "jaxmix.")
    if m.name not in ("jaxmix.__main__",)
)


@pytest.mark.parametrize("name", ["jaxmix"] + MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
