"""Mixture files: a :class:`Mixture` as JSON, decoded with full validation, written
atomically; sweep files; a mixture exported for a fine-tuning framework."""

from __future__ import annotations

import json

import numpy as np

from jaxmix.io.atomic import write_atomic
from jaxmix.io.jsonfile import all_int, all_str, clean, read_json
from jaxmix.optimization.api import Mixture
from jaxmix.status import InputError
from jaxmix.version import __version__


def mixture_to_dict(m: Mixture) -> dict:
    per = lambda a: dict(zip(m.domains, np.asarray(a).tolist()))  # noqa: E731
    out = {
        "budget": m.budget,
        "weights": per(m.weights),
        "amounts": per(m.amounts),
        "predicted_loss": per(m.predicted),
        "objective": m.objective,
        "importance": per(m.importance),
        "bounds": {"min": per(m.lower), "max": per(m.upper)},
        "binding": {d: b for d, b in zip(m.domains, m.binding) if b},
        "uniform": {
            "weights": per(np.full(len(m.domains), 1 / len(m.domains))),
            "predicted_loss": per(m.uniform_predicted),
            "objective": m.uniform_objective,
        },
        "certificate": m.certificate,
        "restart_status": np.asarray(m.restart_status).tolist(),
        "warnings": list(m.warnings),
        "jaxmix_version": __version__,
    }
    if m.constraints:
        out["constraints"] = m.constraints
    if m.decision is not None:
        out["decision"] = m.decision
    return clean(out)


def mixture_json(m: Mixture, extra: dict | None = None) -> str:
    """The text of a mixture file; ``extra`` keys are merged in."""
    data = mixture_to_dict(m)
    data.update(clean(extra or {}))
    return json.dumps(data, indent=1) + "\n"


def write_mixture(m: Mixture, path, extra: dict | None = None) -> None:
    """Write a mixture file atomically; ``extra`` keys are merged in."""
    write_atomic(path, mixture_json(m, extra))


def sweep_to_dict(domains, header: dict, res) -> str:
    """JSON text of a batched study: one record per problem."""
    per = lambda row: dict(zip(domains, np.asarray(row).tolist()))  # noqa: E731
    rows = [
        {
            "weights": per(res.weights[i]),
            "predicted_loss": per(res.predicted[i]),
            "objective": float(res.objective[i]),
            "gap": float(res.gap[i]),
        }
        for i in range(len(res.objective))
    ]
    data = clean(
        {**header, "domains": list(domains), "results": rows, "jaxmix_version": __version__}
    )
    return json.dumps(data, indent=1) + "\n"


def mixture_from_dict(data, path=None) -> Mixture:
    """A :class:`Mixture` from a mixture file's content (``weights`` and ``budget`` are
    required; the other fields are read where present, NaN or defaults otherwise)."""
    from jaxmix.io.export import mixture_weights as _validated

    domains, weights, budget = _validated(data, path)
    k = len(domains)

    def per(key, default, sub=None):
        src = data.get(key)
        if sub is not None:
            src = src.get(sub) if isinstance(src, dict) else None
        out = np.full(k, float(default))
        if isinstance(src, dict):
            for i, d in enumerate(domains):
                v = src.get(d)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[i] = float(v)
        return out

    predicted = per("predicted_loss", np.nan)
    importance = per("importance", 1.0)
    uniform = data.get("uniform") if isinstance(data.get("uniform"), dict) else {}
    uniform_pred = per("uniform", np.nan, "predicted_loss")
    binding = data.get("binding") if isinstance(data.get("binding"), dict) else {}
    number = lambda v: float(v) if isinstance(v, (int, float)) else float("nan")  # noqa: E731
    return Mixture(
        domains=tuple(domains),
        budget=budget,
        weights=weights,
        amounts=weights * budget,
        predicted=predicted,
        objective=number(data.get("objective")),
        importance=importance,
        lower=per("bounds", 0.0, "min"),
        upper=per("bounds", 1.0, "max"),
        binding=tuple(str(binding.get(d, "")) for d in domains),
        uniform_predicted=uniform_pred,
        uniform_objective=number(uniform.get("objective")),
        certificate=data.get("certificate") if isinstance(data.get("certificate"), dict) else None,
        restart_status=np.asarray(data.get("restart_status") or [], dtype=np.int32)
        if all_int(data.get("restart_status"))
        else np.zeros(0, np.int32),
        warnings=tuple(data["warnings"]) if all_str(data.get("warnings")) else (),
        constraints=data.get("constraints") if isinstance(data.get("constraints"), dict) else None,
    )


def read_mixture(path) -> Mixture:
    """Read and validate a mixture file (from ``jaxmix optimize``/``run``, or by hand with
    ``weights`` and ``budget``) as a :class:`Mixture`.

    >>> import json, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "mix.json"
    >>> _ = p.write_text(json.dumps({"budget": 100, "weights": {"a": 0.25, "b": 0.75}}))
    >>> m = read_mixture(p)
    >>> m.domains, m.amounts.tolist()
    (('a', 'b'), [25.0, 75.0])
    """
    return mixture_from_dict(read_json(path, "mixture"), path)


def export_mixture(mixture, to: str, available=None, path=None, examples=None) -> str:
    """A mixture (a :class:`Mixture` or the path of a mixture file) in the format ``to``
    of a fine-tuning framework: ``"counts"``, ``"hf"``, ``"llama-factory"`` or
    ``"open-instruct"`` (what ``jaxmix export`` writes). ``available`` (``{domain:
    amount}``) adds epochs to ``counts``; ``examples``: the total number of examples to train
    on, for ``hf`` and ``open-instruct`` (default: the budget, in examples). Writes ``path``
    atomically when given; returns the text.

    >>> from jaxmix import from_params, optimize
    >>> fit = from_params({d: dict(C=1, k=0.3, alpha=0.5, beta=0.3, E=1) for d in "ab"})
    >>> print(export_mixture(optimize(fit, 10.0), "llama-factory"), end="")
    dataset: a,b
    mix_strategy: interleave_under
    interleave_probs: 0.500000,0.500000
    """
    from jaxmix.io.export import FORMATS, export_text

    if not isinstance(mixture, Mixture):
        mixture = read_mixture(mixture)
    if to not in FORMATS:
        raise InputError(f"unknown export format {to!r} (choose from {', '.join(FORMATS)})")
    domains = list(mixture.domains)
    for d in available or {}:
        if d not in domains:
            raise InputError(f"--available: unknown domain {d!r} (domains: {', '.join(domains)})")
    text = export_text(
        to, domains, np.asarray(mixture.weights, float), mixture.budget, available, examples
    )
    if path is not None:
        write_atomic(path, text)
    return text
