import json

import numpy as np
import pytest

import jaxmix
from jaxmix.io.pilots import parse_multipliers, parse_pilots_csv


def test_plan_design():
    t = jaxmix.plan(["if", "math", "code"], 660000)
    assert len(t.runs) == 13 and t.runs[0] == "base"
    assert np.all(t.amounts[0] == 660000)
    others = t.amounts[1:5, 1:]
    assert np.all(others == 660000)
    np.testing.assert_allclose(sorted(t.amounts[1:5, 0]), [220000, 330000, 1320000, 1980000])
    assert all(np.isnan(v).all() for v in t.losses.values())


def test_plan_fractional_base_keeps_fractions():
    t = jaxmix.plan(["a", "b"], 0.66, parse_multipliers("1/3,2"))
    np.testing.assert_allclose(t.amounts[1], [0.22, 0.66])


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_roundtrip(tmp_path, suffix):
    src = jaxmix.read_pilots(jaxmix.example_pilots("llama32_3b"))
    path = tmp_path / f"p{suffix}"
    jaxmix.write_pilots(src, path)
    back = jaxmix.read_pilots(path)
    assert back.domains == src.domains and back.runs == src.runs
    np.testing.assert_array_equal(back.amounts, src.amounts)
    np.testing.assert_array_equal(back.losses["total"], src.losses["total"])


def test_missing_losses_are_nan_and_bom_accepted():
    t = parse_pilots_csv("\ufeffrun,n:a,n:b,loss:a,loss:b\nx,1,2,0.5,\n")
    assert np.isnan(t.losses["b"][0]) and t.losses["a"][0] == 0.5


def test_seed_column_and_json_records():
    data = [
        {"n:a": 1, "n:b": 2, "loss:a": 1.5, "seed": 0},
        {"n:a": 1, "n:b": 2, "loss:a": 1.6, "seed": 1},
    ]
    t = jaxmix.io.pilots.parse_pilots_json(data)
    assert t.seeds.tolist() == [0, 1] and t.runs == ("run1", "run2")


BAD_CSV = [
    ("run,n:a,n:a,loss:a\nx,1,2,3\n", "duplicate column", 1),
    ("run,n:a,loss:a\nx,1,3\n", "at least 2 domains", 1),
    ("run,n:a,n:b\nx,1,2\n", "no loss", 1),
    ("run,n:a,n:b,loss:a\nx,1,abc,3\n", "not a number", 2),
    ("run,n:a,n:b,loss:a\nx,1,2,3\ny,1,nan,3\n", "not a finite number", 3),
    ("run,n:a,n:b,loss:a\nx,1,inf,3\n", "not a finite number", 2),
    ("run,n:a,n:b,loss:a\nx,1,-2,3\n", "amount must be >= 0", 2),
    ("run,n:a,n:b,loss:a\nx,0,0,3\n", "every amount of this run is 0", 2),
    ("run,n:a,n:b,loss:a\nx,1,2,-3\n", "loss must be > 0", 2),
    ("run,n:a,n:b,loss:a\nx,1,2\n", "cells", 2),
    ("run,n:a,n:b,loss:a\nx,1,2,3\nx,1,3,3\n", "duplicate run", 3),
    ("run,n:a,n:b,loss:a,notes\nx,1,2,3,hi\n", "unknown column", 1),
    ("run;n:a;n:b;loss:a\nx;1;2;3\n", "delimiter", 1),
    ("", "empty file", None),
    ("run,n:a,n:b,loss:a\n", "no pilot runs", None),
]


@pytest.mark.parametrize("text,message,row", BAD_CSV)
def test_bad_csv(tmp_path, text, message, row):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(jaxmix.InputError) as err:
        jaxmix.read_pilots(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert err.value.row == row
    assert "\n" not in str(err.value)


def test_bad_bytes_and_json(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("run,n:a,n:b,loss:a\nx\xe9,1,2,3\n".encode("latin-1"))
    with pytest.raises(jaxmix.InputError, match="not UTF-8"):
        jaxmix.read_pilots(p)
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(jaxmix.InputError, match="JSON list"):
        jaxmix.read_pilots(p)
    p.write_text("[{")
    with pytest.raises(jaxmix.InputError, match="invalid JSON"):
        jaxmix.read_pilots(p)


@pytest.mark.parametrize("text", ["1,0", "1/0", "x", "2,2", "-1"])
def test_bad_multipliers(text):
    with pytest.raises(jaxmix.InputError):
        parse_multipliers(text)
