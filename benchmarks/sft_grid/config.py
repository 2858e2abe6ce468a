"""Benchmark configurations: the full run and the smoke run.

Amounts are in examples. The target budget is `budget` examples in total; the
grid is every mixture on the 1/`lattice` lattice with each weight in
[w_lo/lattice, w_hi/lattice].
"""

from typing import NamedTuple

from .model import ModelConfig
from .train import Hyper


class BenchConfig(NamedTuple):
    model: ModelConfig
    hyper: Hyper  # fine-tuning hyper-parameters, the same for every run
    max_prompt: int  # bytes of instruction kept (incl. "Q: " and "\nA: ")
    n_val: int  # held-out validation examples per domain
    base_n: int  # n: examples per domain in the base pilot run
    multipliers: str  # pilot multipliers (jaxmix plan syntax)
    budget: int  # N: total examples of the target fine-tune (>= 5 * K * n)
    epochs: float  # epochs of every fine-tune
    evals_per_epoch: int  # validation points per epoch (best per domain is kept)
    lattice: int  # grid step 1/lattice
    w_lo: int  # grid lower bound, in lattice units
    w_hi: int  # grid upper bound, in lattice units
    seeds: tuple[int, ...]  # data-order seeds of the target-budget runs
    swarm_runs: int  # fixed-budget swarm: random mixtures trained at the budget (seed 0)
    swarm_seed: int  # seed of the swarm's mixtures
    pretrain_steps: int
    pretrain_batch: int
    pretrain_lr: float
    corpus_bytes: int  # general text for pretraining
    code_files: int  # 0: every standard-library file; else the first ones (smoke)


FULL = BenchConfig(
    model=ModelConfig(d=96, layers=2, heads=4, context=96),
    hyper=Hyper(lr=1e-3, warmup=0.1, final=0.1, batch=16, clip=1.0),
    max_prompt=56,
    n_val=192,
    base_n=48,
    multipliers="1/3,1/2,2,3",
    budget=720,
    epochs=3.0,
    evals_per_epoch=2,
    lattice=8,
    w_lo=1,
    w_hi=6,
    seeds=(0, 1),
    swarm_runs=12,
    swarm_seed=0,
    pretrain_steps=600,
    pretrain_batch=32,
    pretrain_lr=2e-3,
    corpus_bytes=4_000_000,
    code_files=0,
)

SMOKE = BenchConfig(
    model=ModelConfig(d=32, layers=1, heads=2, context=48),
    hyper=Hyper(lr=3e-3, warmup=0.1, final=0.1, batch=8, clip=1.0),
    max_prompt=24,
    n_val=8,
    base_n=6,
    multipliers="1/3,1/2,2,3",
    budget=96,
    epochs=1.0,
    evals_per_epoch=2,
    lattice=4,
    w_lo=1,
    w_hi=2,
    seeds=(0, 1),
    swarm_runs=6,
    swarm_seed=0,
    pretrain_steps=20,
    pretrain_batch=8,
    pretrain_lr=3e-3,
    corpus_bytes=200_000,
    code_files=20,
)
