"""Smoke test of ``benchmarks/svg_vs_ghvae.py`` (memory of the tiny presets; tiny checkpoints)."""

import json

import torch

from ghvae_env.baselines import SVGPrime, SVGPrimeConfig
from ghvae_env.model import save_checkpoint


def test_quick_memory_only(load_script, tmp_path, one_torch_thread):
    script = load_script("svg_vs_ghvae")
    out = tmp_path / "o"
    assert script.main(["--quick", "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    mem = r["memory"]
    assert len(mem["ghvae_greedy_stage_mib"]) == 2
    assert mem["ghvae_greedy_peak_mib"] == max(mem["ghvae_greedy_stage_mib"])
    assert mem["svg_params"] > 0 and mem["svg_e2e_mib"] > 0
    assert "SVG' (end to end)" in (out / "table.md").read_text()


def test_scores_two_checkpoints_on_heldout_clips(load_script, assets, toy_data, tmp_path):
    torch.manual_seed(0)
    svg = tmp_path / "svg.pt"
    save_checkpoint(svg, SVGPrime(SVGPrimeConfig.preset("tiny")), trained_modules=1, stage="full")
    script = load_script("svg_vs_ghvae")
    out = tmp_path / "o"
    argv = ["--quick", "--ghvae", str(assets["checkpoint"]), "--svg", str(svg), "--data",
            toy_data, "--clips", "2", "--horizon", "3", "--out", str(out)]  # fmt: skip
    assert script.main(argv) == 0
    r = json.loads((out / "results.json").read_text())
    assert set(r["models"]) == {"GHVAE", "SVG'"}
    for m in r["models"].values():
        assert m["heldout"]["num_clips"] == 2 and m["heldout"]["psnr"] > 0
    assert "copy last frame" in r["table"]
