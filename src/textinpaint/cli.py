"""The one entry point: ``textinpaint <command> ...``.

Thin by design: each sub-command lives in ``textinpaint.commands.<name>`` with two functions,
``add_parser(subparsers)`` and ``run(args)``; the work itself is done by library functions a
test can call directly. A :class:`~textinpaint.errors.UserError` ends the process with one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import UserError

# Order here is the order ``textinpaint --help`` lists them in.
COMMAND_MODULES = [
    "demo", "models", "data", "damsm", "train", "recipe", "export", "evaluate", "compare",
    "inpaint", "serve", "eval_encoder",
]


class HelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help only where it says something: never for None,
    False or an empty list, and never when the help text already names its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or default in (None, False, [], argparse.SUPPRESS)
                or "default" in text.lower() or "%(default)" in text):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="textinpaint", description="Text-guided image inpainting (MMFL + DFNet + structure)."
    )
    parser.add_argument("--version", action="version", version=f"textinpaint {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith(f"commands.{name}"):
                continue  # command not built yet
            raise
        module.add_parser(sub)
    _use_formatter(parser)
    return parser


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    """One help style for every command and sub-command."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _use_formatter(child)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser()
    # argparse ends a positional list at the first option, so ``key=value`` overrides written
    # after an option would be refused; collect them wherever they stand.
    args, extra = parser.parse_known_args(argv)
    takes_overrides = isinstance(getattr(args, "overrides", None), list)
    stray = [a for a in extra if not (takes_overrides and "=" in a and not a.startswith("-"))]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:  # not about a path the user named: a bug, keep the traceback
            raise
        # A folder that is read-only or full, a path through a file: the user's to fix.
        print(f"error: cannot use '{exc.filename}' ({exc.strerror or type(exc).__name__}); "
              "check the path, its permissions and the free disk space", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
