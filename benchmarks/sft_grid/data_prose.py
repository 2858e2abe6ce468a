"""Prose domain: paragraphs of the Python reference documentation.

Source: `pydoc_data.topics` (the text of the language reference shipped with
CPython, 79 topics). Instruction: the topic name and the paragraph's opening
words; response: the rest of the paragraph. Indented blocks (code, grammar)
and short or symbol-heavy paragraphs are skipped.
"""

import pydoc_data.topics
import re

OPENING_WORDS = 6


def _is_prose(par: str) -> bool:
    return len(par) >= 100 and sum(c.isalpha() or c == " " for c in par) / len(par) >= 0.85


def prose_pairs() -> list[tuple[str, str]]:
    """All (instruction, response) pairs, in a deterministic order."""
    pairs = []
    for topic, text in sorted(pydoc_data.topics.topics.items()):
        for raw in re.split(r"\n\s*\n", text):
            if raw.startswith(" "):
                continue
            par = " ".join(raw.split())
            if not _is_prose(par):
                continue
            words = par.split(" ")
            head = " ".join(words[:OPENING_WORDS])
            pairs.append((f"Docs, {topic}: {head}", " ".join(words[OPENING_WORDS:])))
    return pairs
