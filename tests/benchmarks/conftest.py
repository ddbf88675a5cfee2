"""Load the benchmark scripts (``benchmarks/*.py``, not a package) as modules, in-process."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def load_script(monkeypatch) -> Callable[[str], ModuleType]:
    """``load_script("throughput")`` -> the module of ``benchmarks/throughput.py``.

    ``benchmarks/`` goes on ``sys.path`` (as when a script runs as ``python benchmarks/x.py``)
    so that the scripts' ``from _common import ...`` resolves.
    """
    monkeypatch.syspath_prepend(str(BENCHMARKS))

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        return module

    return load
