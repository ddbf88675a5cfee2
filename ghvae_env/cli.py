"""The ``ghvae`` command: ``ghvae generate | train | ...``.

Each subcommand lives beside the code it drives and contributes its parser through an
``add_parser(subparsers)`` function that sets ``func`` on its namespace; this file only
assembles them, so ``ghvae --help`` stays cheap (heavy imports happen inside ``func``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser"]

# (module providing add_parser) in the order they appear in --help
_SUBCOMMAND_MODULES = [
    "ghvae_env.data.generate",
    "ghvae_env.data.visualize",
    "ghvae_env.sim.framing",
    "ghvae_env.data.stats",
    "ghvae_env.training.cli",
    "ghvae_env.envs.cli",
    "ghvae_env.planning.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ghvae",
        description="GHVAE world model: generate data, train greedily, evaluate, plan.",
    )
    from ghvae_env import __version__

    parser.add_argument("--version", action="version", version=f"ghvae-env {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
