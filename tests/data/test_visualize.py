"""``ghvae show``: a contact sheet of dataset trajectories (ghvae_env.data.visualize)."""

from __future__ import annotations

from ghvae_env.cli import main


def test_show_writes_png(tmp_path, toy_data):
    import imageio.v3 as iio

    out = tmp_path / "sheet.png"
    assert (
        main(
            ["show", "--data", toy_data, "--out", str(out), "--trajectories", "2", "--frames", "3"]
        )
        == 0
    )
    img = iio.imread(out)
    assert img.shape == (2 * 68 * 2, 3 * 68 * 2, 3)
    assert main(["show", "--data", toy_data, "--out", str(out), "--trajectories", "0"]) == 2
