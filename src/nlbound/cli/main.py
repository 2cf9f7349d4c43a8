"""Entry point of the `nlbound` command: dispatches to one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from nlbound._validate import ParameterError

# subcommand name -> module under nlbound.cli exposing add_arguments(parser) and run(args) -> int.
# A module may declare PARAM_FLAGS = {parameter name: flag} for parameters whose flag is not
# "--" + the name with dashes (e.g. {"t_end": "--until"}); errors are reported under the flag.
SUBCOMMANDS = {
    "data": ("nlbound.cli.data", "statistics of a dataset after the paper's transform"),
    "bound": ("nlbound.cli.bound", "evaluate Theorem 5.2 over a grid of parameters"),
    "train": ("nlbound.cli.train", "train a nearly-linear network by gradient flow"),
    "reproduce": ("nlbound.cli.reproduce", "reproduce the paper's figures on real MNIST"),
    "sweep": ("nlbound.cli.sweep", "a sweep defined in a TOML spec, local or on Ray; bound tables per run"),
    "plan": ("nlbound.cli.plan", "choose beta, eps, gamma, t, kappa, p before training (a-priori bound)"),
    "compare": ("nlbound.cli.compare", "Theorem 5.2 next to baseline bounds on one trained run"),
}


class _Parser(argparse.ArgumentParser):
    """Usage errors (unknown or repeated option, bad choice) as one line, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpWithDefaults(argparse.HelpFormatter):
    """--help shows each option's default, unless its text already names it or it has none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, argparse.SUPPRESS):
            return text
        if not action.option_strings and action.nargs not in ("?", "*"):
            return text
        return f"{text} (default: %(default)s)".lstrip()


class _GivenOnce(argparse.Action):
    """Mixin for an option's argparse action: a second occurrence of the option is a usage error
    (instead of argparse's silent "last one wins")."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = vars(namespace).setdefault("_options_given", set())
        if self.dest in given:
            raise argparse.ArgumentError(self, "given more than once")
        given.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


_ONCE: dict[type, type] = {}  # action class -> its _GivenOnce subclass (one per class)


def _once(cls: type) -> type:
    if cls not in _ONCE:
        _ONCE[cls] = type(f"Once{cls.__name__}", (_GivenOnce, cls), {})
    return _ONCE[cls]


def _forbid_repeats(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:  # argparse has no public accessor for a parser's actions
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            action.__class__ = _once(type(action))


def build_parser() -> argparse.ArgumentParser:
    from nlbound import __version__

    parser = _Parser(prog="nlbound", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nlbound {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip(),
                           formatter_class=_HelpWithDefaults)
        module.add_arguments(p)
        _forbid_repeats(p)
        p.set_defaults(_run=module.run, _flags=frozenset(p._option_string_actions),
                       _param_flags=dict(getattr(module, "PARAM_FLAGS", {})))
    return parser


def _under_flag(exc: ParameterError, args: argparse.Namespace) -> ParameterError:
    """`exc` reported under the subcommand's flag for its parameter, when there is such a flag."""
    flag = args._param_flags.get(exc.name, "--" + exc.name.replace("_", "-"))
    return exc.renamed(flag) if flag in args._flags else exc


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line `nlbound: warning: ...` (no Python source location or line)."""
    print("nlbound: warning: " + " ".join(str(message).split()), file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return int(args._run(args) or 0)
        except ParameterError as exc:  # bad input: one line under the flag's name, exit 2
            print(f"nlbound {args.command}: error: {_under_flag(exc, args)}", file=sys.stderr)
            return 2
        except ValueError as exc:  # bad input or data: one line, exit 2, no traceback
            print(f"nlbound {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"nlbound {args.command}: interrupted; completed work was kept", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
