"""`pruneplan collect`: options only. The work (and the kubernetes import) happens in
collect/command.py, imported when the command runs, so `pruneplan --help` stays fast."""

from __future__ import annotations

import math
from typing import Annotated, Optional

import typer

from pruneplan.collect.paging import DEFAULT_PAGE_SIZE, DEFAULT_PARALLEL_LISTS

# A day. The socket layer cannot take much more (about 9.2e9 seconds), and no answer takes longer.
MAX_REQUEST_TIMEOUT = 86400.0


def _a_number(value: float) -> float:
    # click's range check lets NaN through: every comparison with it is false
    if math.isnan(value):
        raise typer.BadParameter(f"{value} is not a number of seconds")
    return value


# what only a cluster's collection reads: refused with --registry-storage
_API_ONLY = {
    "kubeconfig": "--kubeconfig", "context": "--context", "namespace": "-n/--namespace", "redact": "--redact",
    "redact_key_file": "--redact-key-file", "page_size": "--page-size", "request_timeout": "--request-timeout",
    "parallel_lists": "--parallel-lists", "progress_interval": "--progress-interval",
}


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was on the command line (even with its default value: the user asked for it)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def register(app: typer.Typer) -> None:
    @app.command(
        "collect",
        help=(
            "List every object kind that can reference an image (paged) and write only the fields "
            "the prune rules read into a dump for `pruneplan analyze`.\n\n"
            "\b\nExamples:\n"
            "  # with the current kubeconfig context\n"
            "  pruneplan collect -o dump.json.gz\n"
            "  # one namespace's streams (images are cluster-scoped and always listed whole)\n"
            "  pruneplan collect -n myproject -o dump.json.gz --context admin\n"
            "  # for a support case: names replaced by stable pseudonyms\n"
            "  pruneplan collect --redact -o dump.json.gz\n"
            "  # the registry's storage instead of the cluster (inside the registry pod, or on its volume)\n"
            "  pruneplan collect --registry-storage /registry -o inventory.json.gz\n"
        ),
    )
    def collect_command(
        ctx: typer.Context,
        output: Annotated[str, typer.Option("-o", "--output", metavar="FILE", help="Dump file to write (gzip when it ends in .gz); - writes it to stdout. With --registry-storage: the inventory, inventory.json.gz unless given.")] = "dump.json.gz",
        kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", metavar="FILE", help="Path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the in-cluster service account).")] = None,
        context: Annotated[Optional[str], typer.Option("--context", metavar="CONTEXT", help="The kubeconfig context to use.")] = None,
        namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", metavar="NAMESPACE", help="Only this namespace (Images are cluster-scoped and always listed whole).")] = None,
        redact: Annotated[bool, typer.Option("--redact/--no-redact", help="Replace namespace, object and registry host names with stable pseudonyms; the mapping goes to <output>.redaction-map.json (mode 0600).")] = False,
        redact_key_file: Annotated[Optional[str], typer.Option("--redact-key-file", metavar="FILE", help="Key for the pseudonyms (same key, same pseudonyms across runs); implies --redact. Default: a random key.")] = None,
        page_size: Annotated[int, typer.Option("--page-size", min=1, metavar="N", help="Objects per list request.")] = DEFAULT_PAGE_SIZE,
        request_timeout: Annotated[float, typer.Option("--request-timeout", min=0.001, max=MAX_REQUEST_TIMEOUT, callback=_a_number, metavar="SECONDS", help="Seconds to wait for each API answer.")] = 60.0,
        parallel_lists: Annotated[int, typer.Option("--parallel-lists", min=1, metavar="N", help="How many kinds are listed at the same time (the pages of one list always follow each other); 1 lists one kind after another.")] = DEFAULT_PARALLEL_LISTS,
        progress_interval: Annotated[float, typer.Option("--progress-interval", min=1.0, callback=_a_number, metavar="SECONDS", help="When stderr is not a terminal, print a progress line on stderr every SECONDS while lists run; on a terminal, progress is shown live.")] = 30.0,
        registry_storage: Annotated[Optional[str], typer.Option("--registry-storage", metavar="DIR", help="Read this registry storage root (the directory holding docker/, or docker/registry/v2 itself) into a storage inventory, instead of the cluster into a dump (docs/inventory-format.md).")] = None,
        now: Annotated[Optional[str], typer.Option("--now", metavar="TIME", help="With --registry-storage: the inventory's read time (RFC 3339). Default: when the walk begins.")] = None,
    ) -> None:
        if registry_storage is not None or now is not None:
            from pruneplan.collect.command import run_storage

            refused = [flag for name, flag in _API_ONLY.items() if _given(ctx, name)]
            run_storage(registry_storage, output if _given(ctx, "output") else None, now, refused)
            return
        from pruneplan.collect.command import run

        run(
            output=output,
            kubeconfig=kubeconfig,
            context=context,
            namespace=namespace,
            redact=redact or redact_key_file is not None,
            redact_key_file=redact_key_file,
            page_size=page_size,
            request_timeout=request_timeout,
            parallel_lists=parallel_lists,
            progress_interval=progress_interval,
        )
