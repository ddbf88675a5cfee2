"""Smoke test of ``benchmarks/ablations.py --quick`` (numpy toy scene, tiny preset)."""

from __future__ import annotations

import json
import math


def test_quick_run_writes_sane_outputs(load_script, tmp_path, one_torch_thread):
    script = load_script("ablations")
    out = tmp_path / "abl"
    assert script.main(["--quick", "--out", str(out)]) == 0

    r = json.loads((out / "results.json").read_text())
    assert "--quick" in r["command"] and r["date"] and r["machine"]["torch"]
    assert r["config"]["data_generated"] is True and (out / "toy_data").is_dir()
    rows = r["a_modules"]["rows"]
    assert [x["modules"] for x in rows] == [1, 2, 3]
    assert [x["greedy_steps"] for x in rows] == [2, 4, 6]
    assert isinstance(r["a_modules"]["monotonic_psnr"], bool)
    variants = [*rows, r["b_prior"]["uniform"], *r["c_training"].values()]
    for v in variants:
        assert 0 < v["psnr"] < 100 and math.isfinite(v["copy_last_psnr"])
        assert -1 <= v["ssim"] <= 1 and len(v["ssim_per_step"]) == 8
        assert v["num_clips"] == 8
    # every variant is scored on the same held-out clips
    assert len({v["copy_last_psnr"] for v in variants}) == 1
    c = r["c_training"]
    assert c["greedy"]["steps"] == c["e2e_scratch"]["steps"] == 4
    assert c["greedy_then_e2e_finetune"]["steps"] == 6
    assert r["b_prior"]["learned"] == rows[1]
    table = (out / "table.md").read_text()
    assert table.count("| (a) greedy") == 3 and r["command"] in table

    # a second run reuses the finished runs and reproduces the numbers
    assert script.main(["--quick", "--out", str(out)]) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["a_modules"]["psnr"] == r["a_modules"]["psnr"]
    assert again["c_training"]["e2e_scratch"]["reused"] is True


def test_truncated_keeps_the_first_modules(load_script, tiny_model):
    import torch

    script = load_script("ablations")
    one = script.truncated(tiny_model, 1)
    assert one.num_modules == 1
    for name, value in one.state_dict().items():
        assert torch.equal(value, tiny_model.state_dict()[name])
