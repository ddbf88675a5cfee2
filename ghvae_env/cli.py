"""The ``ghvae`` command: ``ghvae generate | train | ...``.

Each subcommand lives beside the code it drives and contributes its parser through an
``add_parser(subparsers)`` function that sets ``func`` on its namespace; this file only
assembles them, so ``ghvae --help`` stays cheap (heavy imports happen inside ``func``).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

__all__ = ["main", "build_parser", "HelpFormatter", "USER_ERRORS"]

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
    from ghvae_env._version import __version__

    parser.add_argument("--version", action="version", version=f"ghvae-env {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    for subparser in sub.choices.values():
        subparser.formatter_class = HelpFormatter  # every option shows its default
        if subparser.description:  # descriptions often come from RST docstrings
            subparser.description = _plain_text(subparser.description)
    return parser


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the help already says its default
    or there is none to say (required options, flags, ``None`` defaults)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text.lower()
            or action.required
            or action.nargs == 0
            or action.default is None
            or action.default is argparse.SUPPRESS
        ):
            return text
        return text + " (default: %(default)s)"


def _plain_text(rst: str) -> str:
    """``literal`` and :role:`target` markup -> plain text, for --help."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", rst)
    return text.replace("``", "")


# What a user can cause: a missing or bad file, a bad value, an existing run directory.
# Every project error type for user input subclasses ValueError (ConfigError,
# CheckpointError, ShardError, TrainError, InvalidOptionError, ...), and file problems are
# OSErrors of these kinds. Anything else (TypeError, RuntimeError, AssertionError, ...) is a
# bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. A user error prints ``ghvae <cmd>: error: ...`` and returns 2
    (argparse's convention for bad arguments); bugs raise with their traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        message = " ".join(str(e).split()) or type(e).__name__  # one line
        print(f"ghvae {args.command}: error: {message}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
