"""Reader for real RoboNet HDF5 trajectories (one trajectory per file).

File layout read here (RoboNet's ``hdf5`` release; Dasari et al. 2019)::

    env/cam{i}_video/frames     uint8 1-d: mp4 bytes; attrs 'T', 'shape' (H, W, 3),
                                'image_format' ('RGB' | 'BGR')            -- "mp4" files
    env/cam{i}_video/frame{t}   uint8 1-d: jpg/png bytes per frame; attrs 'shape',
                                'image_format'                            -- "jpg" files
    env/state                   T x S   (optional here; usually x, y, z, theta, gripper;
                                fetch: T x 3)
    env/low_bound, high_bound   per-step action bounds (row 0 is used), optional
    policy/actions              (T-1) x A, A in {2, 3, 4, 5} (fetch: A = 2, x and y only);
                                some robots (google) store T rows for T frames
    metadata                    group whose attrs describe robot, primitives, bounds, ...
    file_version, misc/*        optional, copied into the returned metadata

Channel order follows RoboNet's own loader: mp4 frames decoded by imageio are in the order
``image_format`` names; jpg frames follow OpenCV's convention (the array handed to
``cv2.imencode`` was in ``image_format`` order), so a standard jpg decoder's RGB output is
flipped when ``image_format == 'RGB'``.

Mapping to our 64 x 64 frames and 4-d actions (DESIGN.md: dx, dy, dz, gripper; -1 open,
+1 closed):

- frames: resized to 64 x 64 by area averaging (each output pixel is the overlap-weighted
  mean of the input pixels it covers); the aspect ratio is *not* preserved (RoboNet's
  4:3 frames are stretched to 1:1, keeping the whole field of view).
- missing dimensions are padded as RoboNet's loader does (``pad_action_if_missing``,
  ``pad_state_if_missing``): 2-d actions (x, y) get dz = 0, 3-d actions (x, y, z) and 2-d
  ones get gripper 0 (neither open nor closed: the file does not say); states with fewer
  than 5 columns are padded with zero columns to T x 5.
- actions with as many rows as frames (T x A for T frames): the trailing row, which acts
  after the last frame, is dropped (RoboNet's loader never reads it either).
- x, y, z (columns 0-2, those present): divided per dimension by ``max(|low|, |high|)`` of the file's
  action bounds (``metadata`` attrs ``low_bound``/``high_bound``, else ``env/low_bound``
  row 0), so zero motion stays zero and the bound maps to +-1; then clipped to [-1, 1]. A
  file without bounds is scaled by its own per-dimension max ``|a|`` (recorded in the
  returned metadata as ``xyz_rule: "per-file max-abs"``).
- 5-d actions (x, y, z, theta, gripper): theta is dropped; the gripper is mapped affinely
  from ``[low[4], high[4]]`` to ``[-1, 1]`` (upper bound = closed = +1, RoboNet's
  convention), or clipped to [-1, 1] without bounds.
- 4-d actions (x, y, z, theta; RoboNet's "autograsp" primitive, the gripper is automatic):
  theta is dropped and the gripper is imputed as RoboNet's loader does: +1 where the next
  state's last column is above the midpoint of the gripper bounds (``low[-1]``,
  ``high[-1]`` when the bounds have 5 entries, else the column's own min/max), -1 below;
  0 when the file has no state.

Frames, actions and states are cut to a common length ``T = min(frames, states,
actions + 1)``, as RoboNet's loader does.

A directory of files from several robots is read by :class:`ghvae_env.data.VideoDataset`;
a file that cannot be read is skipped with one warning line naming it, and a summary line
gives the trajectories read per robot and the number skipped (:func:`read_robonet_files`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

__all__ = [
    "RoboNetFormatError",
    "read_robonet_file",
    "read_robonet_files",
    "list_robonet_files",
    "map_robonet_actions",
    "resize_area",
    "write_robonet_fixture",
    "ROBONET_SUFFIXES",
]

ROBONET_SUFFIXES = (".hdf5", ".h5")
IMAGE_SIZE = 64
ACTION_DIMS = (2, 3, 4, 5)  # RoboNet's robots: fetch 2 (x, y), 3 (x, y, z), autograsp 4, 5
STATE_DIM = 5  # x, y, z, theta, gripper; shorter states are zero-padded (RoboNet's loader)


class RoboNetFormatError(ValueError):
    """A RoboNet HDF5 file is unreadable, or lacks or malforms a required key."""


# -- small parts -----------------------------------------------------------------------------


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """float64 ``n_out x n_in``: row i = overlap of output pixel i with each input pixel."""
    edges = np.arange(n_out + 1) * (n_in / n_out)  # output pixel i spans [e_i, e_{i+1})
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n_in)[None, :]
    w = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return w / w.sum(axis=1, keepdims=True)


def resize_area(frames: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Area-average resize uint8 ``T x H x W x 3`` to ``T x size x size x 3`` (uint8)."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be T x H x W x 3, got shape {frames.shape}")
    t, h, w, _ = frames.shape
    if (h, w) == (size, size):
        return np.ascontiguousarray(frames, dtype=np.uint8)
    wr, wc = _area_weights(h, size), _area_weights(w, size)
    x = np.tensordot(frames.astype(np.float32), wc.astype(np.float32), axes=([2], [1]))
    # x: (T, H, 3, size)
    x = np.tensordot(wr.astype(np.float32), x, axes=([1], [1]))  # (size, T, 3, size)
    x = x.transpose(1, 0, 3, 2)  # (T, size, size, 3)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _json_safe(v: Any) -> Any:
    """HDF5 attribute values -> JSON-serialisable Python values."""
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray):
        return [_json_safe(x) for x in v.tolist()] if v.ndim else _json_safe(v.item())
    if isinstance(v, np.generic):
        return _json_safe(v.item())
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def map_robonet_actions(
    actions: np.ndarray,
    low_bound: np.ndarray | None = None,
    high_bound: np.ndarray | None = None,
    next_gripper_state: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """RoboNet actions ``N x A`` (A in {2, 3, 4, 5}) -> ours, float32 ``N x 4`` in [-1, 1].

    The rule is in the module docstring. ``next_gripper_state`` (``N``: the state's last
    column at ``t + 1``) is only used for 4-d actions.

    Returns:
        (actions, info) where info records the scales and rules used.
    """
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] not in ACTION_DIMS:
        raise ValueError(f"actions must be N x A with A in {ACTION_DIMS}, got shape {a.shape}")
    k = min(a.shape[1], 3)  # translation dims present; the others are padded with 0
    lo = None if low_bound is None else np.asarray(low_bound, dtype=np.float64).reshape(-1)
    hi = None if high_bound is None else np.asarray(high_bound, dtype=np.float64).reshape(-1)
    have_bounds = lo is not None and hi is not None and lo.size >= k and hi.size >= k
    if have_bounds:
        scale = np.maximum(np.abs(lo[:k]), np.abs(hi[:k]))
        xyz_rule = "bounds max-abs"
    else:
        scale = np.abs(a[:, :k]).max(axis=0) if len(a) else np.ones(k)
        xyz_rule = "per-file max-abs"
    scale = np.where(scale > 0, scale, 1.0)
    out = np.zeros((len(a), 4), dtype=np.float64)
    out[:, :k] = a[:, :k] / scale

    if a.shape[1] < 4:
        gripper_rule = f"{a.shape[1]}-d: {'dz and ' if k < 3 else ''}gripper padded with 0"
    elif a.shape[1] == 5:
        g = a[:, 4]
        if have_bounds and lo.size >= 5 and hi.size >= 5 and hi[4] > lo[4]:
            out[:, 3] = 2.0 * (g - lo[4]) / (hi[4] - lo[4]) - 1.0
            gripper_rule = "5-d: affine [low, high] -> [-1, 1]"
        else:
            out[:, 3] = g
            gripper_rule = "5-d: clipped to [-1, 1] (no bounds)"
    elif next_gripper_state is not None and len(next_gripper_state) == len(a):
        s = np.asarray(next_gripper_state, dtype=np.float64)
        if have_bounds and lo.size >= 5 and hi.size >= 5:
            mid = (lo[-1] + hi[-1]) / 2.0
        else:
            mid = (s.min() + s.max()) / 2.0 if len(s) else 0.0
        out[:, 3] = np.where(s > mid, 1.0, -1.0)
        gripper_rule = "4-d autograsp: imputed from next state's gripper vs midpoint"
    else:
        out[:, 3] = 0.0
        gripper_rule = "4-d autograsp: no state, gripper 0"
    info = {
        "source_action_dim": int(a.shape[1]),
        "xyz_scale": [float(x) for x in scale] + [1.0] * (3 - k),
        "xyz_rule": xyz_rule,
        "gripper_rule": gripper_rule,
    }
    return np.clip(out, -1.0, 1.0).astype(np.float32), info


# -- decoding --------------------------------------------------------------------------------


def _decode_mp4(data: bytes, where: str) -> np.ndarray:
    """mp4 bytes -> uint8 ``T x H x W x 3`` via imageio's ffmpeg plugin."""
    import imageio.v2 as imageio

    fd, tmp = tempfile.mkstemp(suffix=".mp4")  # the ffmpeg plugin needs a real file
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        reader = imageio.get_reader(tmp, format="FFMPEG")
        try:
            frames = [np.asarray(im)[..., :3] for im in reader]
        finally:
            reader.close()
    except Exception as e:  # imageio/ffmpeg raise a zoo of types on bad input
        raise RoboNetFormatError(f"{where}: cannot decode mp4 ({type(e).__name__}: {e})") from e
    finally:
        os.unlink(tmp)
    if not frames:
        raise RoboNetFormatError(f"{where}: mp4 holds no frames")
    return np.stack(frames).astype(np.uint8)


def _decode_image(data: bytes, where: str) -> np.ndarray:
    """jpg/png bytes -> uint8 ``H x W x 3`` (RGB as the file encodes it)."""
    import imageio.v3 as iio

    try:
        im = np.asarray(iio.imread(data))
    except Exception as e:  # Pillow raises several types on corrupt data
        raise RoboNetFormatError(f"{where}: cannot decode image ({type(e).__name__}: {e})") from e
    if im.ndim == 2:
        im = np.repeat(im[..., None], 3, axis=-1)
    return im[..., :3].astype(np.uint8)


def _attr_str(attrs: Any, key: str, default: str) -> str:
    v = attrs.get(key, default)
    return v.decode() if isinstance(v, bytes) else str(v)


def _read_frames(hf: Any, path: Path, camera: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode camera ``camera``: uint8 ``T x H x W x 3`` in RGB, plus video info."""
    key = f"env/cam{camera}_video"
    if "env" not in hf:
        raise RoboNetFormatError(f"{path}: missing key 'env'")
    if key not in hf:
        cams = sorted(k for k in hf["env"] if re.fullmatch(r"cam\d+_video", k))
        raise RoboNetFormatError(f"{path}: missing key '{key}' (cameras present: {cams})")
    group = hf[key]
    if "frames" in group:  # one mp4 per camera
        ds = group["frames"]
        where = f"{path}: '{key}/frames'"
        if ds.dtype != np.uint8 or ds.ndim != 1:
            raise RoboNetFormatError(
                f"{where} must be 1-d uint8 mp4 bytes, got {ds.dtype} {ds.shape}"
            )
        frames = _decode_mp4(ds[()].tobytes(), where)
        n = int(ds.attrs.get("T", len(frames)))
        if len(frames) < n:
            raise RoboNetFormatError(
                f"{where}: attrs say T={n} but the mp4 holds {len(frames)} frames"
            )
        frames = frames[:n]
        fmt = _attr_str(ds.attrs, "image_format", "RGB")
        encoding = "mp4"
        if fmt == "BGR":
            frames = frames[..., ::-1]
    else:  # one encoded image per frame
        idx = sorted(int(m.group(1)) for k in group if (m := re.fullmatch(r"frame(\d+)", k)))
        if not idx:
            raise RoboNetFormatError(f"{path}: missing key '{key}/frames' (or '{key}/frame0', ...)")
        if idx != list(range(len(idx))):
            raise RoboNetFormatError(
                f"{path}: '{key}' frame keys are not frame0..frame{len(idx) - 1}"
            )
        frames = np.stack(
            [
                _decode_image(group[f"frame{t}"][()].tobytes(), f"{path}: '{key}/frame{t}'")
                for t in idx
            ]
        )
        fmt = _attr_str(group["frame0"].attrs, "image_format", "BGR")
        encoding = "jpg"
        if fmt == "RGB":  # OpenCV convention: the encoded array was in image_format order
            frames = frames[..., ::-1]
    if fmt not in ("RGB", "BGR"):
        raise RoboNetFormatError(f"{path}: '{key}' image_format must be RGB or BGR, got {fmt!r}")
    info = {"encoding": encoding, "image_format": fmt, "source_shape": list(frames.shape[1:])}
    return np.ascontiguousarray(frames), info


def _bounds(hf: Any, meta: dict[str, Any]) -> tuple[np.ndarray | None, np.ndarray | None]:
    out = []
    for name in ("low_bound", "high_bound"):
        if name in meta:
            out.append(np.asarray(meta[name], dtype=np.float64).reshape(-1))
        elif f"env/{name}" in hf:
            v = np.asarray(hf[f"env/{name}"][()], dtype=np.float64)
            out.append(v[0] if v.ndim == 2 else v.reshape(-1))
        else:
            out.append(None)
    return out[0], out[1]


# -- public reader ---------------------------------------------------------------------------


def read_robonet_file(path: str | os.PathLike[str], camera: int = 0) -> dict[str, Any]:
    """Read one RoboNet trajectory and map it to our frames/actions (module docstring).

    Args:
        path: a RoboNet ``.hdf5`` file.
        camera: which ``env/cam{camera}_video`` to read.

    Returns:
        dict with ``frames`` uint8 ``T x 64 x 64 x 3``, ``actions`` float32 ``(T-1) x 4``
        in [-1, 1], ``states`` float32 ``T x S`` (``S`` = 0 without ``env/state``, at least
        5 otherwise, zero-padded) and
        ``metadata`` (file attrs, video info and the action mapping used; JSON-safe).

    Raises:
        RoboNetFormatError: the file cannot be opened as HDF5, or a required key is missing
            or malformed; the message names the file and the key.
    """
    import h5py

    p = Path(path)
    if not p.is_file():
        raise RoboNetFormatError(f"{p}: file does not exist")
    if isinstance(camera, bool) or not isinstance(camera, (int, np.integer)) or camera < 0:
        raise ValueError(f"camera must be an int >= 0, got {camera!r}")
    try:
        hf = h5py.File(p, "r")
    except OSError as e:
        raise RoboNetFormatError(f"{p}: not a readable HDF5 file ({e})") from e
    with hf:
        frames, video_info = _read_frames(hf, p, camera)
        if "policy/actions" not in hf:
            raise RoboNetFormatError(f"{p}: missing key 'policy/actions'")
        raw_actions = np.asarray(hf["policy/actions"][()])
        if raw_actions.ndim != 2 or raw_actions.shape[1] not in ACTION_DIMS:
            raise RoboNetFormatError(
                f"{p}: 'policy/actions' must be (T-1) x A with A in {ACTION_DIMS}, "
                f"got shape {raw_actions.shape}"
            )
        states = None
        if "env/state" in hf:
            states = np.asarray(hf["env/state"][()], dtype=np.float32)
            if states.ndim != 2:
                raise RoboNetFormatError(f"{p}: 'env/state' must be T x S, got {states.shape}")
        meta: dict[str, Any] = {}
        if "metadata" in hf:
            meta.update({k: _json_safe(v) for k, v in hf["metadata"].attrs.items()})
        if "misc" in hf and isinstance(hf["misc"], h5py.Group):
            for k, v in hf["misc"].items():
                if isinstance(v, h5py.Dataset) and v.size <= 64:
                    meta.setdefault(k, _json_safe(v[()]))
        if "file_version" in hf:
            meta.setdefault("file_version", _json_safe(hf["file_version"][()]))
        low, high = _bounds(hf, meta)

    action_rows = len(raw_actions)
    if action_rows == len(frames):  # T rows for T frames (google): the last acts after the end
        raw_actions = raw_actions[:-1]
    lengths = [len(frames), len(raw_actions) + 1] + ([len(states)] if states is not None else [])
    t = min(lengths)
    if t < 2:
        raise RoboNetFormatError(f"{p}: trajectory too short: frames/actions+1/states = {lengths}")
    if not np.all(np.isfinite(raw_actions[: t - 1])):
        raise RoboNetFormatError(f"{p}: 'policy/actions' holds NaN or inf")
    next_grip = states[1:t, -1] if states is not None and states.shape[1] > 0 else None
    actions, mapping = map_robonet_actions(raw_actions[: t - 1], low, high, next_grip)
    if states is None:
        states = np.zeros((t, 0), dtype=np.float32)
    source_state_dim = int(states.shape[1])
    if 0 < source_state_dim < STATE_DIM:
        states = np.pad(states, ((0, 0), (0, STATE_DIM - source_state_dim)))
    meta.update(
        {
            "source": "robonet",
            "file": p.name,
            "camera": int(camera),
            "video": video_info,
            "action_mapping": mapping,
            "lengths": {"frames": len(frames), "actions": action_rows, "used": t},
            "source_state_dim": source_state_dim,
        }
    )
    return {
        "frames": resize_area(frames[:t]),
        "actions": actions,
        "states": np.ascontiguousarray(states[:t], dtype=np.float32),
        "metadata": meta,
    }


_SKIPPABLE = (RoboNetFormatError, ValueError, OSError, KeyError)  # what a bad file raises


def read_robonet_files(
    paths: Sequence[str | os.PathLike[str]],
    camera: int = 0,
    *,
    label: str = "",
    log: TextIO | None = None,
) -> tuple[list[tuple[Path, dict[str, Any]]], dict[str, Any]]:
    """Read many RoboNet files, skipping those that cannot be read.

    Each skipped file gets one ``warning: skipped RoboNet file NAME: REASON`` line on ``log``
    (default ``sys.stderr``); one final line (``RoboNet (label): ...``) gives the trajectories
    read per robot (``metadata`` attr ``robot``, ``"unknown"`` without it) and the number
    skipped.

    Returns:
        ``([(path, trajectory dict of read_robonet_file), ...], summary)`` with summary
        ``{"robots": {robot: count}, "skipped": [{"file", "error"}, ...]}`` (JSON-safe).
    """
    if isinstance(camera, bool) or not isinstance(camera, (int, np.integer)) or camera < 0:
        raise ValueError(f"camera must be an int >= 0, got {camera!r}")
    log = sys.stderr if log is None else log
    read: list[tuple[Path, dict[str, Any]]] = []
    robots: dict[str, int] = {}
    skipped: list[dict[str, str]] = []
    for path in map(Path, paths):
        try:
            traj = read_robonet_file(path, camera=camera)
        except _SKIPPABLE as e:
            reason = str(e).removeprefix(f"{path}: ") or type(e).__name__
            skipped.append({"file": path.name, "error": reason})
            print(f"warning: skipped RoboNet file {path}: {reason}", file=log)
            continue
        robot = str(traj["metadata"].get("robot") or "unknown")
        robots[robot] = robots.get(robot, 0) + 1
        read.append((path, traj))
    per_robot = ", ".join(f"{r} {n}" for r, n in sorted(robots.items())) or "none"
    print(
        f"RoboNet{f' ({label})' if label else ''}: read {len(read)} of {len(read) + len(skipped)} trajectories "
        f"({per_robot}); skipped {len(skipped)} unreadable file(s)",
        file=log,
    )
    return read, {"robots": dict(sorted(robots.items())), "skipped": skipped}


def list_robonet_files(directory: str | os.PathLike[str]) -> list[Path]:
    """RoboNet files (``*.hdf5``, ``*.h5``, not hidden) in ``directory``, sorted by name."""
    d = Path(directory)
    return sorted(
        p
        for p in d.iterdir()
        if p.suffix in ROBONET_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


# -- fixtures --------------------------------------------------------------------------------


def _encode_mp4(frames: np.ndarray, fps: int) -> bytes:
    import imageio.v2 as imageio

    fd, tmp = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        writer = imageio.get_writer(
            tmp,
            format="FFMPEG",
            fps=fps,
            codec="libx264",
            quality=None,
            output_params=["-crf", "12"],  # near-lossless: fixtures compare pixels
            macro_block_size=2,  # yuv420p needs even sizes; no silent resize
        )
        try:
            for f in frames:
                writer.append_data(f)
        finally:
            writer.close()
        return Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)


def write_robonet_fixture(
    path: str | os.PathLike[str],
    frames: np.ndarray | Sequence[np.ndarray],
    actions: np.ndarray,
    states: np.ndarray | None = None,
    *,
    video: str = "mp4",
    image_format: str | None = None,
    metadata: dict[str, Any] | None = None,
    low_bound: Sequence[float] | None = None,
    high_bound: Sequence[float] | None = None,
    fps: int = 10,
) -> Path:
    """Write a small RoboNet-layout HDF5 file (tests, examples, format documentation).

    Args:
        path: output ``.hdf5`` path.
        frames: uint8 ``T x H x W x 3`` RGB (even H, W for mp4), or a list of them, one per
            camera.
        actions: ``(T-1) x A`` raw RoboNet actions (A = 4 or 5).
        states: optional ``T x S``, written to ``env/state``.
        video: ``"mp4"`` (one mp4 per camera) or ``"jpg"`` (one jpg per frame).
        image_format: channel-order attribute to record; default RoboNet's (``RGB`` for
            mp4, ``BGR`` for jpg). Pixels are stored so that :func:`read_robonet_file`
            returns ``frames`` either way.
        metadata: extra attrs for the ``metadata`` group.
        low_bound, high_bound: action bounds, stored as ``metadata`` attrs.
        fps: mp4 frame rate.
    """
    import h5py
    import imageio.v3 as iio

    if video not in ("mp4", "jpg"):
        raise ValueError(f"video must be 'mp4' or 'jpg', got {video!r}")
    fmt = image_format or ("RGB" if video == "mp4" else "BGR")
    if fmt not in ("RGB", "BGR"):
        raise ValueError(f"image_format must be 'RGB' or 'BGR', got {fmt!r}")
    cams = [frames] if isinstance(frames, np.ndarray) else list(frames)
    for c, fr in enumerate(cams):
        if fr.dtype != np.uint8 or fr.ndim != 4 or fr.shape[-1] != 3:
            raise ValueError(f"frames[{c}] must be uint8 T x H x W x 3, got {fr.dtype} {fr.shape}")
        if video == "mp4" and (fr.shape[1] % 2 or fr.shape[2] % 2):
            raise ValueError(f"frames[{c}] H and W must be even for mp4, got {fr.shape[1:3]}")
    actions = np.asarray(actions)
    p = Path(path)
    with h5py.File(p, "w") as hf:
        hf.create_dataset("file_version", data="0.1.0")
        env = hf.create_group("env")
        env.attrs["n_cams"] = len(cams)
        env.attrs["cam_encoding"] = video
        for c, fr in enumerate(cams):
            group = env.create_group(f"cam{c}_video")
            if video == "mp4":
                stored = fr if fmt == "RGB" else fr[..., ::-1]
                data = np.frombuffer(_encode_mp4(np.ascontiguousarray(stored), fps), np.uint8)
                ds = group.create_dataset("frames", data=data)
                ds.attrs["T"] = len(fr)
                ds.attrs["shape"] = fr.shape[1:]
                ds.attrs["image_format"] = fmt
            else:
                stored = fr if fmt == "BGR" else fr[..., ::-1]  # OpenCV convention
                for t, im in enumerate(stored):
                    enc = iio.imwrite(
                        "<bytes>", np.ascontiguousarray(im), extension=".jpg", quality=95
                    )
                    ds = group.create_dataset(f"frame{t}", data=np.frombuffer(enc, np.uint8))
                    ds.attrs["shape"] = im.shape
                    ds.attrs["image_format"] = fmt
        if states is not None:
            env.create_dataset("state", data=np.asarray(states))
        hf.create_group("policy").create_dataset("actions", data=actions)
        meta = hf.create_group("metadata")
        for k, v in (metadata or {}).items():
            meta.attrs[k] = v
        if low_bound is not None:
            meta.attrs["low_bound"] = np.asarray(low_bound, dtype=np.float64)
        if high_bound is not None:
            meta.attrs["high_bound"] = np.asarray(high_bound, dtype=np.float64)
        hf.create_group("misc")
    return p
