"""One error type for every user-facing failure, with documented exit statuses.

The CLI prints `error: <message>` on one line (an AggregateError of several: each on its own
line, as oc does) and exits with `exit_code`; no traceback ever reaches the user for a bad input.
"""

from __future__ import annotations

# Exit statuses (documented in docs/signing.md, "Exit statuses"). 1 mirrors upstream's CheckErr
# for rule failures; the others tell input problems apart for scripts. A bad flag value is a bad
# command line (2) whatever the flag, although oc exits 1 for its own flags' values.
EXIT_FAILURE = 1  # upstream-style failure: bad references, stage errors, failed actions
EXIT_USAGE = 2  # malformed command line: unknown option, missing argument, bad flag value
EXIT_BAD_INPUT = 3  # unreadable, corrupt or invalid dump / input file
EXIT_IO = 4  # cannot write an output file
EXIT_BAD_SIGNATURE = 10  # signature does not verify (tampered plan or wrong key)
EXIT_NO_SIGNATURE = 11  # signature file missing or malformed
EXIT_EXPIRED = 12  # plan past metadata.notAfter
EXIT_UNKNOWN_PLAN = 13  # not a plan, or a plan version this tool does not know
EXIT_BAD_KEY = 14  # key file missing, unreadable or of an unsupported type
EXIT_WRONG_CLUSTER = 15  # plan made for another cluster
EXIT_PRUNER_ACTIVE = 16  # execute --require-pruner-suspended: the automatic pruner is active, or cannot be read
EXIT_CLUSTER = 20  # cluster unreachable / API failure (collect, execute)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class PrunePlanError(Exception):
    """A failure the user can act on. `str(err)` is the one-line message."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class FlagError(PrunePlanError):
    """A bad command line: a flag value that does not parse, is out of range or clashes with
    another flag (exit 2, as an unknown option or a missing argument). Where the flag is
    upstream's, the words are upstream's; upstream's own exit status for these is 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


class AggregateError(PrunePlanError):
    """Several failures of one run, as oc reports an aggregate: one alone is an ordinary error
    (`error: <message>`); two or more are printed one per line, each as is, without the prefix,
    duplicates kept."""

    def __init__(self, errors: list[str], exit_code: int = EXIT_FAILURE) -> None:
        super().__init__("\n".join(errors), exit_code)
        self.errors = list(errors)

    def lines(self) -> list[str]:
        """The lines the command prints on stderr for this failure."""
        if len(self.errors) == 1:
            return [f"error: {self.errors[0]}"]
        return self.errors


class InputError(PrunePlanError):
    """A dump or input file that cannot be used."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_BAD_INPUT)


class Interrupted(BaseException):
    """SIGINT or SIGTERM, raised in the main thread by pruneplan.cli's handler. A BaseException
    like KeyboardInterrupt, so `except Exception` lets it through while `finally` and
    `except BaseException` clean-ups (temporary files) run; unlike KeyboardInterrupt, typer does
    not turn it into a silent exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
