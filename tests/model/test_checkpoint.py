from __future__ import annotations

import numpy as np
import pytest
import torch

from ghvae_env.model import (
    GHVAE,
    CheckpointError,
    GHVAEConfig,
    load_model,
    read_checkpoint,
    save_checkpoint,
)


def _save(tmp_path, model, name="m.pt"):
    return save_checkpoint(
        tmp_path / name,
        model,
        trained_modules=model.num_modules,
        stage="greedy-2",
        provenance={"dataset": {"root": "/x"}},
    )


def test_round_trip_bitwise(tmp_path, tiny_model):
    path = _save(tmp_path, tiny_model)
    loaded = load_model(path)
    assert loaded.config == tiny_model.config
    for (k, a), (_, b) in zip(
        tiny_model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k
    assert loaded.checkpoint_info["stage"] == "greedy-2"
    assert loaded.checkpoint_info["provenance"]["dataset"]["root"] == "/x"
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    payload = read_checkpoint(path)
    assert payload["package_version"] and payload["torch_version"] == torch.__version__
    ctx, acts = torch.rand(1, 2, 3, 64, 64), torch.rand(1, 4, 4)
    assert torch.equal(
        tiny_model.rollout(ctx, acts, generator=torch.Generator().manual_seed(0)),
        loaded.rollout(ctx, acts, generator=torch.Generator().manual_seed(0)),
    )


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_model(tmp_path / "nope.pt")


def test_truncated_file_names_file(tmp_path, tiny_model):
    path = _save(tmp_path, tiny_model)
    data = path.read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_model(bad)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_model(empty)


def test_not_a_ghvae_checkpoint(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not a ghvae-env checkpoint"):
        load_model(other)


def test_unsafe_pickle_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "ghvae-env-checkpoint", "x": Evil()}, path)
    with pytest.raises(CheckpointError, match=r"evil.pt holds Python objects.*the global print"):
        load_model(path)


def _corrupt_pickle(tmp_path, tiny_model):
    """A complete zip archive whose data.pkl is garbage (torch.load: pop from empty list)."""
    import zipfile

    src = _save(tmp_path, tiny_model)
    bad = tmp_path / "badpickle.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            zout.writestr(item, data[::-1] if item.filename.endswith("data.pkl") else data)
    return bad


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("random", r"random.pt is not a torch checkpoint \(starts with bytes"),
        ("text", r"text.pt is a text file \(starts with 'hello"),
        ("npy", r"npy.pt is a NumPy .npy array file"),
        ("pickle", r"pickle.pt is a raw pickle"),
        ("list", r"list.pt is not a ghvae-env checkpoint: it holds a list"),
        ("state_dict", r"state_dict.pt is not a ghvae-env checkpoint: .*keys are \['w'\]"),
        ("badpickle", r"badpickle.pt is corrupt: its data could not be unpickled \(\w+Error"),
        ("truncated", r"truncated.pt is a truncated or corrupt zip archive"),
    ],
)
def test_junk_and_foreign_checkpoints_say_which_file_and_what(tmp_path, tiny_model, kind, expected):
    import pickle

    path = tmp_path / f"{kind}.pt"
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "text":
        path.write_text("hello, I am not a checkpoint\n")
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"format": "ghvae-env-checkpoint"}))
    elif kind == "list":
        torch.save([1, 2], path)
    elif kind == "state_dict":
        torch.save({"w": torch.zeros(2)}, path)
    elif kind == "badpickle":
        path = _corrupt_pickle(tmp_path, tiny_model)
    else:
        data = _save(tmp_path, tiny_model).read_bytes()
        path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=expected):
        load_model(path)


def test_mismatched_weights(tmp_path, tiny_model):
    path = _save(tmp_path, tiny_model)
    payload = torch.load(path, weights_only=True)
    payload["config"]["hidden_channels"] = [16, 32]
    payload["config"]["lstm_channels"] = [16, 32]
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="shape"):
        load_model(tmp_path / "mismatch.pt")
    payload = torch.load(path, weights_only=True)
    del payload["state_dict"]["blocks.0.encoder.down.0.weight"]
    torch.save(payload, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="missing keys"):
        load_model(tmp_path / "missing.pt")


def test_atomic_save_keeps_old_file_on_failure(tmp_path, tiny_model, monkeypatch):
    path = _save(tmp_path, tiny_model)
    before = path.read_bytes()
    other = GHVAE(GHVAEConfig.preset("tiny"))

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("ghvae_env.model.checkpoint.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path, other)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind


def test_sampling_temperature_is_recorded_in_place_and_read_back(tmp_path, tiny_model):
    from ghvae_env.model.checkpoint import model_temperature, set_sampling_temperature

    path = _save(tmp_path, tiny_model)
    assert model_temperature(load_model(path)) == 1.0  # none recorded: the prior as trained
    weights = read_checkpoint(path)["state_dict"]
    got = set_sampling_temperature(path, 0.5, chosen_on="validation starts 20000..")
    assert got == {"temperature": 0.5, "chosen_on": "validation starts 20000.."}
    loaded = load_model(path)
    assert model_temperature(loaded) == 0.5 and loaded.checkpoint_info["stage"] == "greedy-2"
    for k, v in read_checkpoint(path)["state_dict"].items():
        assert torch.equal(v, weights[k]), k
    for bad, match in [(-1.0, "temperature must be"), (0.5, "chosen_on")]:
        with pytest.raises(ValueError, match=match):
            set_sampling_temperature(path, bad, chosen_on="" if bad == 0.5 else "x")
    assert model_temperature(load_model(path)) == 0.5  # a refused call changed nothing
    payload = read_checkpoint(path)
    payload["sampling"] = {"temperature": float("nan")}
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="bad field 'sampling'"):
        load_model(tmp_path / "bad.pt")
