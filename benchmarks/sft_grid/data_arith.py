"""Arithmetic domain: multiplications too hard for the small model to learn.

`What is 347 x 86?` -> `347 x 86 = 29842`, operands drawn with a seeded numpy RNG
(3-digit x 2-digit), so the set is the same on every machine. The model learns the
format and to copy the operands within a few dozen examples; the product's digits it
cannot compute at this scale, so most of the loss is a floor that more of this
domain's data hardly lowers: data that is spent for little, as hard tasks are for a
small model. The grid's best mixture therefore gives it little, and the uniform
mixture overspends on it.
"""

import numpy as np


def arith_pairs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """`count` (instruction, response) pairs from a seeded generator."""
    rng = np.random.default_rng(seed)
    a = rng.integers(100, 1000, size=count)
    b = rng.integers(10, 100, size=count)
    return [(f"What is {x} x {y}?", f"{x} x {y} = {x * y}") for x, y in zip(a.tolist(), b.tolist())]
