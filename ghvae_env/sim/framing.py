"""How the tabletop camera frames the scene, measured: ``ghvae framing``.

Three numbers, each averaged over ``resets`` episode starts drawn like the dataset's:

* ``object_px``: how many pixels an object spans at ``image_size``. Per object, the eight
  corners of its oriented bounding box (box half extents; radius x radius x half height for
  cylinders and balls) are projected with the scene's pinhole camera model
  (:meth:`TabletopScene.project_to_pixels`); its size is the geometric mean of the projected
  row and column spans. Bounding boxes slightly overstate round silhouettes (a ball's
  projected box is ~1.1-1.2x its disc).
* ``tray_coverage``: the share of the image inside the projected inner tray rectangle
  (pixel centres tested against the projected quadrilateral).
* ``arm_coverage``: the share of pixels the arm changes: the frame against the same state
  rendered with the arm stowed out of view (:meth:`TabletopScene.render_goal`), a pixel
  counting when any channel differs by more than 24/255. The robot base and the table
  behind it are drawn in both, so they do not count.

``ghvae framing`` prints them for the default scene (or a changed camera, e.g.
``--camera-distance 0.6``) and ``scene_metadata()`` records the default scene's values
(measured by this module, written into ``FRAMING`` below by hand with the command beside).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ghvae_env.sim.scene import SceneConfig, TabletopScene

__all__ = ["measure_framing", "object_pixel_sizes", "tray_coverage", "arm_coverage"]

_ARM_DIFF = 24  # uint8 levels: a pixel the arm covers differs by more than this in a channel


def object_pixel_sizes(scene: TabletopScene) -> np.ndarray:
    """Projected size (px, geometric mean of row and column spans) of each object, (n,)."""
    from ghvae_env.sim.scene import _geom_params

    sizes = []
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    for i, obj in enumerate(scene.objects):
        _, _, half = _geom_params(obj)
        body = scene._pool[(i, obj.shape)]["body"]
        rot = scene._data.xmat[body].reshape(3, 3)
        centre = scene._data.xpos[body]
        corners = centre + (signs * half) @ rot.T
        px = scene.project_to_pixels(corners)
        span = px.max(axis=0) - px.min(axis=0)
        sizes.append(float(np.sqrt(max(span[0], 0.0) * max(span[1], 0.0))))
    return np.asarray(sizes)


def tray_coverage(scene: TabletopScene) -> float:
    """Share of the image's pixel centres inside the projected inner tray rectangle."""
    cfg = scene.config
    e, z = cfg.tray_half_extent, cfg.table_height
    corners = np.array([[e, e, z], [-e, e, z], [-e, -e, z], [e, -e, z]])
    poly = scene.project_to_pixels(corners)  # (4, 2) (row, col), a convex quadrilateral
    n = cfg.image_size
    rr, cc = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    pts = np.stack([rr.ravel(), cc.ravel()], axis=1).astype(np.float64)
    signs = []
    for k in range(4):
        a, b = poly[k], poly[(k + 1) % 4]
        cross = (b[0] - a[0]) * (pts[:, 1] - a[1]) - (b[1] - a[1]) * (pts[:, 0] - a[0])
        signs.append(cross)
    s = np.stack(signs, axis=1)
    inside = np.all(s >= 0, axis=1) | np.all(s <= 0, axis=1)
    return float(inside.mean())


def arm_coverage(scene: TabletopScene) -> float:
    """Share of pixels that change when the arm is stowed out of view."""
    frame = scene.render().astype(np.int16)
    stowed = scene.render_goal(scene.object_positions).astype(np.int16)
    return float((np.abs(frame - stowed).max(axis=2) > _ARM_DIFF).mean())


def measure_framing(
    config: SceneConfig | None = None, resets: int = 100, seed: int = 0, steps: int = 0
) -> dict[str, Any]:
    """Mean object size (px), tray and arm coverage over ``resets`` episode starts.

    ``steps > 0`` also rolls the random interaction policy that many steps per reset and
    measures the arm at every step (where the arm works, not only where it starts).
    """
    from ghvae_env.sim.policy import PolicyConfig, RandomInteractionPolicy
    from ghvae_env.sim.scene import SceneConfig, _get_scene

    if isinstance(resets, bool) or not isinstance(resets, int) or resets < 1:
        raise ValueError(f"resets must be an int >= 1, actual value: {resets!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, actual value: {steps!r}")
    config = config if config is not None else SceneConfig()
    scene = _get_scene(config)
    sizes: list[float] = []
    arm: list[float] = []
    tray = None
    for r in range(resets):
        scene_seq, policy_seq = np.random.SeedSequence([seed, r]).spawn(2)
        scene.reset(np.random.default_rng(scene_seq))
        sizes.extend(object_pixel_sizes(scene).tolist())
        arm.append(arm_coverage(scene))
        if tray is None:
            tray = tray_coverage(scene)
        if steps:
            policy = RandomInteractionPolicy(
                PolicyConfig(),
                table_top=config.table_top,
                action_scale_m=config.action_scale_m,
                rng=np.random.default_rng(policy_seq),
            )
            policy.reset(scene.objects)
            for _ in range(steps):
                scene.step(policy.act(scene.eef_pos, scene.object_positions))
                arm.append(arm_coverage(scene))
    s = np.asarray(sizes)
    return {
        "resets": resets,
        "seed": seed,
        "policy_steps": steps,
        "objects": int(s.size),
        "object_px_mean": round(float(s.mean()), 2),
        "object_px_min": round(float(s.min()), 2),
        "object_px_p10": round(float(np.percentile(s, 10)), 2),
        "object_px_max": round(float(s.max()), 2),
        "tray_coverage": round(float(tray), 3),
        "arm_coverage_mean": round(float(np.mean(arm)), 3),
        "arm_coverage_p90": round(float(np.percentile(arm, 90)), 3),
        "image_size": config.image_size,
    }


# ----------------------------------------------------------------------------------- CLI
_CAMERA_FIELDS = (
    "camera_distance",
    "camera_azimuth_deg",
    "camera_elevation_deg",
    "camera_fovy_deg",
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ghvae_env.sim.scene import SceneConfig

    default = SceneConfig()
    p = subparsers.add_parser(
        "framing",
        help="measure how the tabletop camera frames the scene (object px, tray and arm coverage)",
        description=(
            "Measure the tabletop camera's framing over episode starts: mean object size in "
            "pixels (projected bounding boxes), share of the image inside the tray, share of "
            "pixels the arm covers. Prints one JSON object."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--resets", type=int, default=100, help="episode starts to average over")
    p.add_argument("--seed", type=int, default=0, help="seed of the episode starts")
    p.add_argument(
        "--steps", type=int, default=0, help="policy steps per start at which the arm is measured"
    )
    for name in _CAMERA_FIELDS:
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=float,
            default=getattr(default, name),
            help=f"SceneConfig.{name}",
        )
    p.add_argument(
        "--camera-target",
        type=float,
        nargs=3,
        default=list(default.camera_target),
        metavar=("X", "Y", "Z"),
        help="SceneConfig.camera_target (world metres)",
    )
    p.set_defaults(func=_cli)
    return p


def _cli(args: argparse.Namespace) -> int:
    from ghvae_env.sim.scene import SceneConfig

    try:
        fields = {name: getattr(args, name) for name in _CAMERA_FIELDS}
        config = dataclasses.replace(
            SceneConfig(), camera_target=tuple(args.camera_target), **fields
        )
        result = measure_framing(config, resets=args.resets, seed=args.seed, steps=args.steps)
    except ValueError as e:
        print(f"ghvae framing: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0
