import json

import numpy as np
import pytest

from jaxmix.cli.main import main
from jaxmix.io.export import largest_remainder, probabilities

MIX = {"budget": 1000.5, "weights": {"code": 0.2225, "math": 0.4587, "prose": 0.3188}}


@pytest.mark.parametrize("seed", range(5))
def test_largest_remainder_sums_and_stays_close(seed):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(6))
    total = int(rng.integers(1, 10_000))
    counts = largest_remainder(w, total)
    assert counts.sum() == total and np.all(counts >= 0)
    assert np.all(np.abs(counts - w * total) < 1)


def test_probabilities_sum_to_one_exactly():
    p = probabilities([1 / 3, 1 / 3, 1 / 3])
    assert sum(round(x * 10**6) for x in p) == 10**6


def _export(tmp_path, capsys, fmt, *extra):
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps(MIX))
    out = tmp_path / f"out.{fmt}"
    assert main(["export", str(mix), "--to", fmt, "-o", str(out), *map(str, extra)]) == 0
    return out.read_text()


def _simple_yaml(text):
    """The flat YAML jaxmix writes: 'key: value' lines and one indented mapping."""
    data, current = {}, None
    for line in text.splitlines():
        key, _, value = (
            line.strip().partition(": ") if ": " in line else (line.strip()[:-1], "", "")
        )
        key = json.loads(key) if key.startswith('"') else key
        if line.startswith("  "):
            data[current][key] = float(value)
        elif not value:
            current, data[key] = key, {}
        else:
            data[key] = value
    return data


def test_counts_roundtrip(tmp_path, capsys):
    data = json.loads(_export(tmp_path, capsys, "counts", "--available", "prose=300"))
    counts = {d: r["count"] for d, r in data["domains"].items()}
    assert sum(counts.values()) == data["budget"] == 1000
    assert data["domains"]["prose"]["epochs"] == pytest.approx(counts["prose"] / 300)
    for d, w in MIX["weights"].items():
        assert abs(counts[d] - w * 1000) < 1


def test_hf_roundtrip(tmp_path, capsys):
    data = json.loads(_export(tmp_path, capsys, "hf"))
    assert data["datasets"] == list(MIX["weights"])
    assert sum(data["probabilities"]) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(data["probabilities"], list(MIX["weights"].values()), atol=1e-6)


def test_llama_factory_roundtrip(tmp_path, capsys):
    data = _simple_yaml(_export(tmp_path, capsys, "llama-factory"))
    assert data["dataset"].split(",") == list(MIX["weights"])
    probs = [float(x) for x in data["interleave_probs"].split(",")]
    np.testing.assert_allclose(probs, list(MIX["weights"].values()), atol=1e-6)
    assert data["mix_strategy"] == "interleave_under"


SIZES = {"code": 50, "math": 100_000, "prose": 333}  # datasets far from the mixture's sizes


def test_hf_mix_trains_the_recommended_proportions(tmp_path, capsys):
    # datasets.interleave_datasets (documented): each example comes from a source drawn with
    # `probabilities`; with "all_exhausted" a source that runs out starts over. The first
    # num_examples of that stream then hold the recommended proportions, whatever the sizes.
    data = json.loads(_export(tmp_path, capsys, "hf"))
    assert data["stopping_strategy"] == "all_exhausted" and data["num_examples"] == 1000
    rng = np.random.default_rng(0)
    draws = rng.choice(len(data["datasets"]), size=200_000, p=data["probabilities"])
    share = np.bincount(draws, minlength=len(data["datasets"])) / draws.size
    np.testing.assert_allclose(share, [MIX["weights"][d] for d in data["datasets"]], atol=5e-3)


def test_open_instruct_mix_trains_the_recommended_proportions(tmp_path, capsys):
    text = _export(tmp_path, capsys, "open-instruct", "--examples", 5000)
    lines = [x.strip()[2:] for x in text.splitlines()[1:]]
    assert text.startswith("dataset_mixer_list:\n")
    names, values = [json.loads(x) for x in lines[::2]], [json.loads(x) for x in lines[1::2]]
    assert names == list(MIX["weights"])

    def trained(value: str, size: int) -> int:
        # open-instruct reads each value as a string: with a '.' a fraction of that dataset,
        # without one a number of samples (a smaller dataset is repeated to reach it).
        return int(float(value) * size) if "." in value else int(value)

    taken = {d: trained(v, SIZES[d]) for d, v in zip(names, values)}
    assert sum(taken.values()) == 5000
    for d, w in MIX["weights"].items():
        assert abs(taken[d] / 5000 - w) <= 1 / 5000


def test_example_counts_need_a_count(tmp_path, capsys):
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps({"budget": 20, "weights": {"a": 0.5, "b": 0.5}}))
    for fmt in ("hf", "open-instruct"):
        assert main(["export", str(mix), "--to", fmt]) == 2
        err = capsys.readouterr().err
        assert "--examples" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "content,message",
    [
        ({"budget": 10, "weights": {"a": 0.7, "b": 0.7}}, "sum to"),
        ({"budget": -1, "weights": {"a": 0.5, "b": 0.5}}, "budget"),
        ({"budget": 10, "weights": {"a": "x", "b": 0.5}}, "weights.a"),
        ({"budget": 10}, "'weights'"),
    ],
)
def test_bad_mixture_files(tmp_path, capsys, content, message):
    mix = tmp_path / "mix.json"
    mix.write_text(json.dumps(content))
    out = tmp_path / "o.json"
    assert main(["export", str(mix), "--to", "hf", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()
