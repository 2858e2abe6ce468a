"""Math domain: generated arithmetic word problems with worked solutions.

Each problem is drawn from one of six templates with a seeded numpy RNG, so the
set is the same on every machine. Responses show each step, then the answer.
"""

import numpy as np

NAMES = ("Ann", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Ida", "Jo", "Kim", "Lu", "Max")
ITEMS = ("pen", "cup", "egg", "box", "card", "book", "shell", "coin", "apple", "stamp")


def _problem(rng: np.random.Generator) -> tuple[str, str]:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b, c = (int(x) for x in rng.integers(2, 13, size=3))
    t = int(rng.integers(6))
    if t == 0:
        base = int(rng.integers(5, 60))
        return (
            f"{name} has {base} {item}s and buys {b} packs of {c}. Total?",
            f"{b} x {c} = {b * c}. {base} + {b * c} = {base + b * c}. Answer: {base + b * c}",
        )
    if t == 1:
        base = b * c + int(rng.integers(1, 50))
        return (
            f"{name} had {base} {item}s, gave {b} each to {c} kids. Left?",
            f"{b} x {c} = {b * c}. {base} - {b * c} = {base - b * c}. Answer: {base - b * c}",
        )
    if t == 2:
        paid = (a * b // 10 + 1) * 10
        return (
            f"A {item} costs {a}$. {name} buys {b}, pays {paid}$. Change?",
            f"{b} x {a} = {a * b}. {paid} - {a * b} = {paid - a * b}. Answer: {paid - a * b}$",
        )
    if t == 3:
        extra = int(rng.integers(1, 40))
        return (
            f"{name} reads {a} pages a day for {b} days, then {extra}. Pages?",
            f"{a} x {b} = {a * b}. {a * b} + {extra} = {a * b + extra}. Answer: {a * b + extra}",
        )
    if t == 4:
        total = int(rng.integers(10, 100))
        q, r = divmod(total, b)
        return (
            f"{total} {item}s shared by {b} kids. Each gets? Left over?",
            f"{total} / {b} = {q} rem {r}. Answer: {q} each, {r} left",
        )
    return (
        f"A field is {a * 3} m by {b * 2} m. Perimeter?",
        f"{a * 3} + {b * 2} = {a * 3 + b * 2}. 2 x {a * 3 + b * 2} = {2 * (a * 3 + b * 2)}. "
        f"Answer: {2 * (a * 3 + b * 2)} m",
    )


def math_pairs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """`count` (instruction, response) pairs from a seeded generator."""
    rng = np.random.default_rng(seed)
    return [_problem(rng) for _ in range(count)]
