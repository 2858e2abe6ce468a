"""General text for the base model: documentation shipped with the OS, and Python code.

Sources, in a deterministic order: text files under /usr/share/doc (README,
changelogs, copyright notes, .txt/.md/.rst, gzip-compressed ones included) and
Python sources of installed third-party packages (site-packages). The standard
library and pydoc topics, which feed the fine-tuning domains, are not used.
"""

import gzip
import hashlib
import sysconfig
from pathlib import Path

DOC_ROOT = Path("/usr/share/doc")
TEXT_SUFFIXES = {"", ".txt", ".md", ".rst", ".gz", ".Debian"}


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    text = raw.decode("utf-8", errors="ignore")
    printable = sum(c.isprintable() or c in "\n\t" for c in text[:2000])
    return text if text and printable / min(len(text), 2000) > 0.97 else ""


def _files(root: Path, pattern: str, max_size: int) -> list[Path]:
    if not root.is_dir():
        return []
    return [
        p
        for p in sorted(root.rglob(pattern))
        if p.is_file() and not p.is_symlink() and p.stat().st_size <= max_size
    ]


def pretrain_corpus(max_bytes: int) -> bytes:
    """Up to max_bytes of general text: half OS documentation, half third-party Python code."""
    docs = [p for p in _files(DOC_ROOT, "*", 200_000) if p.suffix in TEXT_SUFFIXES]
    code = _files(Path(sysconfig.get_paths()["purelib"]), "*.py", 60_000)
    parts: list[str] = []
    for files in (docs, code):
        budget, stride = max_bytes // 2, max(1, len(files) // 400)
        for p in files[::stride]:
            t = _read_text(p)
            parts.append(t[:budget])
            budget -= len(parts[-1])
            if budget <= 0:
                break
    return "\n\n".join(parts).encode("utf-8", errors="ignore")[:max_bytes]


def corpus_digest(corpus: bytes) -> str:
    """Short content hash (part of the base-checkpoint cache key)."""
    return hashlib.sha256(corpus).hexdigest()[:16]
