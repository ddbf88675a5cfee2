from __future__ import annotations

import json


def test_action_response_quick(load_script, assets, tmp_path):
    mod = load_script("action_response")
    out = tmp_path / "ar"
    rc = mod.main(
        [
            "--quick",
            "--checkpoint",
            str(assets["checkpoint"]),
            "--clips",
            str(assets["clips"]),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    assert res["num_clips"] == 1 and res["horizon"] == 2
    assert res["mean_abs_diff"]["+x vs -x"] > 0  # random weights react to the action input
    assert (out / "action_response.png").stat().st_size > 0
