"""At run time a lower layer calls a higher one only through a function it was handed."""

import functools
from pathlib import Path

from layers import Crossings, _holds

import jaxmix
import jaxmix.io.pilots
import jaxmix.table
from jaxmix.cli.main import main

ROOT = Path(jaxmix.__file__).parent


def test_run_and_its_bootstrap_climb_no_layer_by_name(tmp_path):
    crossings = Crossings(ROOT)
    args = ["-q", "run", str(jaxmix.example_pilots("sft")), "--bootstrap", "16"]
    assert crossings.trace(main, args + ["-o", str(tmp_path / "m.json")]) == 0
    assert crossings.calls > 1000  # the tracer saw the command
    assert dict(crossings.by_name) == {}, crossings.table()


def test_the_tracer_tells_a_handed_function_from_a_call_by_name(monkeypatch):
    def objective(x):
        return x

    wrapped = functools.partial(lambda f, x: f(x), objective)
    assert _holds(objective, objective.__code__) and _holds(wrapped, objective.__code__)
    assert not _holds(len, objective.__code__) and not _holds(wrapped, _holds.__code__)
    # the table layer calling the file layer by a global name is caught
    monkeypatch.setattr(jaxmix.table, "_multiplier_name", jaxmix.io.pilots._format_amount)
    crossings = Crossings(ROOT)
    crossings.trace(jaxmix.plan, ["a", "b"], 1.0)
    assert crossings.calls >= 9 and not crossings.handed
    assert crossings.by_name == {("jaxmix.table.plan", "jaxmix.io.pilots._format_amount"): 8}
