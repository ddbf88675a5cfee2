"""Episode results that survive crashes: a JSONL log written as each episode finishes.

One line per finished (or failed) episode::

    {"policy": "ghvae", "seed": 3, "status": "ok", "result": {...}}
    {"policy": "ghvae", "seed": 4, "status": "error", "error": "RuntimeError: ...", "traceback": "..."}

Each line is flushed and fsync'ed before the next episode starts, so a killed run loses at most
the episode in progress; a truncated last line (killed mid-write) is ignored on reading.
Re-running with the same file resumes: episodes already logged as ``ok`` are read back instead
of run again (failed ones are retried). :func:`wilson_interval` gives the 95% intervals the
reports print beside every success rate.
"""

from __future__ import annotations

import json
import math
import os
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["wilson_interval", "ResultsWriter", "run_logged_episodes", "summary_table"]

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (Wilson 1927) of a binomial proportion ``successes / n``.

    Unlike the normal (Wald) interval it stays inside [0, 1] and is not empty at 0 or n
    successes: 0/10 -> (0, 0.278), 5/10 -> (0.237, 0.763). ``n = 0`` -> (0, 1).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n needs to be an int >= 0, actual value: {n!r}")
    if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= n:
        raise ValueError(f"successes needs to be an int in [0, n={n}], actual value: {successes!r}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _jsonable(result: dict[str, Any]) -> dict[str, Any]:
    """Drop what does not belong in a log line (recorded frames)."""
    return {k: v for k, v in result.items() if k not in ("frames", "imagined")}


class ResultsWriter:
    """Append-only JSONL log of episode results (module docstring).

    Args:
        path: the ``.jsonl`` file; created with its parent directory; appended to if it exists.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record) + "\n"
        with open(self.path, "a+b") as f:
            if f.tell() > 0:  # a run killed mid-write left half a line: end it first
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())

    def write(self, policy: str, seed: int, result: dict[str, Any]) -> None:
        """Log a finished episode."""
        self._append(
            {"policy": policy, "seed": int(seed), "status": "ok", "result": _jsonable(result)}
        )

    def write_error(self, policy: str, seed: int, error: BaseException) -> None:
        """Log a failed episode (exception type, message and traceback)."""
        self._append(
            {
                "policy": policy,
                "seed": int(seed),
                "status": "error",
                "error": f"{type(error).__name__}: {error}",
                "traceback": "".join(traceback.format_exception(error)),
            }
        )

    def records(self) -> list[dict[str, Any]]:
        """Every complete line, in order (a truncated or corrupt line is skipped)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and {"policy", "seed", "status"} <= set(record):
                out.append(record)
        return out

    def finished(self, policy: str) -> dict[int, dict[str, Any]]:
        """``{seed: result}`` of ``policy``'s episodes logged ``ok`` (the last one per seed)."""
        return {
            r["seed"]: r["result"]
            for r in self.records()
            if r["policy"] == policy and r["status"] == "ok"
        }

    def errors(self, policy: str) -> dict[int, str]:
        """``{seed: error}`` of ``policy``'s episodes whose last record is an error."""
        last: dict[int, dict[str, Any]] = {}
        for r in self.records():
            if r["policy"] == policy:
                last[r["seed"]] = r
        return {s: r["error"] for s, r in last.items() if r["status"] == "error"}


def run_logged_episodes(
    name: str,
    tasks: Iterable[Any],
    run: Callable[[Any], dict[str, Any]],
    writer: ResultsWriter | None = None,
    resume: bool = True,
    on_result: Callable[[Any, dict[str, Any] | None, str | None], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Run ``run(task)`` for every task, logging each episode as it finishes.

    A task whose episode raises (any ``Exception``) is logged as an error and the others go
    on; ``KeyboardInterrupt`` still stops the run (what finished is already on disk). With
    ``resume``, tasks already logged ``ok`` under ``name`` are read back, not re-run.
    ``on_result(task, result, error)`` is called after each task (progress output).

    Returns (results of the tasks that finished, in task order; ``{seed: error}`` of the rest).
    """
    done = writer.finished(name) if writer is not None and resume else {}
    results, errors = [], {}
    for task in tasks:
        seed = int(task.seed)
        if seed in done:
            result, error = done[seed], None
        else:
            try:
                result, error = run(task), None
            except Exception as e:  # noqa: BLE001 - one episode's crash must not lose the rest
                result, error = None, f"{type(e).__name__}: {e}"
                if writer is not None:
                    writer.write_error(name, seed, e)
            else:
                if writer is not None:
                    writer.write(name, seed, result)
        if result is not None:
            results.append(result)
        else:
            errors[seed] = error
        if on_result is not None:
            on_result(task, result, error)
    return results, errors


def _fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    return "-" if value is None else format(scale * value, spec)


def _rate(s: dict[str, Any], key: str) -> str:
    rate, ci = s.get(f"{key}_rate"), s.get(f"{key}_ci95")
    if rate is None:
        return "-"
    return f"{rate:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{rate:.2f}"


def summary_table(
    summaries: dict[str, dict[str, Any]], labels: dict[str, str] | None = None
) -> str:
    """A markdown table, one row per policy, of :func:`~ghvae_env.planning.tasks.summarize`
    outputs: success and VP2's success (min distance) with Wilson 95% intervals, mean final
    and minimum distance and improvement (cm), seconds per planning step, crashed episodes."""
    labels = labels or {}
    lines = [
        "| policy | episodes | success [95% CI] | success, min dist. (VP2) [95% CI] "
        "| final dist. (cm) | min dist. (cm) | improvement (cm) | s / planning step | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        lines.append(
            f"| {labels.get(name, name)} | {s['episodes']} | {_rate(s, 'success')} | "
            f"{_rate(s, 'success_min')} | {_fmt(s.get('mean_final_distance'), '.1f', 100)} | "
            f"{_fmt(s.get('mean_min_distance'), '.1f', 100)} | "
            f"{_fmt(s.get('mean_improvement'), '+.1f', 100)} | "
            f"{_fmt(s.get('plan_step_time_s'), '.2f')} | {len(s.get('errors') or {})} |"
        )
    return "\n".join(lines) + "\n"
