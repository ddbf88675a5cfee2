"""Helpers shared by the benchmark scripts: the reproducing command, the machine, JSON output.

Imported as ``from _common import ...``: a script run as ``python benchmarks/<name>.py`` has
``benchmarks/`` as ``sys.path[0]`` from any working directory (the smoke tests prepend it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "BenchmarkError",
    "command_string",
    "machine_info",
    "markdown_table",
    "require_checkpoint",
    "out_help",
    "resolve_out",
    "RESULTS_DIR",
    "save_json",
    "today",
]


class BenchmarkError(ValueError):
    """Bad benchmark arguments or a missing input file; the message names which."""


RESULTS_DIR = Path(__file__).resolve().parent / "results"  # the published results


def resolve_out(parser: argparse.ArgumentParser, args: argparse.Namespace, published: str) -> Path:
    """Set and return ``args.out``: where this run writes.

    Full run: ``--out``, default ``benchmarks/results/<published>`` (the published results).
    ``--quick`` (a smoke run) never writes there: ``--out`` if given and outside
    ``benchmarks/results/`` (a parser error otherwise), else ``<published>``'s name in a new
    temporary directory. ``published`` names a file or a directory under ``RESULTS_DIR``.
    """
    if args.out is None:
        if args.quick:
            tmp = Path(tempfile.mkdtemp(prefix=f"ghvae-bench-{Path(published).stem}-quick-"))
            args.out = tmp / Path(published).name
        else:
            args.out = RESULTS_DIR / published
    else:
        args.out = Path(args.out)
        if args.quick and args.out.resolve().is_relative_to(RESULTS_DIR):
            parser.error(
                f"--quick writes smoke results, never the published ones: --out must be "
                f"outside {RESULTS_DIR}, actual value: {args.out}"
            )
    return args.out


def out_help(published: str) -> str:
    """The --out help text that goes with :func:`resolve_out`."""
    return (
        f"output path (default: benchmarks/results/{published}; with --quick a new "
        "temporary directory; --quick refuses paths under benchmarks/results/)"
    )


def command_string(script: str, argv: list[str] | None) -> str:
    """``python benchmarks/<script> <args>``: the command that reproduces this run."""
    args = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", f"benchmarks/{script}", *args])


def today() -> str:
    return time.strftime("%Y-%m-%d")


def machine_info(device: str | torch.device | None = None) -> dict[str, Any]:
    """What the numbers were measured on: CPU, thread counts, versions, GPU when used."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        # the simulator's versions: the push tasks' scripted pushes moved on 9 of 100 tasks
        # between two machines (RESULTS.md, "Planning"), and no earlier result recorded them
        **{name: _installed_version(name) for name in ("mujoco", "robosuite")},
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS"),
        "cuda_available": torch.cuda.is_available(),
        # "AMD EPYC" named both a Zen 3 without AVX-512 and an AVX-512 part with bf16
        # (2026-12-03: oneDNN's convolutions 2.2x MKL's sgemm there): the ISA says which
        "cpu_capability": _cpu_capability(),
        "cpu_flags": _cpu_flags(("avx2", "avx512f", "avx512_bf16", "amx_bf16")),
    }
    if device is not None:
        info["device"] = str(device)
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
        info["cuda_version"] = torch.version.cuda
    return info


def _installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (None if absent), without importing it."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_capability() -> str | None:
    """The SIMD level torch's CPU kernels dispatch to (e.g. AVX2, AVX512), if torch says."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return None


def _cpu_flags(names: tuple[str, ...]) -> list[str] | None:
    """Which of ``names`` the CPU reports (``/proc/cpuinfo`` flags); None off Linux."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [n for n in names if n in have]
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def require_checkpoint(path: str | os.PathLike | None) -> Path:
    """The checkpoint to benchmark (None: the bundled one); a clear error when it is missing."""
    from ghvae_env.model.checkpoint import bundled_checkpoint_path

    p = bundled_checkpoint_path() if path is None else Path(path)
    if not p.is_file():
        what = "the bundled checkpoint" if path is None else "--checkpoint"
        raise BenchmarkError(
            f"{what} {p} does not exist; pass --checkpoint <a .pt written by `ghvae train`>"
        )
    return p


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None  # strict JSON has no NaN / inf
    return x


def save_json(path: str | os.PathLike, obj: dict[str, Any]) -> Path:
    """Write ``obj`` as indented strict JSON (NaN/inf -> null, numpy -> Python)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n")
    return path


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table; floats printed with 2 decimals, None as an em dash."""

    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "—"
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def same_task(rebuilt: dict[str, Any], recorded: dict[str, Any], tol: float = 1e-3) -> bool:
    """Whether a rebuilt task (``PushTask.describe()``) is the episode's ``task`` record:
    the same object, and its start and goal positions within ``tol`` m."""
    try:
        return rebuilt["object_index"] == recorded["object_index"] and all(
            np.allclose(rebuilt[key], recorded[key], atol=tol)
            for key in ("start_position", "goal_position")
        )
    except KeyError:
        return False
