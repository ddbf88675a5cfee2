"""Paired comparison of two planning runs on the same tasks (nothing is run).

Two ``benchmarks/planning.py`` results JSONs (or one, with two policies) are matched task by
task: the same task seed, start and goal positions within ``--tol-cm``. Over the matched
tasks it counts the successes of each, how many both solve, only A, only B and neither, and
gives McNemar's exact two-sided p-value on the discordant tasks (only A vs only B: the
binomial test at 1/2), the paired test for "is A's rate different from B's on these tasks".
Also the mean final distance of each and the mean of B's minus A's, in cm.

    python benchmarks/planning_compare.py \\
        benchmarks/results/planning_push_v2/push_100.json:ghvae \\
        benchmarks/results/planning_push_v2/cpu_fast_100.json:ghvae

``FILE:POLICY`` picks a policy (default: the file's only policy, else ``ghvae``).
``--metric success_min`` compares VP2's success (minimum distance over the episode).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

METRICS = ("success", "success_min")


class CompareError(ValueError):
    """A results file, policy or option that cannot be compared; the message names it."""


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: P(a split at least this uneven | p = 1/2)."""
    if only_a < 0 or only_b < 0:
        raise CompareError(f"discordant counts must be >= 0, actual values: {only_a}, {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2.0 * tail)


def load_policy(spec: str) -> tuple[str, str, list[dict]]:
    """``FILE[:POLICY]`` -> (file, policy, its episodes with status ok)."""
    path, sep, policy = spec.rpartition(":")
    if not sep or "/" in policy or "\\" in policy:  # no ":POLICY" suffix
        path, policy = spec, ""
    try:
        results = json.loads(Path(path).read_text())
        episodes = results["episodes"]
        if not isinstance(episodes, dict):
            raise TypeError("'episodes' is not a mapping of policy -> episodes")
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise CompareError(f"{path} is not a readable planning.py results JSON ({e!r})") from e
    if not policy:
        policy = next(iter(episodes)) if len(episodes) == 1 else "ghvae"
    if policy not in episodes:
        raise CompareError(f"policy {policy!r} is not in {path}; it has: {sorted(episodes)}")
    return path, policy, [e for e in episodes[policy] if e.get("status", "ok") == "ok"]


def _key(episode: dict) -> int:
    return int(episode["task"]["seed"])


def _same_task(a: dict, b: dict, tol_m: float) -> bool:
    for field in ("start_position", "goal_position"):
        pa, pb = a["task"][field], b["task"][field]
        if len(pa) != len(pb) or max(abs(x - y) for x, y in zip(pa, pb, strict=True)) > tol_m:
            return False
    return True


def compare(
    episodes_a: list[dict],
    episodes_b: list[dict],
    metric: str = "success",
    tol_cm: float = 0.1,
) -> dict:
    """The paired counts of two policies' episodes on the tasks they share."""
    if metric not in METRICS:
        raise CompareError(f"metric must be one of {METRICS}, actual value: {metric!r}")
    if not (tol_cm >= 0 and math.isfinite(tol_cm)):
        raise CompareError(f"tol_cm must be a finite number >= 0, actual value: {tol_cm!r}")
    by_seed_b = {_key(e): e for e in episodes_b}
    pairs, differ = [], []
    for a in episodes_a:
        b = by_seed_b.get(_key(a))
        if b is None:
            continue
        (pairs if _same_task(a, b, tol_cm / 100) else differ).append((a, b))
    both = sum(bool(a[metric]) and bool(b[metric]) for a, b in pairs)
    only_a = sum(bool(a[metric]) and not b[metric] for a, b in pairs)
    only_b = sum(bool(b[metric]) and not a[metric] for a, b in pairs)
    n = len(pairs)

    def mean_cm(values: list[float]) -> float | None:
        return round(100 * sum(values) / len(values), 2) if values else None

    return {
        "metric": metric,
        "tol_cm": tol_cm,
        "tasks_matched": n,
        "tasks_only_in_a": len(episodes_a) - n - len(differ),
        "tasks_only_in_b": len(episodes_b) - n - len(differ),
        "tasks_same_seed_other_positions": len(differ),
        "successes_a": both + only_a,
        "successes_b": both + only_b,
        "both": both,
        "only_a": only_a,
        "only_b": only_b,
        "neither": n - both - only_a - only_b,
        "mcnemar_exact_p": round(mcnemar_exact_p(only_a, only_b), 4),
        "final_distance_cm_a": mean_cm([a["final_distance"] for a, _ in pairs]),
        "final_distance_cm_b": mean_cm([b["final_distance"] for _, b in pairs]),
        "final_distance_cm_b_minus_a": mean_cm(
            [b["final_distance"] - a["final_distance"] for a, b in pairs]
        ),
        "only_a_seeds": sorted(_key(a) for a, b in pairs if a[metric] and not b[metric]),
        "only_b_seeds": sorted(_key(b) for a, b in pairs if b[metric] and not a[metric]),
    }


def markdown(name_a: str, name_b: str, r: dict) -> str:
    n = r["tasks_matched"]
    lines = [
        f"| {r['metric']} on {n} matched tasks | A: {name_a} | B: {name_b} |",
        "|---|---|---|",
        f"| successes | {r['successes_a']} | {r['successes_b']} |",
        f"| final distance (cm) | {r['final_distance_cm_a']} | {r['final_distance_cm_b']} |",
        "",
        f"both {r['both']}, only A {r['only_a']}, only B {r['only_b']}, neither {r['neither']}; "
        f"McNemar exact p = {r['mcnemar_exact_p']}; final distance B - A: "
        f"{r['final_distance_cm_b_minus_a']} cm.",
    ]
    unmatched = r["tasks_only_in_a"] + r["tasks_only_in_b"] + r["tasks_same_seed_other_positions"]
    if unmatched:
        lines.append(
            f"Not compared: {r['tasks_only_in_a']} tasks only in A, {r['tasks_only_in_b']} only "
            f"in B, {r['tasks_same_seed_other_positions']} with the same seed but start or goal "
            f"more than {r['tol_cm']} cm apart."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("a", help="FILE.json[:POLICY], policy A")
    p.add_argument("b", help="FILE.json[:POLICY], policy B")
    p.add_argument("--metric", choices=METRICS, default="success")
    p.add_argument("--tol-cm", type=float, default=0.1, help="start/goal match tolerance, cm")
    p.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = p.parse_args(argv)
    try:
        path_a, pol_a, eps_a = load_policy(args.a)
        path_b, pol_b, eps_b = load_policy(args.b)
        r = compare(eps_a, eps_b, args.metric, args.tol_cm)
    except CompareError as e:
        p.error(str(e))
    r = {"a": f"{path_a}:{pol_a}", "b": f"{path_b}:{pol_b}", **r}
    print(json.dumps(r, indent=2) if args.json else markdown(r["a"], r["b"], r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
