"""The thread policy (ghvae_env._threads) and --threads / threads= validation."""

from __future__ import annotations

import re

import pytest
import torch

from ghvae_env import _threads
from ghvae_env._threads import ThreadsError, apply_threads, busy_cores, resolve_threads


@pytest.fixture
def machine(monkeypatch):
    """Set (usable cores, busy cores) seen by the policy."""

    def set_(cores: int, busy: float) -> None:
        monkeypatch.setattr(_threads.os, "sched_getaffinity", lambda pid: set(range(cores)))
        monkeypatch.setattr(_threads, "busy_cores", lambda sample_s=0.1: busy)

    return set_


@pytest.mark.parametrize(
    "cores, busy, batch, expected",
    [
        (2, 0.0, None, 2),  # quiet machine: every usable core
        (2, 0.2, 200, 2),  # background noise is not a process
        (2, 1.0, None, 1),  # one competing busy process on 2 cores: 1 thread, not 2
        (2, 1.6, 64, 1),
        (2, 3.0, None, 1),  # overloaded: still at least 1
        (8, 2.0, None, 6),
        (8, 0.0, 1, 1),  # batch 1: one frame's convolutions are too small to split
        (1, 0.0, None, 1),  # affinity (taskset / cpuset) limits, not os.cpu_count()
    ],
)
def test_policy(machine, cores, busy, batch, expected):
    machine(cores, busy)
    assert resolve_threads(None, batch=batch) == expected


def test_requested_count_is_kept(machine):
    machine(2, 2.0)
    assert resolve_threads(2) == 2  # the user's choice wins over the policy


@pytest.mark.parametrize("bad", [0, -1, 3, 2.5, True, "2"])
def test_bad_counts_name_the_value(machine, bad):
    machine(2, 0.0)
    with pytest.raises(ThreadsError, match=re.escape(f"actual value: {bad!r}")):
        resolve_threads(bad)


def test_busy_cores_from_proc_stat(monkeypatch):
    samples = iter([(100.0, 200.0), (150.0, 300.0)])  # half the jiffies idle
    monkeypatch.setattr(_threads, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 2)
    own = iter([0.0, 0.0])
    monkeypatch.setattr(_threads, "_own_ticks", lambda: next(own))
    assert busy_cores(sample_s=0.0) == pytest.approx(1.0)


def test_busy_cores_ignores_this_process(monkeypatch):
    """Half the jiffies busy, all of them this process's own (spinning torch workers)."""
    samples = iter([(100.0, 200.0), (150.0, 300.0)])
    own = iter([10.0, 60.0])
    monkeypatch.setattr(_threads, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(_threads, "_own_ticks", lambda: next(own))
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 2)
    assert busy_cores(sample_s=0.0) == pytest.approx(0.0)


def test_busy_cores_on_this_machine_is_sane():
    assert 0.0 <= busy_cores(sample_s=0.05) <= (_threads.os.cpu_count() or 1) + 0.5


def test_apply_threads_sets_torch(machine):
    before = torch.get_num_threads()
    machine(2, 1.0)
    try:
        assert apply_threads(None) == 1 == torch.get_num_threads()
        assert apply_threads(2) == 2 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("command", ["train --data d --out o", "evaluate --data d", "plan"])
@pytest.mark.parametrize("bad", ["0", "-2", "99"])
def test_cli_threads_errors(command, bad, capsys):
    from ghvae_env.cli import main

    with pytest.raises(SystemExit):
        main([*command.split(), "--threads", bad])
    assert f"actual value: {bad}" in capsys.readouterr().err


def test_env_threads_kwarg(kw, one_torch_thread):
    import gymnasium as gym

    with pytest.raises(ThreadsError, match="actual value: 0"):
        gym.make("GHVAE-RoboNet-v0", threads=0, **kw)
    env = gym.make("GHVAE-RoboNet-v0", threads=1, **kw)
    assert env.unwrapped.threads == 1
    venv = gym.make_vec("GHVAE-RoboNet-v0", num_envs=2, threads=1, **kw)
    assert venv.threads == 1
