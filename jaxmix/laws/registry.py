"""The registry of law families: the built-in laws, listed explicitly, plus any a user
registers. Combinations (``ensemble(a+b)``) of registered laws are built on first use."""

from __future__ import annotations

from jaxmix.laws.base import Law
from jaxmix.laws.broken import BROKEN
from jaxmix.laws.ensemble import ensemble_law, is_ensemble, member_names
from jaxmix.laws.interference import INTERFERENCE
from jaxmix.laws.mixing import MIXING_LAW
from jaxmix.laws.pairwise import PAIRWISE
from jaxmix.laws.transfer import TRANSFER

BUILTIN_LAWS: tuple[Law, ...] = (TRANSFER, PAIRWISE, INTERFERENCE, MIXING_LAW, BROKEN)

_REGISTRY: dict[str, Law] = {law.name: law for law in BUILTIN_LAWS}


_CHANGES = 0  # re-registrations so far: part of every exported program's key (aot)


def register(law: Law) -> Law:
    """Add a law family to the registry under ``law.name``; returns it.

    Registering a law under a name already taken replaces it everywhere (also the same law
    again, after a global it reads was changed): the programs compiled for the old one
    (which are keyed by the name) and the combinations built from it are dropped, so the
    next call traces the new law.
    """
    global _CHANGES
    replaced = law.name in _REGISTRY
    _REGISTRY[law.name] = law
    if replaced:
        import jax

        for name in [n for n in _REGISTRY if is_ensemble(n) and law.name in member_names(n)]:
            del _REGISTRY[name]
        _CHANGES += 1
        jax.clear_caches()
    return law


def changes() -> int:
    """How many times a registered name was registered again (see :func:`register`)."""
    return _CHANGES


def ensure_registered(name: str) -> None:
    """Register the combination ``name`` (``ensemble(a+b)``) when it is not yet."""
    if is_ensemble(name) and name not in _REGISTRY:
        register(ensemble_law(name, [get_law(m) for m in member_names(name)]))


def get_law(name: str) -> Law:
    """Look up a registered law by name.

    >>> get_law("transfer").param_names
    ('C', 'k', 'alpha', 'beta', 'E')
    """
    if name not in _REGISTRY and name.startswith("ensemble("):
        ensure_registered(name)  # a combination of registered laws, built on first use
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown law {name!r} (known: {known})") from None


def available_laws() -> tuple[str, ...]:
    """Names of the registered law families.

    >>> available_laws()
    ('broken', 'interference', 'mixing_law', 'pairwise', 'transfer')
    """
    return tuple(sorted(n for n in _REGISTRY if "(" not in n))


def registered_laws() -> tuple[Law, ...]:
    """Every registered law, combinations built so far included."""
    return tuple(_REGISTRY.values())
