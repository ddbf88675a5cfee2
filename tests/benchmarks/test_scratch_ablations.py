"""Smoke test of ``benchmarks/scratch_ablations.py --quick`` (toy scene, tiny preset)."""

from __future__ import annotations

import json

import pytest


def test_quick_trains_even_and_hidden_stage_by_stage_and_scores_them_alike(
    load_script, tmp_path, one_torch_thread
):
    script = load_script("scratch_ablations")
    out = tmp_path / "scratch"
    assert script.main(["--quick", "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    by = {x["variant"]: x for x in r["results"]}
    assert list(by) == ["even", "hidden"]
    for x in by.values():
        assert x["steps"] == [script.QUICK_STEPS] * 4 and all(w > 0 for w in x["train_wall_s"])
        assert x["sample"]["sample"] is True and x["prior_mean"]["sample"] is False
        assert len(x["sample"]["ssim_per_step"]) == 10
        assert len(x["commands"]) == 4 and "--free-running" in x["commands"][3]
    assert by["even"]["handoff"] == "latent" and by["hidden"]["handoff"] == "hidden"
    assert by["hidden"]["params"] > by["even"]["params"]  # wider decoder inputs, the lifts
    assert "--handoff hidden" in by["hidden"]["commands"][0]
    assert "--handoff" not in " ".join(by["even"]["commands"])
    # same held-out clips for every variant
    assert len({x["sample"]["copy_last_psnr"] for x in r["results"]}) == 1
    assert "| hidden |" in (out / "table.md").read_text()


def test_full_commands_carry_each_phase_minutes(load_script):
    import argparse

    script = load_script("scratch_ablations")
    args = argparse.Namespace(
        runs="/r", data="/d", preset="cpu-small", batch_size=8, minutes_scale=0.5, threads=1,
        quick=False, no_progress=True,
    )  # fmt: skip
    cmds = script.train_commands(args, "bottom")
    assert [c.split("--phase-minutes ")[1].split()[0] for c in cmds] == ["3", "2", "1", "2"]
    assert "--from /r/bottom/g2/model.pt --add-modules 1" in cmds[2]
    assert "--from /r/bottom/g3/model.pt --add-modules 0" in cmds[3]
    cfg = script.phase_config(args, "bottom", 3)
    assert cfg.phase_minutes == 2 and cfg.free_running and cfg.finetune_e2e == script.MAX_STEPS


def test_bad_variant_and_scale_are_parser_errors(load_script, capsys):
    script = load_script("scratch_ablations")
    with pytest.raises(SystemExit):
        script.main(["--runs", "/tmp/x", "--data", "/tmp/y", "--variants", "nope"])
    assert "unknown ['nope']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main(["--quick", "--minutes-scale", "0"])
    assert "--minutes-scale must be > 0" in capsys.readouterr().err
