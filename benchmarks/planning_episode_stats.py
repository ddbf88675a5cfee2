"""How planning episodes failed, from a ``benchmarks/planning.py`` results JSON (nothing is run).

Per policy: episodes, successes, failures in which the pushed object never moved (final
distance within ``--still`` cm of the start), and the mean of the first ``--steps`` executed
dz actions summed, for successes and for failures (a plan that lifts the arm misses the
object).

    python benchmarks/planning_episode_stats.py benchmarks/results/planning_cost/oracle_blur8.json
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def episode_stats(results: dict, still_cm: float = 0.5, steps: int = 5) -> dict[str, dict]:
    out = {}
    for policy, episodes in results["episodes"].items():
        ok = [e for e in episodes if e["success"]]
        bad = [e for e in episodes if not e["success"]]

        def dz(group: list[dict]) -> float | None:
            sums = [float(np.asarray(e["actions"])[:steps, 2].sum()) for e in group]
            return round(float(np.mean(sums)), 2) if sums else None

        out[policy] = {
            "episodes": len(episodes),
            "successes": len(ok),
            "failures_object_never_moved": sum(
                abs(e["final_distance"] - e["initial_distance"]) * 100 < still_cm for e in bad
            ),
            f"mean_dz_first_{steps}_successes": dz(ok),
            f"mean_dz_first_{steps}_failures": dz(bad),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("results", help="a planning.py results JSON")
    p.add_argument("--still", type=float, default=0.5, help="cm: an object that moved less")
    p.add_argument("--steps", type=int, default=5, help="first executed steps whose dz is summed")
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error(f"--steps must be >= 1, actual value: {args.steps}")
    try:
        results = json.loads(open(args.results).read())
        stats = episode_stats(results, args.still, args.steps)
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        p.error(f"{args.results} is not a readable planning.py results JSON ({e!r})")
    print(json.dumps(stats, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
