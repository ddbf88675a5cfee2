"""benchmarks/temperature_sweep.py: a table per latent temperature; records only on request."""

from __future__ import annotations

import json
import shutil

import pytest

from ghvae_env.model import load_model
from ghvae_env.model.checkpoint import model_temperature


def test_quick_sweep_tables_each_temperature_and_records_nothing(
    load_script, assets, tmp_path, one_torch_thread
):
    script = load_script("temperature_sweep")
    ckpt = tmp_path / "m.pt"
    shutil.copy(assets["checkpoint"], ckpt)
    out = tmp_path / "sweep"
    assert script.main(["--quick", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    r = json.loads((out / "sweep.json").read_text())
    assert [row["temperature"] for row in r["rows"]] == [1.0, 0.5]
    assert r["recorded"] is None and model_temperature(load_model(ckpt)) == 1.0
    cal = r["latent_calibration"]
    assert cal["clips"] > 0 and cal["teacher_forced"] > 0 and cal["free_running"] > 0
    md = (out / "sweep.md").read_text()
    assert "| 0.5 |" in md and "Latent calibration" in md and r["command"] in md
    for t in ("t1", "t0.5"):
        assert (out / t / "results.json").is_file()
    # a second run reuses the per-T runs
    mtime = (out / "t1" / "results.json").stat().st_mtime
    assert script.main(["--quick", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    assert (out / "t1" / "results.json").stat().st_mtime == mtime


def test_record_writes_the_given_swept_value(load_script, assets, tmp_path, one_torch_thread):
    script = load_script("temperature_sweep")
    ckpt = tmp_path / "m.pt"
    shutil.copy(assets["checkpoint"], ckpt)
    args = ["--checkpoint", str(ckpt), "--num-starts", "2", "--horizon", "3"]
    args += ["--temperatures", "1,0.5", "--out", str(tmp_path / "s")]
    assert script.main([*args, "--record", "0.5"]) == 0
    assert model_temperature(load_model(ckpt)) == 0.5
    info = load_model(ckpt).checkpoint_info["sampling"]
    assert "starts 20000..20001" in info["chosen_on"]


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--seed-offset", "10000"], "overlap the test starts"),
        (["--record", "0.4"], "one of the swept"),
        (["--temperatures", "1,-1"], "temperature must be"),
        (["--quick", "--record", "1"], "never records"),
    ],
)
def test_bad_requests_are_refused(load_script, tmp_path, capsys, argv, match):
    script = load_script("temperature_sweep")
    with pytest.raises(SystemExit) as e:
        script.main([*argv, "--out", str(tmp_path / "o")])
    assert e.value.code == 2 and match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
