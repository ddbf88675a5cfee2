"""How many torch intra-op threads to use: a policy that never loses to one thread.

torch starts one intra-op thread per *machine* core. On a 2-core machine with one other busy
process (an RL learner, a data generator, a second env) that oversubscribes the cores and
the threads spin-wait on each other: training ran 1.5-1.9x slower with 2 threads than with 1
(issue 11), an env step at batch 1 3.5x slower. The policy:

* usable cores = ``os.sched_getaffinity(0)`` (what this process may really run on: taskset,
  cgroups' cpusets, a container), not ``os.cpu_count()``;
* busy cores = the cores that other processes kept busy over a short sample (~0.1 s) of
  ``/proc/stat`` (Linux), rounded; elsewhere the 1-minute load average;
* threads = max(1, usable - busy); and 1 when ``batch`` is 1 (one frame's convolutions are
  too small to split: 2 threads were never faster at batch 1).

``resolve_threads(None)`` applies the policy; ``resolve_threads(n)`` checks a user's ``n``
(1 <= n <= usable cores) and returns it. ``apply_threads`` calls ``torch.set_num_threads``.
"""

from __future__ import annotations

import os
import time

__all__ = [
    "ThreadsError",
    "usable_cores",
    "busy_cores",
    "resolve_threads",
    "apply_threads",
    "add_threads_argument",
]


class ThreadsError(ValueError):
    """A requested thread count is not an int in [1, usable cores]."""


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> tuple[float, float] | None:
    """(idle, total) jiffies summed over all cores from /proc/stat, or None."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    vals = [float(v) for v in fields[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)  # idle + iowait
    return idle, sum(vals[:8])  # guest time is already counted in user


def _own_ticks() -> float:
    """utime + stime of this process (all its threads), in /proc/stat's ticks; 0 if unknown."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return float(fields[11]) + float(fields[12])  # fields 14 and 15 of proc(5)
    except (OSError, IndexError, ValueError):
        return 0.0


def busy_cores(sample_s: float = 0.1) -> float:
    """How many cores *other* processes keep busy now, sampled over ``sample_s`` seconds.

    This process's own ticks are subtracted: torch's idle worker threads may still spin for
    a while after a parallel region, and they are not competition.
    """
    before, own = _cpu_times(), _own_ticks()
    if before is None:
        try:
            return float(os.getloadavg()[0])
        except (AttributeError, OSError):
            return 0.0
    time.sleep(sample_s)
    after, own = _cpu_times(), _own_ticks() - own
    if after is None or after[1] <= before[1]:
        return 0.0
    d_idle, d_total = after[0] - before[0], after[1] - before[1]
    ncpu = os.cpu_count() or 1
    return max(0.0, ncpu * (1.0 - (d_idle + own) / d_total))


def resolve_threads(
    requested: int | None = None, *, batch: int | None = None, name: str = "threads"
) -> int:
    """The intra-op thread count: ``requested`` validated, or the policy's choice (None).

    ``batch``: the batch the threads will work on, when known (1 -> 1 thread).
    Raises ThreadsError naming ``name`` and the value for 0, negatives, non-ints or more
    threads than this process's CPU affinity allows.
    """
    cores = usable_cores()
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int):
            raise ThreadsError(f"{name} must be an int or None, actual value: {requested!r}")
        if not 1 <= requested <= cores:
            raise ThreadsError(
                f"{name} must be in [1, {cores}] (the cores this process may use, "
                f"os.sched_getaffinity), actual value: {requested}"
            )
        return requested
    if cores == 1 or batch == 1:
        return 1
    busy = busy_cores()
    # 0.5 core of noise (shells, this process's own start-up) does not count as a process
    return max(1, min(cores, cores - int(busy + 0.5)))


def apply_threads(
    requested: int | None = None, *, batch: int | None = None, device: object = "cpu"
) -> int:
    """``torch.set_num_threads(resolve_threads(...))`` (process-wide); returns the count.

    On a CUDA ``device`` the policy leaves torch's setting alone (a requested n still applies).
    """
    import torch

    if requested is None and str(device).startswith("cuda"):
        return torch.get_num_threads()
    n = resolve_threads(requested, batch=batch)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def _threads_arg(value: str) -> int:
    """argparse ``type`` of ``--threads``: an int in [1, usable cores]."""
    import argparse

    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int, actual value: {value!r}") from None
    try:
        return resolve_threads(n, name="--threads")
    except ThreadsError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_threads_argument(parser) -> None:
    """``--threads N`` (default: the policy of this module) on an argparse parser."""
    parser.add_argument(
        "--threads",
        type=_threads_arg,
        default=None,
        metavar="N",
        help="torch intra-op threads (default: the cores this process may use minus the "
        "cores other processes keep busy, at least 1; see README)",
    )
