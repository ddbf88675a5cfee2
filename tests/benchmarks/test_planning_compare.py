"""benchmarks/planning_compare.py: paired counts of two planning runs on matched tasks."""

from __future__ import annotations

import json
import math

import pytest


def _episode(seed: int, success: bool, final: float = 0.03, shift: float = 0.0) -> dict:
    start = [0.05 + shift, -0.05, 0.83]
    return {
        "task": {"seed": seed, "start_position": start, "goal_position": [0.0, 0.01, 0.83]},
        "success": success,
        "success_min": True,
        "final_distance": final,
        "status": "ok",
    }


def _write(tmp_path, name: str, episodes: dict) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"episodes": episodes}))
    return str(path)


def test_mcnemar_exact_p_matches_the_binomial_test(load_script):
    m = load_script("planning_compare")
    assert m.mcnemar_exact_p(0, 0) == 1.0
    assert m.mcnemar_exact_p(3, 3) == 1.0
    # 8 vs 2: P(X <= 2 | n = 10, 1/2) = 56 / 1024, two-sided 0.109375
    assert m.mcnemar_exact_p(8, 2) == pytest.approx(2 * 56 / 1024)
    assert m.mcnemar_exact_p(2, 8) == m.mcnemar_exact_p(8, 2)
    assert m.mcnemar_exact_p(10, 0) == pytest.approx(2 / 1024)
    with pytest.raises(m.CompareError, match="-1"):
        m.mcnemar_exact_p(-1, 2)


def test_compare_counts_only_tasks_with_the_same_seed_start_and_goal(load_script):
    m = load_script("planning_compare")
    a = [_episode(0, True), _episode(1, True), _episode(2, False), _episode(3, False, 0.08)]
    a += [_episode(4, True), _episode(5, True)]
    b = [_episode(0, True), _episode(1, False, 0.07), _episode(2, True, 0.01)]
    b += [_episode(3, False, 0.06), _episode(4, False, shift=0.01), _episode(9, True)]
    r = m.compare(a, b)
    assert r["tasks_matched"] == 4  # seeds 0-3; seed 4 moved 1 cm; 5 and 9 unpaired
    assert r["tasks_same_seed_other_positions"] == 1
    assert (r["tasks_only_in_a"], r["tasks_only_in_b"]) == (1, 1)
    assert (r["both"], r["only_a"], r["only_b"], r["neither"]) == (1, 1, 1, 1)
    assert (r["successes_a"], r["successes_b"]) == (2, 2)
    assert r["only_a_seeds"] == [1] and r["only_b_seeds"] == [2]
    assert r["final_distance_cm_a"] == pytest.approx(100 * (0.03 + 0.03 + 0.03 + 0.08) / 4)
    assert r["final_distance_cm_b_minus_a"] == pytest.approx(100 * (0.04 - 0.02 - 0.02) / 4)
    # a looser tolerance pairs seed 4 too: only A solves it
    r = m.compare(a, b, tol_cm=1.5)
    assert r["tasks_matched"] == 5 and r["only_a"] == 2
    # VP2's success: every episode has success_min True
    r = m.compare(a, b, metric="success_min")
    assert r["both"] == 4 and r["mcnemar_exact_p"] == 1.0


def test_compare_refuses_bad_options(load_script):
    m = load_script("planning_compare")
    with pytest.raises(m.CompareError, match="'final'"):
        m.compare([], [], metric="final")
    with pytest.raises(m.CompareError, match="nan"):
        m.compare([], [], tol_cm=math.nan)


def test_cli_reads_file_and_policy_and_names_what_is_missing(load_script, tmp_path, capsys):
    m = load_script("planning_compare")
    one = _write(tmp_path, "one", {"ghvae": [_episode(0, True), _episode(1, False)]})
    two = _write(
        tmp_path,
        "two",
        {"ghvae": [_episode(0, False), _episode(1, False)], "random": [_episode(0, False)]},
    )
    assert m.main([one, f"{two}:ghvae", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["b"].endswith("two.json:ghvae") and r["only_a"] == 1 and r["tasks_matched"] == 2
    assert m.main([one, f"{two}:random"]) == 0
    assert "1 matched tasks" in capsys.readouterr().out

    with pytest.raises(SystemExit):
        m.main([one, f"{two}:oracle"])
    assert "'oracle' is not in" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit):
        m.main([one, str(bad)])
    assert "bad.json is not a readable planning.py results JSON" in capsys.readouterr().err
