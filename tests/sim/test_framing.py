"""The camera framing of the tabletop scene (issue: objects >= 8 px, the tray fills the frame)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ghvae_env.cli import main
from ghvae_env.sim.framing import measure_framing
from ghvae_env.sim.scene import FRAMING, SceneConfig

pytestmark = pytest.mark.sim

# scene v1 (the framing the first bundled model saw), for contrast
V1 = replace(
    SceneConfig(),
    camera_target=(-0.05, 0.0, 0.83),
    camera_distance=0.8,
    camera_azimuth_deg=25.0,
    camera_elevation_deg=45.0,
    object_size_range=(0.02, 0.034),
)


def test_default_framing_shows_objects_large_and_the_tray_full():
    new = measure_framing(resets=8, seed=3)
    old = measure_framing(V1, resets=8, seed=3)
    assert new["object_px_mean"] >= 8.0
    assert new["tray_coverage"] > 0.45 > old["tray_coverage"]
    assert new["object_px_mean"] > 1.4 * old["object_px_mean"]
    assert 0.0 < new["arm_coverage_mean"] < 0.5  # the arm is in view, not filling it
    assert new["objects"] >= 8 and new["object_px_min"] <= new["object_px_mean"]


def test_measure_framing_bad_input():
    with pytest.raises(ValueError, match="resets must be an int >= 1, actual value: 0"):
        measure_framing(resets=0)
    with pytest.raises(ValueError, match="steps must be an int >= 0"):
        measure_framing(resets=1, steps=-1)


def test_cli_prints_json(capsys):
    assert main(["framing", "--resets", "2", "--camera-distance", "0.7"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["resets"] == 2 and out["object_px_mean"] > 0


def test_cli_impossible_camera_is_one_line(capsys):
    rc = main(["framing", "--resets", "1", "--camera-target", "0", "0", "0.3"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("ghvae framing: error: SceneConfig.camera_")


@pytest.mark.slow
def test_recorded_framing_is_reproduced():
    """The numbers in scene_metadata()['framing'] come from this measurement."""
    got = measure_framing(resets=100, steps=10)
    for key in ("object_px_mean", "tray_coverage", "arm_coverage_mean"):
        assert got[key] == pytest.approx(FRAMING[key], abs=1e-3), key
