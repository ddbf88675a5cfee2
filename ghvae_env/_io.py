"""Atomic file writes: the one implementation every writer in the package uses.

A writer fills a hidden temp file in the destination's directory (``.<name>.<pid>.<hex>.tmp``,
optionally followed by the final suffix for writers that pick a format by extension); on
success it is fsynced and ``os.replace``-d onto the destination, so readers see either the
old file or the complete new one, never a partial file. On any error the temp file is
removed; a SIGKILL can leave only the hidden temp file, which readers ignore.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "TMP_SUFFIX"]

TMP_SUFFIX = ".tmp"


def temp_path_for(final: Path, keep_suffix: bool = False) -> Path:
    tail = TMP_SUFFIX + (final.suffix if keep_suffix else "")
    return final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}{tail}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], keep_suffix: bool = False) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: write(tmp)`` -> ``p`` appears complete, or not at all."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(final, keep_suffix)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
