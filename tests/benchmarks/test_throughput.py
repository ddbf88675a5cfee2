"""Smoke test of ``benchmarks/throughput.py --quick`` (simulator, tiny model)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.sim
def test_quick_run_writes_sane_outputs(load_script, assets, tmp_path, one_torch_thread):
    script = load_script("throughput")
    out = tmp_path / "throughput.json"
    assert (
        script.main(["--quick", "--checkpoint", str(assets["checkpoint"]), "--out", str(out)]) == 0
    )

    r = json.loads(out.read_text())
    assert "--quick" in r["command"] and r["date"]
    assert r["machine"]["torch_num_threads"] == 1
    from importlib import metadata

    assert r["machine"]["mujoco"] == metadata.version("mujoco")  # the simulator's versions
    assert r["machine"]["robosuite"] == metadata.version("robosuite")
    assert r["simulator"]["env_steps_per_s"] > 0 and r["simulator"]["rendering"] is True
    assert [(x["device"], x["batch"]) for x in r["imagined"]] == [("cpu", 1), ("cpu", 4)]
    for x in r["imagined"]:
        assert x["env_steps_per_s"] > 0 and x["vector_steps"] >= 3
        ratio = x["env_steps_per_s"] / r["simulator"]["env_steps_per_s"]
        assert x["ratio_vs_sim"] == pytest.approx(ratio, rel=0.01)
        assert 0 < x["fraction_of_matmul_peak"]
    # the tiny model's step is convolutions only; FLOPs scale with nothing but the model
    assert r["flops"]["per_env_step"] > 0
    assert set(r["flops"]["by_operator"]) >= {"aten.convolution"}
    assert r["matmul_peak"]["cpu"]["gflop_per_s"] > 0
    assert r["config"]["model_preset"] == "tiny"
    assert out.with_suffix(".md").read_text().count("| cpu |") == 2


def test_missing_checkpoint_fails_clearly(load_script, tmp_path, capsys):
    script = load_script("throughput")
    missing = tmp_path / "nope.pt"
    with pytest.raises(SystemExit) as e:
        script.main(["--quick", "--checkpoint", str(missing), "--out", str(tmp_path / "t.json")])
    assert e.value.code == 2
    assert str(missing) in capsys.readouterr().err
