"""Command-line entry point: ``pbfidelity <stage> ...`` and ``pbfidelity run ...``.

Each stage lives in ``pbfidelity.<stage>`` (the science) with a thin adapter in ``pbfidelity.<stage>.cli``
that provides ``add_arguments(parser)`` and ``run(args) -> int``. Stages are imported lazily so that
``pbfidelity qc`` never pays for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from pbfidelity import STAGES, __version__
from pbfidelity.errors import StageSkipped, UserError

#: exit status of a stage that cannot analyse this dataset (e.g. one donor); Nextflow ignores it, the
#: embedded runner reports it, and other datasets go on
EXIT_SKIPPED = 3

#: command name -> module holding ``add_arguments``/``run`` (and a docstring used as help text)
EXTRA_COMMANDS = {
    "run": "pbfidelity.runner",
    "recipe": "pbfidelity.recipes.cli",
}


def stage_available(stage: str) -> bool:
    """Whether this installation has the stage and its CLI adapter (used by the CLI and the runner)."""
    return (importlib.util.find_spec(f"pbfidelity.{stage}") is not None
            and importlib.util.find_spec(f"pbfidelity.{stage}.cli") is not None)


def command_modules() -> dict[str, str]:
    """All commands this installation provides, stage commands first, in pipeline order."""
    found = {stage: f"pbfidelity.{stage}.cli" for stage in STAGES if stage_available(stage)}
    for name, module in EXTRA_COMMANDS.items():
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is not None:
            found[name] = module
    return found


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors too")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print warnings and errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbfidelity",
        description="Can pseudo-bulk stand in for bulk RNA-seq? Run one stage, or 'run' for the whole job.",
    )
    parser.add_argument("--version", action="version", version=f"pbfidelity {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in command_modules().items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or "").strip().splitlines()
        p = sub.add_parser(
            name,
            help=doc[0] if doc else None,
            description=(module.__doc__ or "").strip() or None,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(p)
        add_common_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (the runner and tests swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.WARNING if getattr(args, "quiet", False) else logging.INFO
    root = logging.getLogger("pbfidelity")
    root.setLevel(level)
    # a runner step process relays its records to the runner (pbfidelity.runner._RelayHandler) instead
    if not any(isinstance(h, _StderrHandler) or getattr(h, "pbf_relay", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("[pbfidelity %(levelname)s] %(message)s"))
        root.addHandler(handler)


def dispatch(argv: Sequence[str]) -> int:
    """Parse ``argv`` and run the command; exceptions propagate (used by the embedded runner and tests)."""
    args = build_parser().parse_args(list(argv))
    _configure_logging(args)
    return int(args._run(args) or 0)


#: test hook (docs/usage.md): ``PBF_TEST_FAIL_ONCE=<command>:<exit status>:<marker file>`` makes that command
#: exit with that status, without doing anything, the first time it runs (while the marker file is absent; it
#: is created then). The Nextflow engine tests use it to inject one out-of-memory exit (137) into one task.
TEST_FAIL_ONCE = "PBF_TEST_FAIL_ONCE"


def _test_fail_once(command: str) -> int | None:
    spec = os.environ.get(TEST_FAIL_ONCE, "")
    if not spec:
        return None
    target, status, marker = (spec.split(":", 2) + ["", ""])[:3]
    if not (status.isdigit() and marker):
        raise UserError(f"{TEST_FAIL_ONCE}={spec!r}: expected <command>:<exit status>:<marker file>")
    if target != command:
        return None
    try:
        with open(marker, "x") as fh:
            fh.write(f"{command} exited {status} once ({TEST_FAIL_ONCE})\n")
    except FileExistsError:
        return None
    print(f"pbfidelity {command}: {TEST_FAIL_ONCE}: exiting with status {status} once (test hook)", file=sys.stderr)
    return int(status)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: user errors are one line and exit 2; a dataset a stage cannot analyse
    exits 3 (one line); internal errors exit 1 with a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    command = next((a for a in argv if not a.startswith("-")), "pbfidelity")
    try:
        injected = _test_fail_once(command)
        if injected is not None:
            return injected
        return dispatch(argv)
    except StageSkipped as exc:
        print(f"pbfidelity {command}: skipped: {exc}", file=sys.stderr)
        return EXIT_SKIPPED
    except UserError as exc:
        if debug:
            traceback.print_exc()
        print(f"pbfidelity {command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pbfidelity {command}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # argparse usage errors (code 2) and --help/--version (code 0)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    except Exception:
        traceback.print_exc()
        print(f"pbfidelity {command}: internal error (please report it with the traceback above)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
