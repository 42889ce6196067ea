"""The body of `pruneplan collect`: connect, collect, report. Imported only when it runs."""

from __future__ import annotations

import secrets
import signal
import sys
from types import FrameType

from pruneplan.errors import EXIT_USAGE, PrunePlanError

from pruneplan.collect.collector import Options, collect
from pruneplan.collect.progress import Progress
from pruneplan.collect.redact import MIN_KEY_BYTES, Redactor

EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it


EXIT_INTERRUPTED = 130  # 128 + SIGINT


class Terminated(PrunePlanError):
    def __init__(self) -> None:
        super().__init__("terminated", EXIT_TERMINATED)


class Interrupted(PrunePlanError):
    def __init__(self) -> None:
        super().__init__("interrupted", EXIT_INTERRUPTED)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()  # unwinds like Ctrl-C, so the dump writer aborts cleanly


def read_key(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            key = handle.read().strip()
    except OSError as err:
        raise PrunePlanError(f"cannot read redaction key file {path}: {err.strerror or err}", EXIT_USAGE) from None
    if len(key) < MIN_KEY_BYTES:
        raise PrunePlanError(f"redaction key file {path} must hold at least {MIN_KEY_BYTES} bytes", EXIT_USAGE)
    return key


def run(
    *,
    output: str,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    redact: bool,
    redact_key_file: str | None,
    page_size: int,
    request_timeout: float,
) -> None:
    if namespace is not None and not namespace:
        raise PrunePlanError("-n/--namespace must not be empty", EXIT_USAGE)
    redactor = None
    if redact:
        redactor = Redactor(read_key(redact_key_file) if redact_key_file else secrets.token_bytes(32))

    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (embedded use): no handler then
        previous = None
    try:
        from pruneplan.collect.client import connect  # the kubernetes client: about a second to import

        transport = connect(kubeconfig, context, request_timeout)
        try:
            options = Options(output=output, namespace=namespace, page_size=page_size, redactor=redactor)
            result = collect(transport, options, sys.stderr, Progress(sys.stderr))
        finally:
            transport.close()
    except KeyboardInterrupt:
        # typer turns a bare KeyboardInterrupt into a silent exit status; say what happened
        raise Interrupted() from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    total = sum(result.counts.values())
    if sys.stderr.isatty():
        print(f"wrote {output}: {total} objects", file=sys.stderr)
        if result.mapping_path:
            print(f"redaction map (keep it private): {result.mapping_path}", file=sys.stderr)
