"""Smoke test of ``benchmarks/table4_depth.py --quick`` and its stability measure."""

from __future__ import annotations

import json


def test_quick_run_scores_greedy_and_e2e_on_the_same_clips(load_script, tmp_path, one_torch_thread):
    script = load_script("table4_depth")
    out = tmp_path / "t4"
    assert script.main(["--quick", "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    (rec,) = r["per_seed"]
    assert (
        rec["e2e"]["steps"] == rec["e2e"]["steps_done"] == 6 and rec["e2e"]["diverged_at"] is None
    )
    assert rec["greedy"]["copy_last_psnr"] == rec["e2e"]["copy_last_psnr"]
    assert set(rec["greedy"]["per_stage"]) == {"greedy-1", "greedy-2", "greedy-3"}
    assert "| end to end | 0 | 6 |" in (out / "table.md").read_text()
    # a rerun reuses both finished models
    assert script.main(["--quick", "--out", str(out)]) == 0


def test_loss_stability_finds_a_spike(load_script):
    script = load_script("table4_depth")
    losses = [1.0] * 60 + [5.0] + [1.0] * 10
    s = script.loss_stability(losses, window=50)
    assert s["max_spike"] == 5.0 and s["final_loss_last50"] == (5.0 + 49) / 50
    assert script.loss_stability([1.0] * 10)["max_spike"] is None
