"""The body of `pruneplan collect`: connect, collect, report. Imported only when it runs."""

from __future__ import annotations

import secrets
import sys

from pruneplan.errors import EXIT_USAGE, PrunePlanError
from pruneplan.files import STDOUT, read_limited
from pruneplan.timefmt import parse_user_time

from pruneplan.collect.collector import Options, collect
from pruneplan.collect.paging import DEFAULT_PARALLEL_LISTS
from pruneplan.collect.progress import DEFAULT_INTERVAL, Progress, objects
from pruneplan.collect.redact import MIN_KEY_BYTES, Redactor

# SIGINT and SIGTERM (exit 130, 143) are pruneplan.cli's: they unwind through the collector, whose
# DumpWriter aborts, so no partial dump is left.

MAX_KEY_BYTES = 64 * 1024  # a redaction key is a few dozen bytes; /dev/zero is not one


def read_key(path: str) -> bytes:
    try:
        data = read_limited(path, MAX_KEY_BYTES)
    except OSError as err:
        raise PrunePlanError(f"cannot read redaction key file {path}: {err.strerror or err}", EXIT_USAGE) from None
    if data is None:
        raise PrunePlanError(f"redaction key file {path} is larger than {MAX_KEY_BYTES // 1024} KiB", EXIT_USAGE)
    key = data.strip()
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
    parallel_lists: int = DEFAULT_PARALLEL_LISTS,
    progress_interval: float = DEFAULT_INTERVAL,
) -> None:
    if namespace is not None and not namespace:
        raise PrunePlanError("-n/--namespace must not be empty", EXIT_USAGE)
    redactor = None
    if redact:
        if output == STDOUT:
            raise PrunePlanError("--redact needs a dump file (-o FILE): the redaction map is written beside it", EXIT_USAGE)
        redactor = Redactor(read_key(redact_key_file) if redact_key_file else secrets.token_bytes(32))

    from pruneplan.collect.client import _kubeconfig_paths, connect  # the kubernetes client: about a second to import

    transport = connect(kubeconfig, context, request_timeout, connections=parallel_lists + 1)
    try:
        # the files collect reads: the dump must not be written over one of them
        inputs = (*_kubeconfig_paths(kubeconfig), *([redact_key_file] if redact_key_file else []))
        options = Options(output=output, namespace=namespace, page_size=page_size, parallel_lists=parallel_lists,
                          redactor=redactor, inputs=inputs)
        result = collect(transport, options, sys.stderr, Progress(sys.stderr, interval=progress_interval))
    finally:
        transport.close()
    # always said, terminal or not: a CronJob's log is the only record of what a run collected
    where = "the dump to stdout" if output == STDOUT else output
    print(f"wrote {where}: {collected_counts(result.counts)}", file=sys.stderr)
    if result.mapping_path:
        print(f"redaction map (keep it private): {result.mapping_path}", file=sys.stderr)


def run_storage(root: str | None, output: str | None, now: str | None, api_options: list[str]) -> None:
    """`collect --registry-storage DIR`: the storage inventory, without the cluster."""
    if root is None:
        raise PrunePlanError("--now needs --registry-storage (a dump's time is when it is collected)", EXIT_USAGE)
    if not root:
        raise PrunePlanError("--registry-storage must not be empty", EXIT_USAGE)
    if api_options:
        raise PrunePlanError(f"{', '.join(api_options)} cannot be used with --registry-storage: it reads no cluster", EXIT_USAGE)
    read_at = parse_user_time(now, "--now") if now is not None else None
    from pruneplan.collect.storage import collect_inventory

    collect_inventory(root, output or "inventory.json.gz", read_at)


def collected_counts(counts: dict[str, int]) -> str:
    """'1,234 objects (images 300, pods 120, ...)': the total, then each kind that had any."""
    kinds = ", ".join(f"{resource} {n:,}" for resource, n in counts.items() if n)
    return objects(sum(counts.values())) + (f" ({kinds})" if kinds else "")
