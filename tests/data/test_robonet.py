"""RoboNet HDF5 reader: fixture round trips (mp4, jpg), action mapping, errors, dataset."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from ghvae_env.data import RoboNetFormatError, VideoDataset, read_robonet_file
from ghvae_env.data.robonet import map_robonet_actions, resize_area, write_robonet_fixture
from ghvae_env.data.toy import rollout_episode

BOUNDS = {"low_bound": [-0.05, -0.05, -0.08, -1.0, 0.0], "high_bound": [0.05, 0.05, 0.08, 1.0, 1.0]}


@pytest.fixture(scope="module")
def episode():
    return rollout_episode(seed=4, steps=8)


def _robonet_actions(ours: np.ndarray) -> np.ndarray:
    """Our 4-d actions -> RoboNet 5-d (x, y, z, theta, gripper) in BOUNDS units."""
    x = ours.astype(np.float64)
    theta = np.linspace(-1, 1, len(x))[:, None]
    return np.concatenate([x[:, :2] * 0.05, x[:, 2:3] * 0.08, theta, (x[:, 3:] + 1) / 2], axis=1)


@pytest.mark.parametrize(
    ("video", "image_format"), [("mp4", "RGB"), ("mp4", "BGR"), ("jpg", "BGR"), ("jpg", "RGB")]
)
def test_round_trip(tmp_path, episode, video, image_format):
    path = write_robonet_fixture(
        tmp_path / "traj.hdf5",
        episode["frames"],
        _robonet_actions(episode["actions"]),
        episode["states"][:, :5],
        video=video,
        image_format=image_format,
        metadata={"robot": "sawyer", "primitives": "none"},
        **BOUNDS,
    )
    traj = read_robonet_file(path)
    frames = traj["frames"]
    assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8
    err = np.abs(frames.astype(np.int16) - episode["frames"]).astype(np.float64)
    assert err.mean() < 4.0  # lossy codecs, but colours and layout survive
    # channel order is right: the red/green/blue blocks keep their colour
    assert (
        np.abs(frames.astype(np.float64).mean((0, 1, 2)) - episode["frames"].mean((0, 1, 2))).max()
        < 2.0
    )
    np.testing.assert_allclose(traj["actions"], episode["actions"], atol=1e-5)
    assert traj["actions"].dtype == np.float32
    np.testing.assert_array_equal(traj["states"], episode["states"][:, :5])
    meta = traj["metadata"]
    assert meta["robot"] == "sawyer" and meta["video"]["encoding"] == video
    assert meta["action_mapping"]["xyz_rule"] == "bounds max-abs"


def test_non_square_frames_are_area_resized(tmp_path):
    t = 5
    frames = np.zeros((t, 48, 64, 3), np.uint8)
    frames[:, :24] = (200, 40, 40)  # top half red, bottom half black
    actions = np.zeros((t - 1, 5), np.float32)
    path = write_robonet_fixture(tmp_path / "wide.hdf5", frames, actions, video="jpg")
    out = read_robonet_file(path)["frames"]
    assert out.shape == (t, 64, 64, 3)
    assert np.abs(out[:, :28, :, 0].astype(int) - 200).max() < 12  # stretched, still top half red
    assert out[:, 36:, :, 0].max() < 12


def test_resize_area_is_a_box_mean():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(2, 128, 192, 3), dtype=np.uint8)
    expected = x.reshape(2, 64, 2, 64, 3, 3).astype(np.float64).mean(axis=(2, 4))
    np.testing.assert_allclose(resize_area(x), expected, atol=0.51)
    same = x[:, :64, :64]
    assert np.array_equal(resize_area(same), same)


def test_action_mapping_rules():
    # 4-d autograsp: xyz by bounds, gripper imputed from the next state vs the bound midpoint
    raw = np.array([[0.05, -0.025, 0.0, 0.3], [0.1, 0.0, -0.08, 0.0]])
    mapped, info = map_robonet_actions(
        raw, BOUNDS["low_bound"], BOUNDS["high_bound"], np.array([0.9, 0.1])
    )
    np.testing.assert_allclose(
        mapped, [[1.0, -0.5, 0.0, 1.0], [1.0, 0.0, -1.0, -1.0]]
    )  # clipped to 1
    assert info["source_action_dim"] == 4 and "imputed" in info["gripper_rule"]
    # without bounds: per-file max-abs; without state the gripper is 0
    mapped, info = map_robonet_actions(raw)
    assert info["xyz_rule"] == "per-file max-abs" and np.abs(mapped[:, :3]).max() == 1.0
    assert np.all(mapped[:, 3] == 0)
    # 3-d (x, y, z): the gripper is padded with 0; 2-d (fetch: x, y): dz too
    mapped, info = map_robonet_actions(raw[:, :3], BOUNDS["low_bound"], BOUNDS["high_bound"])
    np.testing.assert_allclose(mapped, [[1.0, -0.5, 0.0, 0.0], [1.0, 0.0, -1.0, 0.0]])
    assert info["gripper_rule"] == "3-d: gripper padded with 0"
    mapped, info = map_robonet_actions(raw[:, :2], [-0.05, -0.05], [0.05, 0.05])
    np.testing.assert_allclose(mapped, [[1.0, -0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert info["gripper_rule"] == "2-d: dz and gripper padded with 0"
    with pytest.raises(ValueError, match=r"A in \(2, 3, 4, 5\), got shape \(2, 6\)"):
        map_robonet_actions(np.zeros((2, 6)))


def test_lengths_are_aligned(tmp_path, episode):
    long_actions = np.zeros((12, 5), np.float32)  # more actions than frames - 1
    path = write_robonet_fixture(
        tmp_path / "a.hdf5", episode["frames"], long_actions, np.zeros((10, 5))
    )
    traj = read_robonet_file(path)
    assert traj["frames"].shape[0] == 8 and traj["actions"].shape == (7, 4)
    assert traj["states"].shape == (8, 5) and traj["metadata"]["lengths"]["used"] == 8


def test_unreadable_and_malformed_files(tmp_path, episode):
    junk = tmp_path / "junk.hdf5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(RoboNetFormatError, match="junk.hdf5: not a readable HDF5 file"):
        read_robonet_file(junk)
    with pytest.raises(RoboNetFormatError, match="gone.hdf5: file does not exist"):
        read_robonet_file(tmp_path / "gone.hdf5")

    good = write_robonet_fixture(tmp_path / "good.hdf5", episode["frames"], np.zeros((7, 5)))
    with pytest.raises(
        RoboNetFormatError,
        match=r"good.hdf5: missing key 'env/cam1_video' \(cameras present: \['cam0_video'\]\)",
    ):
        read_robonet_file(good, camera=1)

    no_actions = write_robonet_fixture(
        tmp_path / "no_actions.hdf5", episode["frames"], np.zeros((7, 5))
    )
    with h5py.File(no_actions, "a") as hf:
        del hf["policy/actions"]
    with pytest.raises(RoboNetFormatError, match="no_actions.hdf5: missing key 'policy/actions'"):
        read_robonet_file(no_actions)

    bad_dim = write_robonet_fixture(tmp_path / "bad_dim.hdf5", episode["frames"], np.zeros((7, 6)))
    with pytest.raises(
        RoboNetFormatError, match=r"bad_dim.hdf5: 'policy/actions' must be .* got shape \(7, 6\)"
    ):
        read_robonet_file(bad_dim)

    bad_video = write_robonet_fixture(
        tmp_path / "bad_video.hdf5", episode["frames"], np.zeros((7, 5))
    )
    with h5py.File(bad_video, "a") as hf:
        del hf["env/cam0_video/frames"]
        hf["env/cam0_video"].create_dataset(
            "frames", data=np.frombuffer(b"\x00garbage" * 50, np.uint8)
        )
    with pytest.raises(
        RoboNetFormatError, match="bad_video.hdf5: 'env/cam0_video/frames': cannot decode mp4"
    ):
        read_robonet_file(bad_video)

    no_video = tmp_path / "no_video.hdf5"
    with h5py.File(no_video, "w") as hf:
        hf.create_group("env/cam0_video")
        hf.create_dataset("policy/actions", data=np.zeros((3, 5)))
    with pytest.raises(
        RoboNetFormatError, match=r"no_video.hdf5: missing key 'env/cam0_video/frames'"
    ):
        read_robonet_file(no_video)
    assert issubclass(RoboNetFormatError, ValueError)


def test_dataset_reads_a_robonet_directory(tmp_path):
    for i in range(4):
        ep = rollout_episode(seed=20 + i, steps=6)
        write_robonet_fixture(
            tmp_path / f"traj_{i}.hdf5", ep["frames"], _robonet_actions(ep["actions"]),
            ep["states"][:, :5], video="mp4" if i % 2 else "jpg", **BOUNDS,
        )  # fmt: skip
    ds = VideoDataset(tmp_path, window=4, split="all")
    assert ds.format == "robonet" and ds.num_trajectories == 4 and len(ds) == 4 * 3
    item = ds[0]
    assert item["frames"].shape == (4, 64, 64, 3) and item["actions"].shape == (3, 4)
    assert ds.trajectory_keys[0] == "file:traj_0.hdf5"
    prov = ds.provenance
    assert prov["format"] == "robonet" and prov["scene"]["scene"] == "robonet"
    frames, actions = ds.sample_batch(3, np.random.default_rng(0))
    assert frames.shape == (3, 4, 64, 64, 3) and actions.dtype == np.float32
    train = VideoDataset(tmp_path, window=4, split="train", heldout_fraction=0.5)
    assert all(k in ds.trajectory_keys for k in train.trajectory_keys)


def _fetch(tmp_path, seed: int, name: str):
    """A fetch-like file: policy/actions (T-1) x 2 (x, y), env/state T x 3."""
    ep = rollout_episode(seed=seed, steps=8)
    actions = ep["actions"][:, :2].astype(np.float64) * 0.05
    return write_robonet_fixture(
        tmp_path / name, ep["frames"], actions, ep["states"][:, :3], video="jpg",
        metadata={"robot": "fetch"}, low_bound=[-0.05, -0.05], high_bound=[0.05, 0.05],
    ), ep  # fmt: skip


def _google(tmp_path, seed: int, name: str):
    """A google-like file: T x 5 actions for T frames (a trailing extra row)."""
    ep = rollout_episode(seed=seed, steps=8)
    actions = _robonet_actions(np.concatenate([ep["actions"], ep["actions"][-1:]]))  # (8, 5)
    return write_robonet_fixture(
        tmp_path / name, ep["frames"], actions, ep["states"][:, :5], video="jpg",
        metadata={"robot": "google"}, **BOUNDS,
    ), ep  # fmt: skip


def test_fetch_two_d_actions_and_three_d_states_are_padded(tmp_path):
    path, ep = _fetch(tmp_path, 1, "fetch.hdf5")
    traj = read_robonet_file(path)
    assert traj["actions"].shape == (7, 4) and traj["states"].shape == (8, 5)
    np.testing.assert_allclose(traj["actions"][:, :2], ep["actions"][:, :2], atol=1e-5)
    assert (traj["actions"][:, 2:] == 0).all()  # dz and gripper padded
    np.testing.assert_array_equal(traj["states"][:, :3], ep["states"][:, :3])
    assert (traj["states"][:, 3:] == 0).all()
    assert traj["metadata"]["source_state_dim"] == 3
    assert traj["metadata"]["action_mapping"]["source_action_dim"] == 2


def test_actions_with_as_many_rows_as_frames_drop_the_trailing_row(tmp_path):
    path, ep = _google(tmp_path, 2, "google.hdf5")
    traj = read_robonet_file(path)
    assert traj["frames"].shape[0] == 8 and traj["actions"].shape == (7, 4)
    np.testing.assert_allclose(traj["actions"], ep["actions"], atol=1e-5)
    assert traj["metadata"]["lengths"] == {"frames": 8, "actions": 8, "used": 8}


def test_a_directory_of_several_robots_skips_unreadable_files(tmp_path, capsys):
    """sawyer (5-d), fetch (2-d), google (T rows) and a junk file: 3 read, 1 skipped."""
    ep = rollout_episode(seed=3, steps=8)
    write_robonet_fixture(
        tmp_path / "sawyer.hdf5", ep["frames"], _robonet_actions(ep["actions"]),
        ep["states"][:, :5], video="jpg", metadata={"robot": "sawyer"}, **BOUNDS,
    )  # fmt: skip
    _fetch(tmp_path, 1, "fetch.hdf5")
    _google(tmp_path, 2, "google.hdf5")
    (tmp_path / "broken.hdf5").write_bytes(b"truncated download")
    ds = VideoDataset(tmp_path, window=4, split="all")
    assert ds.num_trajectories == 3 and ds.trajectory_keys == [
        "file:fetch.hdf5", "file:google.hdf5", "file:sawyer.hdf5"
    ]  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert err[0].startswith("warning: skipped RoboNet file ") and "broken.hdf5" in err[0]
    assert err[1] == (
        f"RoboNet (all split of {tmp_path}): read 3 of 4 trajectories "
        "(fetch 1, google 1, sawyer 1); skipped 1 unreadable file(s)"
    )
    scene = ds.provenance["scene"]
    assert scene["robots"] == {"fetch": 1, "google": 1, "sawyer": 1}
    assert [s["file"] for s in scene["skipped_files"]] == ["broken.hdf5"]
    # ghvae train on the same directory: no crash, per-robot counts for each split it reads
    from ghvae_env.cli import main

    run = tmp_path.parent / f"{tmp_path.name}_run"
    argv = ["train", "--data", str(tmp_path), "--out", str(run), "--preset", "tiny"]
    argv += ["--steps-per-module", "1", "--horizon", "4", "--batch-size", "2", "--no-progress"]
    assert main(argv + ["--eval-clips", "2"]) == 0
    err = capsys.readouterr().err
    assert "warning: skipped RoboNet file" in err and "broken.hdf5" in err
    assert f"RoboNet (train split of {tmp_path}): read" in err
    assert (run / "model.pt").is_file()
