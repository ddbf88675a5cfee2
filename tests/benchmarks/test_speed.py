"""Smoke tests of ``benchmarks/speed.py``: its pieces on the tiny model (fast), and the whole
``--quick`` run (simulator, old-code reference, busy process; ~40 s, marked slow)."""

from __future__ import annotations

import json

import pytest
import torch

from ghvae_env.model import GHVAE, GHVAEConfig


def test_pieces_on_the_tiny_model(load_script, tiny_model, one_torch_thread):
    speed = load_script("speed")
    flops = speed.count_flops(GHVAE, GHVAEConfig.preset("tiny"), train_frames=3)
    assert flops["per_imagined_frame"] > 0
    assert set(flops["per_training_clip"]) == {"greedy-1", "greedy-2"}
    assert speed.frames_per_s(tiny_model, batch=2, min_steps=1, min_seconds=0.0) > 0
    args = speed._parser().parse_args(["--quick"])
    args.train_batch, args.train_frames, args.train_min_steps, args.min_seconds = 1, 3, 1, 0.0
    assert speed.clips_per_s(tiny_model, 2, args) > 0
    assert tiny_model.training is False  # the training step works on a copy


def test_reference_code_loads_and_matches_the_new_code(load_script, tiny_model, one_torch_thread):
    speed = load_script("speed")
    old_cls = speed.reference_ghvae_class(speed.REFERENCE)
    if old_cls is None:
        pytest.skip("no git checkout with the reference revision")
    old = old_cls(tiny_model.config).eval()
    old.load_state_dict(tiny_model.state_dict())  # same keys and shapes
    ctx, actions = torch.rand(2, 2, 3, 64, 64), torch.rand(2, 4, 4)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    new = tiny_model.rollout(ctx, actions, generator=g1)
    assert (old.rollout(ctx, actions, generator=g2) - new).abs().max() <= 1 / 255


def test_bad_arguments_fail_clearly(load_script, capsys):
    speed = load_script("speed")
    with pytest.raises(SystemExit):
        speed.main(["--batches", "0,4"])
    assert "--batches must be ints >= 1, actual value: '0,4'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.sim
def test_quick_run_writes_json_and_table(load_script, tmp_path):
    speed = load_script("speed")
    assert speed.main(["--quick", "--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "results.json").read_text())
    assert "--quick" in r["command"] and r["machine"]["affinity_cores"] >= 1
    assert {x["model"] for x in r["imagined"]} >= {"cpu-small", "cpu-fast"}
    assert all(x["frames_per_s"] > 0 and x["fraction_of_roofline"] > 0 for x in r["imagined"])
    for t, parts in r["roofline_parts_gflop_per_s"].items():  # matmul and oneDNN convs
        assert {"matmul 256", "conv 1x1 256ch", "conv 3x3 256ch"} <= set(parts)
        assert r["matmul_roofline_gflop_per_s"][t] == max(parts.values())
    assert r["flops"]["preset cpu-fast"]["per_imagined_frame"] <= 60e6
    assert {x["threads_policy"] for x in r["busy"]} == {"policy", "1 thread", "torch default"}
    assert len(r["planning"]) >= 4 and r["training"]
    assert "One planning step" in (tmp_path / "table.md").read_text()


def test_training_rows_time_the_models_in_turn(load_script, tiny_model, one_torch_thread):
    speed = load_script("speed")
    args = speed._parser().parse_args(["--quick", "--train-rounds", "2"])
    args.train_batch, args.train_frames, args.train_min_steps, args.min_seconds = 1, 3, 1, 0.0
    rates = speed.interleaved_clips_per_s({"a": tiny_model, "b": tiny_model}, 1, args)
    assert set(rates) == {"a", "b"} and all(len(r) == 2 and min(r) > 0 for r in rates.values())


def test_train_rounds_must_be_positive(load_script, capsys):
    speed = load_script("speed")
    with pytest.raises(SystemExit):
        speed.main(["--train-rounds", "0"])
    assert "--train-rounds must be an int >= 1, actual value: 0" in capsys.readouterr().err
