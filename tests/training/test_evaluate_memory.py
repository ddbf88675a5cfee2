from __future__ import annotations

import json

from ghvae_env.cli import main
from ghvae_env.data import VideoDataset
from ghvae_env.model import GHVAE, GHVAEConfig, save_checkpoint
from ghvae_env.training import evaluate_rollouts
from ghvae_env.training.memory import measure_step_memory
from ghvae_env.training.trainer import Phase


def test_evaluate_rollouts_reports_baseline_and_action_check(tiny_model, toy_data):
    ds = VideoDataset(toy_data, window=6, split="all")
    res = evaluate_rollouts(tiny_model, ds, context=2, horizon=4, num_clips=6, seed=0)
    assert res["num_clips"] == 6 and len(res["psnr_per_step"]) == 4
    assert res["copy_last_psnr"] > 0 and res["action_response"] > 0  # random weights still react
    again = evaluate_rollouts(tiny_model, ds, context=2, horizon=4, num_clips=6, seed=0)
    assert again["psnr"] == res["psnr"]  # same clips, same noise


def test_evaluate_cli_writes_json(tmp_path, tiny_model, toy_data, capsys):
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny_model, trained_modules=2, stage="test")
    out = tmp_path / "eval.json"
    rc = main(
        [
            "evaluate",
            "--checkpoint",
            str(ckpt),
            "--data",
            toy_data,
            "--split",
            "all",
            "--horizon",
            "4",
            "--clips",
            "4",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["checkpoint"] == str(ckpt) and res["horizon"] == 4 and res["modules"] == 2
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(ckpt),
                "--data",
                toy_data,
                "--split",
                "all",
                "--horizon",
                "4",
                "--clips",
                "4",
                "--modules",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["modules"] == 1


def test_greedy_step_holds_less_than_e2e():
    model = GHVAE(GHVAEConfig.preset("tiny", num_modules=3))
    g = measure_step_memory(model, Phase("greedy", 3, 1), batch_size=2, window=4)
    e = measure_step_memory(model, Phase("e2e", 3, 1), batch_size=2, window=4)
    assert g["params_trainable"] == sum(p.numel() for p in model.blocks[2].parameters())
    assert (
        g["grads"] < e["grads"]
        and g["optimizer"] < e["optimizer"]
        and g["activations"] < e["activations"]
    )
    assert g["weights"] == e["weights"]  # frozen modules stay resident
    assert not any(p.requires_grad for p in model.parameters())  # left frozen, eval mode


def test_evaluate_prints_one_summary_line_and_says_when_clips_ran_short(
    tmp_path, tiny_model, toy_data, capsys
):
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny_model, trained_modules=2, stage="test")
    args = ["evaluate", "--checkpoint", str(ckpt), "--data", toy_data, "--split", "all"]
    assert main(args + ["--horizon", "4", "--clips", "256"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("2-module model on 84 all clips")
    assert "PSNR" in lines[0] and "copy-last-frame" in lines[0]
    assert "--clips 256 asked" in err and "only 84 windows" in err
    assert main(args + ["--horizon", "4", "--clips", "3"]) == 0
    assert capsys.readouterr().err == ""


def test_show_sizes_its_sheet_to_the_data(tmp_path, toy_data):
    """12-frame toy trajectories, every 3rd frame: 4 columns, not 10 with 6 blank."""
    import imageio.v3 as iio

    out = tmp_path / "sheet.png"
    assert main(["show", "--data", toy_data, "--out", str(out), "--trajectories", "2"]) == 0
    img = iio.imread(out)
    assert img.shape == (2 * 68 * 2, 4 * 68 * 2, 3)
    assert (img[:, -68 * 2 :] != 255).any()  # the last column holds a frame


def test_evaluate_rollouts_prior_mean_and_ssim(tiny_model, toy_data):
    ds = VideoDataset(toy_data, window=6, split="all")
    mean = evaluate_rollouts(
        tiny_model, ds, context=2, horizon=4, num_clips=4, seed=0, sample=False, with_ssim=True
    )
    again = evaluate_rollouts(
        tiny_model, ds, context=2, horizon=4, num_clips=4, seed=1, sample=False, with_ssim=True
    )
    sampled = evaluate_rollouts(tiny_model, ds, context=2, horizon=4, num_clips=4, seed=0)
    assert mean["sample"] is False and sampled["sample"] is True
    assert mean["psnr"] != sampled["psnr"]  # the mean is not a sample
    assert len(mean["ssim_per_step"]) == 4 and -1 <= mean["ssim"] <= 1
    assert 0 < mean["copy_last_ssim"] <= 1 and "ssim" not in sampled
    # the prior mean needs no noise: other seeds draw other clips, but the same clip scores
    # the same (clip 0 of both draws is not guaranteed equal, so compare a fixed-seed rerun)
    rerun = evaluate_rollouts(
        tiny_model, ds, context=2, horizon=4, num_clips=4, seed=0, sample=False, with_ssim=True
    )
    assert rerun["psnr"] == mean["psnr"] and isinstance(again["psnr"], float)


def test_free_running_step_memory_is_measured(tiny_model):
    tf = measure_step_memory(tiny_model, Phase("e2e", 2, 1), batch_size=2, window=6)
    free = measure_step_memory(
        tiny_model, Phase("e2e", 2, 1), batch_size=2, window=6, free_running=True
    )
    assert free["free_running"] is True and tf["free_running"] is False
    # re-encoding the predictions saves more activations than teacher forcing
    assert free["activations"] > tf["activations"] and free["weights"] == tf["weights"]
