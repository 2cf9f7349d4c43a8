"""Entry point of the `nlbound` command: dispatches to one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand name -> module under nlbound.cli exposing add_arguments(parser) and run(args) -> int
SUBCOMMANDS = {
    "data": ("nlbound.cli.data", "statistics of a dataset after the paper's transform"),
    "bound": ("nlbound.cli.bound", "evaluate Theorem 5.2 over a grid of parameters"),
    "train": ("nlbound.cli.train", "train a nearly-linear network by gradient flow"),
    "reproduce": ("nlbound.cli.reproduce", "reproduce the paper's figures on real MNIST"),
    "compare": ("nlbound.cli.compare", "Theorem 5.2 next to baseline bounds on one trained run"),
}


class UsageError(Exception):
    """Bad user input: reported as one line on stderr with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    from nlbound import __version__

    parser = argparse.ArgumentParser(prog="nlbound", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nlbound {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (UsageError, ValueError) as exc:  # bad input: one line, exit 2, no traceback
        print(f"nlbound {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nlbound {args.command}: interrupted; completed work was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
