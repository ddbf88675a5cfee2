"""Smoke-run the examples as a user would, on the tiny checkpoint and tiny budgets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(script: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny models: one thread is fastest
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_quickstart(assets, tmp_path):
    gif = tmp_path / "imagined.gif"
    stdout = _run(
        "quickstart.py", "--checkpoint", str(assets["checkpoint"]), "--clips", str(assets["clips"]),
        "--steps", "3", "--out", str(gif), "--device", "cpu", cwd=tmp_path,
    )  # fmt: skip
    assert stdout.startswith("command: python examples/quickstart.py --checkpoint")
    assert gif.stat().st_size > 0
    config = json.loads((tmp_path / "imagined.gif.json").read_text())
    assert config["steps"] == 3 and config["frames"] == 4


def test_quickstart_default_writes_outside_the_working_directory(assets, tmp_path):
    """No --out: a new temp dir (printed), nothing in the cwd (e.g. the repository root)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    stdout = _run(
        "quickstart.py", "--checkpoint", str(assets["checkpoint"]), "--clips", str(assets["clips"]),
        "--device", "cpu", cwd=cwd,
    )  # fmt: skip
    assert list(cwd.iterdir()) == []
    wrote = stdout.strip().splitlines()[-1]  # "wrote <gif> (... frames ...) and <gif>.json"
    gif = Path(wrote.split()[1])
    assert gif.name == "imagined.gif" and gif.is_file() and gif.with_suffix(".gif.json").is_file()
    assert not gif.resolve().is_relative_to(cwd.resolve())
    assert "imagined 10 steps" in stdout  # until the episode ends with its 12-frame clip
    assert json.loads(gif.with_suffix(".gif.json").read_text())["frames"] == 11


def test_sb3_ppo(assets, tmp_path):
    pytest.importorskip("stable_baselines3")
    out = tmp_path / "ppo"
    stdout = _run(
        "sb3_ppo.py", "--checkpoint", str(assets["checkpoint"]), "--clips", str(assets["clips"]),
        "--timesteps", "32", "--num-envs", "2", "--n-steps", "16", "--batch-size", "16",
        "--epochs", "1", "--max-episode-steps", "8", "--device", "cpu", "--policy-device", "cpu",
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert "mean episode return" in stdout
    assert (out / "ppo_ghvae.zip").is_file()
    assert json.loads((out / "config.json").read_text())["episodes"] == 4


@pytest.mark.sim
def test_visual_mpc_example(assets, tmp_path):
    gif = tmp_path / "mpc.gif"
    stdout = _run(
        "visual_mpc.py", "--checkpoint", str(assets["checkpoint"]), "--steps", "2", "--samples", "4",
        "--iterations", "1", "--horizon", "3", "--device", "cpu", "--out", str(gif), cwd=tmp_path,
    )  # fmt: skip
    assert stdout.startswith("command: python examples/visual_mpc.py --checkpoint")
    assert gif.stat().st_size > 0
    saved = json.loads((tmp_path / "mpc.gif.json").read_text())
    assert saved["result"]["steps"] == 2 and saved["planner"]["num_samples"] == 4
