"""Smoke test of ``benchmarks/recipe_ablations.py --quick`` (toy scene, tiny preset)."""

from __future__ import annotations

import json


def test_quick_run_trains_every_variant_and_scores_them_alike(
    load_script, tmp_path, one_torch_thread
):
    script = load_script("recipe_ablations")
    out = tmp_path / "recipe"
    assert script.main(["--quick", "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert [x["variant"] for x in r["results"]] == list(script.VARIANTS)
    for x in r["results"]:
        assert x["steps"] == script.QUICK_STEPS and x["train_wall_s"] > 0
        assert x["sample"]["sample"] is True and x["prior_mean"]["sample"] is False
        assert len(x["sample"]["ssim_per_step"]) == 10
        assert "--finetune-e2e 2" in x["command"]
    # same held-out clips for every variant
    assert len({x["sample"]["copy_last_psnr"] for x in r["results"]}) == 1
    by = {x["variant"]: x for x in r["results"]}
    assert (
        "--free-running" in by["free"]["command"]
        and "--skip-frame context" in by["ctx-skip"]["command"]
    )
    assert "| free-ctx-skip |" in (out / "table.md").read_text()


def test_quick_refuses_the_published_directory(load_script):
    import pytest

    script = load_script("recipe_ablations")
    import _common  # on sys.path once load_script ran

    with pytest.raises(SystemExit):
        script.main(["--quick", "--out", str(_common.RESULTS_DIR / "recipe_ablations")])
