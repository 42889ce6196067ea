"""The `pruneplan` command: one typer app that mounts each stage's sub-commands.

Sub-command modules (analyze/cli.py, collect/cli.py, ...) only declare options; they import
their heavy machinery inside the command body, so `pruneplan --help` starts fast and analyze
never loads the kubernetes client.
"""

from __future__ import annotations

import gc
import importlib
import os
import re
import signal
import sys
from contextlib import contextmanager
from types import FrameType
from typing import Iterator

import typer

from .errors import EXIT_INTERRUPTED, EXIT_IO, EXIT_TERMINATED, EXIT_USAGE, AggregateError, FlagError, Interrupted, PrunePlanError

# Upstream's boolean flags accept Go's `--flag=false`; click only knows `--flag/--no-flag`.
BOOL_FLAGS = (
    "all",
    "prune-registry",
    "prune-over-size-limit",
    "ignore-invalid-refs",
    "confirm",
    "force-insecure",
    "restart-registry",
    "redact",
    "allow-mostly-absent",
    "policy-from-cluster",
    "require-pruner-suspended",
)
# typer re-exports the click it runs on (its own vendored copy from 0.26 on, which depends on no
# click package): Exit and Abort by name, ClickException as a base of BadParameter. So click is
# never imported here (19 ms, and not a dependency of ours).
_EXITS = (typer.Exit,)
_ABORTS = (typer.Abort,)
_USAGE_ERRORS: tuple[type[Exception], ...] = tuple(
    {base for base in typer.BadParameter.__mro__ if base.__name__ == "ClickException" and issubclass(base, Exception)}
    | ({typer.TyperException} if hasattr(typer, "TyperException") else set())
)
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def rewrite_bool_flags(args: list[str]) -> list[str]:
    """Turn `--all=false` into `--no-all` and `--all=true` into `--all` (strconv.ParseBool values)."""
    out: list[str] = []
    for arg in args:
        if arg == "--":
            out.extend(args[len(out):])
            break
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            if name in BOOL_FLAGS:
                if value in _TRUE:
                    out.append(f"--{name}")
                    continue
                if value in _FALSE:
                    out.append(f"--no-{name}")
                    continue
                raise FlagError(
                    f'invalid argument "{value}" for "--{name}" flag: strconv.ParseBool: parsing "{value}": invalid syntax'
                )
        out.append(arg)
    return out


# Each module declares its commands' options and registers them; none imports heavy code at load.
SUBCOMMAND_MODULES = (
    "pruneplan.collect.cli",  # collect
    "pruneplan.analyze.cli",  # analyze, explain
    "pruneplan.analyze.report.cli",  # report
    "pruneplan.signing_cli",  # keygen, verify
    "pruneplan.execute.cli",  # execute
)


ROOT_HELP = """Plan, review, sign and replay `oc adm prune images`, in three separate steps.

\b
Examples:
  # read the cluster (paged) into one dump file
  pruneplan collect -o dump.json.gz
  # decide offline with oc's flags, write and sign the plan
  pruneplan analyze dump.json.gz -o plan.json --keep-tag-revisions=3 --sign-key review-key
  # review, then replay against the live cluster (a dry run without --confirm)
  pruneplan report plan.json --dump dump.json.gz --key review-key.pub -o review.html
  pruneplan execute plan.json --key review-key.pub --confirm
"""


def version_lines() -> list[str]:
    """The tool's version and the versions of the files it reads and writes."""
    from . import __version__
    from .dumpformat import DUMP_API_VERSION, DUMP_KIND, FORMAT_VERSION
    from .inventoryformat import FORMAT_VERSION as INVENTORY_FORMAT_VERSION
    from .inventoryformat import INVENTORY_API_VERSION, INVENTORY_KIND
    from .planformat import PLAN_API_VERSION, PLAN_KIND

    return [
        f"pruneplan {__version__}",
        f"plan format: {PLAN_API_VERSION} {PLAN_KIND}",
        f"dump format: {DUMP_API_VERSION} {DUMP_KIND}, formatVersion {FORMAT_VERSION}",
        f"storage inventory format: {INVENTORY_API_VERSION} {INVENTORY_KIND}, formatVersion {INVENTORY_FORMAT_VERSION}",
        f"python: {sys.version.split()[0]}",
    ]


def _print_version() -> None:
    from .files import printing_to_stdout

    with printing_to_stdout("the version", "nothing was changed"):
        sys.stdout.write("".join(f"{line}\n" for line in version_lines()))


def version_command() -> None:
    """Print pruneplan's version and the plan and dump format versions it reads and writes.

    \b
    Examples:
      pruneplan version
      pruneplan --version
    """
    _print_version()


def _version_flag(value: bool) -> None:
    if value:
        _print_version()
        raise typer.Exit(0)


def root_callback(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_version_flag, help="Print the versions (as `pruneplan version`) and exit."
    ),
) -> None:
    pass


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="pruneplan",
        help=ROOT_HELP,
        add_completion=True,  # --install-completion / --show-completion for bash, zsh and fish
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},  # as oc and kubectl
    )
    app.callback()(root_callback)
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).register(app)
    app.command("version")(version_command)
    return app


_SIGNALS = {signal.SIGINT: ("interrupted", EXIT_INTERRUPTED), signal.SIGTERM: ("terminated", EXIT_TERMINATED)}


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    message, status = _SIGNALS[signal.Signals(signum)]
    raise Interrupted(message, status)


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted in the main thread while a command runs: every
    command's clean-ups (temporary files, a dump writer's abort) run, then main() says so."""
    previous = {}
    try:
        for signum in _SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:  # ignored (nohup, a background job): stays so
                previous[signum] = signal.signal(signum, _raise_interrupted)
    except ValueError:  # not the main thread (embedded use): the caller's handling stays
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def one_line(message: str) -> str:
    """`message` with its control characters escaped (`\\n`, `\\x1b`): a file name or an object's
    name can hold a newline, which would split the error line a log reader or script expects,
    or an escape sequence that would drive the terminal."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), message)


def main(argv: list[str] | None = None) -> int:
    with _signals_raise():
        return _run(list(sys.argv[1:] if argv is None else argv))


def _run(args: list[str]) -> int:
    try:
        # bare `pruneplan` prints its usage, as oc and kubectl do: a request for help, not an error
        args = rewrite_bool_flags(args) or ["--help"]
        command = typer.main.get_command(build_app())
        result = command.main(args=args, prog_name="pruneplan", standalone_mode=False)
        # without standalone mode click returns an exit status instead of raising (e.g. 130 on Ctrl-C)
        return result if isinstance(result, int) else 0
    except AggregateError as err:
        sys.stderr.write("".join(f"{one_line(line)}\n" for line in err.lines()))
        return err.exit_code
    except PrunePlanError as err:
        print(f"error: {one_line(err.message)}", file=sys.stderr)
        return err.exit_code
    except _EXITS as err:
        return err.exit_code
    except _ABORTS:
        print("error: interrupted", file=sys.stderr)
        return 130
    except _USAGE_ERRORS as err:
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        print(f"error: {one_line(message)}", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as err:
        print(f"error: {err.message}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:  # raised by the caller's handler (no handler of ours in a thread)
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1
    except OSError as err:
        # a failure no command turned into its own message: still one line, never a traceback
        where = "" if err.filename is None else f"{err.filename}: "
        print(f"error: {one_line(where)}{err.strerror or err}", file=sys.stderr)
        return EXIT_IO


def _settle_stdout(status: int) -> int:
    """Flush stdout before the interpreter does: its failure at exit would be printed as
    "Exception ignored ..." with status 120. A closed pipe ends quietly (status 1, as typer
    does when it happens mid-command); another failure is one error line, unless the command
    already failed. Either way stdout then points at /dev/null for the interpreter's last flush."""
    try:
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        status = status or 1
    except OSError as err:
        if status == 0:
            print(f"error: cannot write stdout: {err.strerror or err}", file=sys.stderr)
            status = EXIT_IO
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return status


def console_main() -> None:
    """The `pruneplan` command."""
    # analyze builds millions of objects that live to the end, and the cyclic GC's passes over
    # them at the default threshold took a 100k-image analysis from 8.1 to 11.4 s of CPU (same
    # peak memory); at a million allocations it makes one young collection and no full one
    gc.set_threshold(1_000_000)
    sys.exit(_settle_stdout(main()))


if __name__ == "__main__":  # pragma: no cover
    console_main()
