"""Wilson intervals, the crash-resilient JSONL results log and resuming from it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ghvae_env.planning.results import (
    ResultsWriter,
    run_logged_episodes,
    summary_table,
    wilson_interval,
)
from ghvae_env.planning.tasks import summarize


@pytest.mark.parametrize(
    "k, n, expected",
    [
        (0, 10, (0.0, 0.2775)),  # textbook values (Newcombe 1998; Brown, Cai, DasGupta 2001)
        (5, 10, (0.2366, 0.7634)),
        (10, 10, (0.7225, 1.0)),
        (14, 30, (0.3023, 0.6386)),  # scipy binomtest(14, 30).proportion_ci("wilson")
        (90, 100, (0.8256, 0.9448)),
    ],
)
def test_wilson_interval_known_values(k, n, expected):
    lo, hi = wilson_interval(k, n)
    assert (lo, hi) == pytest.approx(expected, abs=1e-4)


def test_wilson_interval_bad_input():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes needs to be an int in \\[0, n=3\\]"):
        wilson_interval(4, 3)
    with pytest.raises(ValueError, match="n needs to be"):
        wilson_interval(0, -1)


def _result(seed: int, final: float) -> dict:
    return {
        "task": {"seed": seed}, "success": final < 0.05, "success_min": final < 0.06,
        "final_distance": final, "min_distance": final - 0.01, "initial_distance": 0.1,
        "improvement": 0.1 - final, "wall_time_s": 1.0, "plans": 2, "plan_step_time_s": 0.5,
        "model_time_s": 0.8,
    }  # fmt: skip


def test_a_crash_is_logged_and_the_other_episodes_survive_and_resume(tmp_path):
    tasks = [SimpleNamespace(seed=s) for s in range(4)]
    calls = []

    def run(task):
        calls.append(task.seed)
        if task.seed == 2:
            raise RuntimeError("simulator exploded")
        return _result(task.seed, 0.02 * (task.seed + 1))

    writer = ResultsWriter(tmp_path / "log" / "episodes.jsonl")
    seen = []
    results, errors = run_logged_episodes(
        "ghvae", tasks, run, writer, on_result=lambda t, r, e: seen.append((t.seed, e))
    )
    assert [r["task"]["seed"] for r in results] == [0, 1, 3]
    assert errors == {2: "RuntimeError: simulator exploded"}
    assert seen[2] == (2, "RuntimeError: simulator exploded")
    lines = [json.loads(x) for x in writer.path.read_text().splitlines()]
    assert [x["status"] for x in lines] == ["ok", "ok", "error", "ok"]
    assert "simulator exploded" in lines[2]["traceback"]
    # a run killed mid-write leaves half a line: it is ignored
    with open(writer.path, "a") as f:
        f.write('{"policy": "ghvae", "seed": 9, "sta')
    assert sorted(writer.finished("ghvae")) == [0, 1, 3]
    assert writer.errors("ghvae") == {2: "RuntimeError: simulator exploded"}
    # re-running resumes: finished episodes are read back, only the crashed one runs again
    calls.clear()
    results2, errors2 = run_logged_episodes("ghvae", tasks, lambda t: _result(t.seed, 0.03), writer)
    assert calls == [] and errors2 == {} and len(results2) == 4
    assert writer.finished("ghvae")[2]["final_distance"] == 0.03
    assert writer.finished("random") == {}


def test_summary_has_wilson_intervals_and_the_table_shows_them():
    results = [_result(s, f) for s, f in enumerate([0.02, 0.04, 0.08, 0.09])]
    s = summarize(results, errors={7: "RuntimeError: boom"})
    assert s["successes"] == 2 and s["success_rate"] == 0.5
    assert s["success_ci95"] == pytest.approx(list(wilson_interval(2, 4)))
    assert s["success_min_rate"] == 0.5 and s["errors"] == {7: "RuntimeError: boom"}
    table = summary_table({"ghvae": s}, {"ghvae": "GHVAE-MPC"})
    assert "| GHVAE-MPC | 4 | 0.50 [0.15, 0.85] |" in table
    assert table.strip().endswith("| 0.50 | 1 |")
