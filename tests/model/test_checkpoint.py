from __future__ import annotations

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
    with pytest.raises(CheckpointError, match="safely"):
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
