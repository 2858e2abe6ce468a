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

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jaxmix")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from jaxmix._examples import example_pilots as example_pilots
from jaxmix._files import export_mixture as export_mixture  # noqa: E402  (needs __version__)
from jaxmix._files import read_fit as read_fit
from jaxmix._files import read_mixture as read_mixture
from jaxmix._files import write_fit as write_fit
from jaxmix._files import write_mixture as write_mixture
from jaxmix._fit import fit as fit
from jaxmix._fit import fit_joint as fit_joint
from jaxmix._fit import fit_reference as fit_reference
from jaxmix._fitresult import FitResult as FitResult
from jaxmix._fitresult import from_params as from_params
from jaxmix._fitresult import predict as predict
from jaxmix._importers import import_trainer_state as import_trainer_state
from jaxmix._importers import import_wandb as import_wandb
from jaxmix._joint import joint_fit_arrays as joint_fit_arrays
from jaxmix._laws import Law as Law
from jaxmix._laws import available_laws as available_laws
from jaxmix._laws import get_law as get_law
from jaxmix._laws import register as register
from jaxmix._optimize import Mixture as Mixture
from jaxmix._optimize import optimize as optimize
from jaxmix._optimize import solve as solve
from jaxmix._pilots import PilotTable as PilotTable
from jaxmix._pilots import plan as plan
from jaxmix._pilots import read_pilots as read_pilots
from jaxmix._pilots import write_pilots as write_pilots
from jaxmix._propose import Proposal as Proposal
from jaxmix._propose import propose as propose
from jaxmix._reference import reference_fit_arrays as reference_fit_arrays
from jaxmix._repetition import effective_amounts as effective_amounts
from jaxmix._status import InputError as InputError
from jaxmix._status import Status as Status
from jaxmix._study import bootstrap as bootstrap
from jaxmix._study import pareto as pareto
from jaxmix._study import sweep_budgets as sweep_budgets
from jaxmix._transfer import TransferParams as TransferParams
from jaxmix._validate import Validation as Validation
from jaxmix._validate import validate as validate

__all__ = [
    "FitResult",
    "InputError",
    "Law",
    "Mixture",
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
    "propose",
    "read_fit",
    "read_mixture",
    "read_pilots",
    "reference_fit_arrays",
    "register",
    "solve",
    "sweep_budgets",
    "validate",
    "write_fit",
    "write_mixture",
    "write_pilots",
]
