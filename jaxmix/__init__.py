"""jaxmix: data-mixture optimization for supervised fine-tuning, in JAX.

Fit a per-domain loss law to a few pilot fine-tunes, then solve for the mixture of a token
budget that minimizes predicted validation loss (Li, Liu and Xing, ICML 2025).

>>> import jaxmix
>>> table = jaxmix.read_pilots(jaxmix.example_pilots("llama32_3b"))
>>> fit = jaxmix.fit(table)
>>> mix = jaxmix.optimize(fit, budget=20.0)
>>> round(float(mix.weights.sum()), 6)
1.0
"""

from jaxmix.cache import enable_caches as _enable_caches
from jaxmix.fitting.api import fit as fit
from jaxmix.fitting.combined import fit_combined as fit_combined
from jaxmix.fitting.joint import joint_fit_arrays as joint_fit_arrays
from jaxmix.fitting.reference import fit_reference as fit_reference
from jaxmix.fitting.reference import reference_fit_arrays as reference_fit_arrays
from jaxmix.fitting.result import FitResult as FitResult
from jaxmix.fitting.result import from_params as from_params
from jaxmix.fitting.result import predict as predict
from jaxmix.fitting.single import fit_joint as fit_joint
from jaxmix.io.examples import example_pilots as example_pilots
from jaxmix.io.fitfile import read_fit as read_fit
from jaxmix.io.fitfile import write_fit as write_fit
from jaxmix.io.importers import import_trainer_state as import_trainer_state
from jaxmix.io.importers import import_wandb as import_wandb
from jaxmix.io.mixturefile import export_mixture as export_mixture
from jaxmix.io.mixturefile import read_mixture as read_mixture
from jaxmix.io.mixturefile import write_mixture as write_mixture
from jaxmix.io.pilots import read_pilots as read_pilots
from jaxmix.io.pilots import write_pilots as write_pilots
from jaxmix.laws.base import Law as Law
from jaxmix.laws.registry import available_laws as available_laws
from jaxmix.laws.registry import get_law as get_law
from jaxmix.laws.registry import register as register
from jaxmix.laws.repetition import effective_amounts as effective_amounts
from jaxmix.laws.transfer import TransferParams as TransferParams
from jaxmix.optimization.api import Mixture as Mixture
from jaxmix.optimization.api import optimize as optimize
from jaxmix.optimization.recommend import recommend as recommend
from jaxmix.optimization.solve import solve as solve
from jaxmix.status import InputError as InputError
from jaxmix.status import Status as Status
from jaxmix.study.bootstrap import bootstrap as bootstrap
from jaxmix.study.predictions import MixturePredictions as MixturePredictions
from jaxmix.study.predictions import predict_mixtures as predict_mixtures
from jaxmix.study.propose import Proposal as Proposal
from jaxmix.study.propose import propose as propose
from jaxmix.study.sweeps import pareto as pareto
from jaxmix.study.sweeps import sweep_budgets as sweep_budgets
from jaxmix.study.validate import Validation as Validation
from jaxmix.study.validate import validate as validate
from jaxmix.table import PilotTable as PilotTable
from jaxmix.table import plan as plan
from jaxmix.version import __version__ as __version__
from jaxmix.warmup import warmup as warmup

_enable_caches()  # persistent compilation caches (jaxmix.cache; JAXMIX_NO_CACHE=1: off)

__all__ = [
    "FitResult",
    "InputError",
    "Law",
    "Mixture",
    "MixturePredictions",
    "PilotTable",
    "Proposal",
    "Status",
    "TransferParams",
    "Validation",
    "__version__",
    "available_laws",
    "bootstrap",
    "effective_amounts",
    "example_pilots",
    "export_mixture",
    "fit",
    "fit_joint",
    "fit_reference",
    "from_params",
    "get_law",
    "import_trainer_state",
    "import_wandb",
    "joint_fit_arrays",
    "optimize",
    "pareto",
    "plan",
    "predict",
    "predict_mixtures",
    "propose",
    "read_fit",
    "read_mixture",
    "read_pilots",
    "reference_fit_arrays",
    "register",
    "solve",
    "sweep_budgets",
    "validate",
    "warmup",
    "write_fit",
    "write_mixture",
    "write_pilots",
]
