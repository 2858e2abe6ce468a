"""Pilot tables shipped inside the package."""

from __future__ import annotations

from importlib import resources

EXAMPLES = {
    # Our own SFT grid benchmark (benchmarks/sft_grid): code, arith, prose; per-domain losses.
    "sft": "sft_pilots.csv",
    # Li, Liu and Xing (ICML 2025), Llama-3.2-3B: IF / Math / Code, aggregate perplexity only,
    # amounts in millions of tokens.
    "llama32_3b": "llama32_3b_pilots.csv",
    # AllenAI Olmix's "reuse update" swarm (github.com/allenai/olmix at b98f5e3, Apache-2.0,
    # LICENSE.olmix here): 64 fixed-budget runs over 22 sources, 110 downstream bits-per-byte
    # targets as loss: columns; amounts are the ratios x 1000 (`jaxmix import olmix`).
    "olmix": "olmix_swarm_pilots.csv",
}


def available_examples() -> tuple[str, ...]:
    """Names of the shipped examples whose file is present."""
    root = resources.files("jaxmix") / "examples"
    return tuple(name for name, f in EXAMPLES.items() if (root / f).is_file())


def default_example() -> str:
    """The example ``jaxmix run`` uses without PILOTS: the SFT grid pilots when shipped."""
    return available_examples()[0]


def example_pilots(name: str | None = None) -> str:
    """Path of a shipped example pilot table (``"sft"``, ``"llama32_3b"`` or ``"olmix"``).

    >>> example_pilots("llama32_3b").endswith("llama32_3b_pilots.csv")
    True
    """
    name = name or default_example()
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r} (known: {', '.join(EXAMPLES)})")
    return str(resources.files("jaxmix") / "examples" / EXAMPLES[name])
