"""Regret benchmark: jaxmix's default recommendation against single laws, validate-then-law,
best-of-pilots, uniform and LightGBM on repeated random pilot subsets of public data and the
project's SFT grid (see benchmarks/README.md)."""
