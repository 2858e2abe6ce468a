"""Byte-level encoding of instruction -> response pairs with a response-only loss mask.

An example is `Q: <instruction>\nA: <response>\x03`, cut to T bytes and padded
with zeros. mask[t] = 1 where byte t belongs to the response (including the end
byte), so the loss is taken on response bytes only.
"""

import numpy as np

END = b"\x03"


def encode_pair(instruction: str, response: str, context: int, max_prompt: int):
    """Encode one pair. Returns (tokens [T] int32, mask [T] int8)."""
    prompt = b"Q: " + instruction.encode()[: max_prompt - 7] + b"\nA: "
    seq = (prompt + response.encode() + END)[:context]
    tokens = np.zeros(context, np.int32)
    tokens[: len(seq)] = np.frombuffer(seq, np.uint8)
    mask = np.zeros(context, np.int8)
    mask[len(prompt) : len(seq)] = 1
    return tokens, mask


def encode_pairs(pairs, context: int, max_prompt: int):
    """Encode M pairs. Returns (tokens [M, T] int32, mask [M, T] int8)."""
    enc = [encode_pair(i, r, context, max_prompt) for i, r in pairs]
    if not enc:
        return np.zeros((0, context), np.int32), np.zeros((0, context), np.int8)
    return np.stack([e[0] for e in enc]), np.stack([e[1] for e in enc])


def text_windows(corpus: bytes, starts: np.ndarray, context: int) -> np.ndarray:
    """Windows of raw text for pretraining. starts: [B] offsets -> tokens [B, T] int32."""
    arr = np.frombuffer(corpus, np.uint8)
    return np.stack([arr[s : s + context] for s in starts]).astype(np.int32)
