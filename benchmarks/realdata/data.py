"""Loaders for the public tables in ``../shared/realdata`` (see each folder's SOURCE.md)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------
# RegMix (Liu et al. 2024)


class RegMixSplit(NamedTuple):
    """One split of the RegMix sweep.

    Attributes:
      weights: ``[R, 17]`` mixture weights (as published, rows sum to 0.996-1.003).
      total: training tokens of every run in the split.
      losses: ``[R, 13]`` validation losses, columns in ``loss_domains`` order.
    """

    weights: np.ndarray
    total: float
    losses: np.ndarray


class RegMix(NamedTuple):
    train_domains: tuple
    loss_domains: tuple
    splits: dict  # name -> RegMixSplit


def load_regmix(root: Path) -> RegMix:
    rows = _rows(root / "regmix" / "regmix_joined.csv")
    header = list(rows[0])
    train_domains = tuple(h[2:] for h in header if h.startswith("w_"))
    loss_domains = tuple(h[5:] for h in header if h.startswith("loss_"))
    groups = defaultdict(list)
    for r in rows:
        groups[f"{r['split']}-{r['model']}"].append(r)
    splits = {}
    for name, rs in groups.items():
        rs.sort(key=lambda r: int(r["run_index"]))
        totals = {float(r["approx_total_train_tokens"]) for r in rs}
        assert len(totals) == 1, name
        splits[name] = RegMixSplit(
            weights=np.array([[float(r[f"w_{d}"]) for d in train_domains] for r in rs]),
            total=totals.pop(),
            losses=np.array([[float(r[f"loss_{d}"]) for d in loss_domains] for r in rs]),
        )
    return RegMix(train_domains, loss_domains, splits)


# ---------------------------------------------------------------------------------------------
# Data Mixing Laws (Ye et al. 2024)

FIVE_GROUPS = {  # the 5Mix coarse domains in proportion order (mixinglaws/SOURCE.md)
    "academic": (
        "ArXiv",
        "PubMed_Abstracts",
        "PhilPapers",
        "NIH_ExPorter",
        "FreeLaw",
        "USPTO_Backgrounds",
        "PubMed_Central",
    ),
    "prose": ("PG19", "Books3", "BookCorpus2"),
    "dialogue": (
        "Ubuntu_IRC",
        "OpenSubtitles",
        "EuroParl",
        "Enron_Emails",
        "HackerNews",
        "YoutubeSubtitles",
    ),
    "symbolic": ("DM_Mathematics", "Github"),
    "internet": ("Pile-CC", "OpenWebText2", "StackExchange", "Wikipedia_en"),
}


class MixRuns(NamedTuple):
    """Checkpoints of mixture runs of one model size.

    Attributes:
      mixture: ``[R]`` mixture label (proportions joined by '-').
      step: ``[R]`` optimizer step.
      weights: ``[R, K]`` training proportions.
      tokens: ``[R]`` total training tokens at the checkpoint (step x 1,048,576).
      losses: ``[R, K]`` validation loss of each training domain (5Mix: valid_weight average
        of the coarse domain's Pile subdomains).
      objective_weights: ``[K]`` weights of the domain losses in the selection objective:
        for 5Mix each coarse domain's share of ``valid_weight`` (so the objective is the
        authors' valid_weight average over all 22 subdomains), for 2Mix one half each.
    """

    mixture: np.ndarray
    step: np.ndarray
    weights: np.ndarray
    tokens: np.ndarray
    losses: np.ndarray
    objective_weights: np.ndarray


def load_mixinglaws(root: Path, name: str, steps: tuple[int, int]) -> tuple[tuple, dict]:
    """``(domains, {model_size: MixRuns})`` for ``name`` in ("2Mix", "5Mix"), run ids < 900
    only, checkpoints with ``steps[0] <= step <= steps[1]``."""
    folder = root / "mixinglaws"
    rows = _rows(folder / f"{name}_losses.csv")
    domains = tuple(h[2:] for h in rows[0] if h.startswith("p_"))
    vw = json.loads((folder / "valid_weight.json").read_text())
    cells = defaultdict(dict)  # (size, run_id, step) -> {valid_domain: loss}
    meta = {}
    for r in rows:
        step = int(r["step"])
        if int(r["run_id"]) >= 900 or not steps[0] <= step <= steps[1]:
            continue
        key = (r["model_size"], int(r["run_id"]), step)
        cells[key][r["valid_domain"]] = float(r["loss"])
        meta[key] = ([float(r[f"p_{d}"]) for d in domains], float(r["tokens_total"]))
    out = defaultdict(list)
    for key in sorted(cells):
        size, _, step = key
        valid = cells[key]
        w, tokens = meta[key]
        if name == "5Mix":
            groups = [FIVE_GROUPS[d] for d in domains]
            if any(s not in valid for g in groups for s in g):
                continue  # incomplete checkpoint
            losses = [sum(vw[s] * valid[s] for s in g) / sum(vw[s] for s in g) for g in groups]
        else:
            if any(d not in valid for d in domains):
                continue
            losses = [valid[d] for d in domains]
        label = "-".join(f"{p:g}" for p in w)
        out[size].append((label, step, w, tokens, losses))
    if name == "5Mix":
        share = np.array([sum(vw[s] for s in FIVE_GROUPS[d]) for d in domains])
    else:
        share = np.ones(len(domains))
    share = share / share.sum()
    runs = {}
    for size, recs in out.items():
        runs[size] = MixRuns(
            mixture=np.array([r[0] for r in recs]),
            step=np.array([r[1] for r in recs]),
            weights=np.array([r[2] for r in recs]),
            tokens=np.array([r[3] for r in recs]),
            losses=np.array([r[4] for r in recs]),
            objective_weights=share,
        )
    return domains, runs


# ---------------------------------------------------------------------------------------------
# Rectified SFT scaling (Lin et al. 2024)


class SFTCurves(NamedTuple):
    """Fine-tuning loss vs number of examples for the models of one data set.

    Attributes:
      models: ``[M]`` model ids.
      sizes: ``[S]`` numbers of fine-tuning examples (0 = zero-shot).
      losses: ``[M, S]`` test loss.
    """

    models: tuple
    sizes: np.ndarray
    losses: np.ndarray


def load_sft(root: Path, dataset: str) -> SFTCurves:
    rows = _rows(root / "rectified_sft_scaling" / f"{dataset}.csv")
    sizes = [h for h in rows[0] if h.isdigit()]
    return SFTCurves(
        models=tuple(r["config name"] for r in rows),
        sizes=np.array([int(s) for s in sizes]),
        losses=np.array([[float(r[s]) for s in sizes] for r in rows]),
    )


# ---------------------------------------------------------------------------------------------
# Data-constrained scaling (Muennighoff et al. 2023, via SLDBench)


class RepetitionRuns(NamedTuple):
    params: np.ndarray  # [R] model parameters N
    tokens: np.ndarray  # [R] total training tokens D
    unique: np.ndarray  # [R] unique tokens U
    epochs: np.ndarray  # [R] D / U
    loss: np.ndarray  # [R] final validation loss on C4


def load_repetition(root: Path) -> RepetitionRuns:
    rows = _rows(root / "data_constrained_muennighoff" / "data_relabelled.csv")
    col = lambda name: np.array([float(r[name]) for r in rows])  # noqa: E731
    return RepetitionRuns(
        params=col("N_params"),
        tokens=col("D_total_tokens"),
        unique=col("U_unique_tokens"),
        epochs=col("epochs"),
        loss=col("loss"),
    )
