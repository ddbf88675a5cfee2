"""The optimised model code computes what the pre-optimisation code computed (issue 11).

Golden values come from ``tests/model/make_equivalence_golden.py``, run on the code before
the speed work; regenerate (only when the model's maths is meant to change) with

    OMP_NUM_THREADS=1 python tests/model/make_equivalence_golden.py
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from ghvae_env.model import load_model

_spec = importlib.util.spec_from_file_location(
    "make_equivalence_golden", Path(__file__).with_name("make_equivalence_golden.py")
)
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


@pytest.fixture(scope="module")
def bundled():
    """The first bundled model (scene v1), kept in tests/model/data/ for this check."""
    return load_model(golden.CHECKPOINT)


@pytest.fixture(scope="module")
def stored():
    return np.load(golden.GOLDEN)


def test_imagined_frames_match_old_code_within_one_grey_level(bundled, stored, one_torch_thread):
    frames = golden.imagined_frames(bundled)
    assert frames.shape == stored["frames"].shape
    assert np.abs(frames - stored["frames"]).max() <= 1.0 / 255.0


def test_stage_losses_match_old_code(bundled, stored, one_torch_thread):
    """loss, mse, grad norm and the loss after one SGD step within 1e-4; KL (tens of nats)
    to 1e-5 relative."""
    got, want = golden.stage_losses(bundled), stored["losses"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got[:, [0, 1, 3, 4]], want[:, [0, 1, 3, 4]], rtol=0, atol=1e-4)
    np.testing.assert_allclose(got[:, 2], want[:, 2], rtol=1e-5)


def test_returned_frames_are_contiguous(bundled):
    """Callers may .view() / .numpy() the frames: the channels-last internals stay inside."""
    ctx = torch.rand(2, 2, 3, 64, 64)
    state = bundled.start(ctx, torch.zeros(2, 1, 4))
    frame, state = bundled.step(state, torch.zeros(2, 4))
    assert frame.is_contiguous()
    assert bundled.rollout(ctx, torch.zeros(2, 3, 4)).is_contiguous()


def test_chunked_steps_equal_one_batch(tiny_model, monkeypatch, one_torch_thread):
    """GHVAE.step runs large batches in cache-sized chunks: same frames, states and samples."""
    import ghvae_env.model.ghvae as ghvae

    ctx, actions = torch.rand(5, 2, 3, 64, 64), torch.rand(5, 4, 4)
    whole = tiny_model.rollout(ctx, actions, generator=torch.Generator().manual_seed(3))
    monkeypatch.setattr(ghvae, "STEP_CHUNK", 2)
    chunked = tiny_model.rollout(ctx, actions, generator=torch.Generator().manual_seed(3))
    assert chunked.is_contiguous() and chunked.shape == whole.shape
    assert (chunked - whole).abs().max() <= 1e-5


def test_parallel_chunks_equal_sequential_chunks(tiny_model, monkeypatch):
    """With 2 torch threads, GHVAE.step runs its chunks side by side on 2 one-thread pool
    threads: the same frames and samples as one chunk at a time; the caller keeps 2 threads."""
    import ghvae_env.model.ghvae as ghvae

    ctx, actions = torch.rand(40, 2, 3, 64, 64), torch.rand(40, 4, 4) * 2 - 1
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr(ghvae.GHVAE, "parallel_chunks", False)
        seq = tiny_model.rollout(ctx, actions, generator=torch.Generator().manual_seed(3))
        monkeypatch.setattr(ghvae.GHVAE, "parallel_chunks", True)
        calls = []
        real = ghvae._chunk_pool
        monkeypatch.setattr(ghvae, "_chunk_pool", lambda n: calls.append(n) or real(n))
        par = tiny_model.rollout(ctx, actions, generator=torch.Generator().manual_seed(3))
        assert calls and set(calls) == {2}  # the parallel path ran
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert par.is_contiguous() and par.shape == seq.shape
    assert (par - seq).abs().max() <= 1e-5


def test_chunk_bounds_cover_the_batch():
    from ghvae_env.model.ghvae import STEP_CHUNK, _chunk_bounds

    for batch in (1, 7, 16, 64, 65, 128, 200, 257):
        for workers in (1, 2, 3):
            bounds = _chunk_bounds(batch, workers)
            assert [s for s, _ in bounds] == [
                sum(n for _, n in bounds[:i]) for i in range(len(bounds))
            ]
            assert sum(n for _, n in bounds) == batch
            assert max(n for _, n in bounds) <= STEP_CHUNK
            assert max(n for _, n in bounds) - min(n for _, n in bounds) <= 1
            if workers > 1 and batch >= workers:
                assert len(bounds) % workers == 0
