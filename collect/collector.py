"""Collect every kind of pruneplan/kinds.py into a dump, several kinds at a time, each one page
at a time (a list's pages follow its continue token, one after another).

Memory holds up to three pages per list in progress: the one being processed and the next
ones, read ahead (collect/background.py). Each page is projected (and redacted), added to the kind's spool
(pruneplan.dumpwriter.SectionSpool: a temporary file, deflated as it fills for a .gz dump) and
dropped. A kind's spool goes into the dump only once its list is complete, so a list that must
start over (expired continue token) never leaves duplicates behind, and the dump's order of
kinds never depends on which list ended first. Any failure aborts the DumpWriter: no partial
dump is ever left under the output name.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import CancelledError, Future, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, TextIO, TypeVar

import msgspec
import orjson

from pruneplan.clustersettings import (
    IMAGE_CONFIG_PATH,
    IMAGE_PRUNER_PATH,
    REGISTRY_CONFIG_PATH,
    ClusterSettings,
    ImageConfig,
    ImagePruner,
    RegistryConfig,
    project_image_config,
    project_image_pruner,
    project_registry_config,
)
from pruneplan.dumpwriter import DumpWriter, SectionSpool
from pruneplan.errors import EXIT_IO, PrunePlanError
from pruneplan.files import temp_directory
from pruneplan.jsonwords import describe_validation
from pruneplan.kinds import KINDS, Kind
from pruneplan.timefmt import parse_http_date
from pruneplan.projection import ProjectionError, project
from pruneplan.urls import without_userinfo

from pruneplan.collect.lister import (
    FORBIDDEN_TOLERATED,
    NOT_FOUND_TOLERATED,
    RESTART,
    ApiStatusError,
    list_pages,
    list_path,
    status_message,
)
from pruneplan.collect.paging import DEFAULT_PAGE_SIZE, DEFAULT_PARALLEL_LISTS
from pruneplan.collect.progress import Progress
from pruneplan.collect.background import read_ahead, start
from pruneplan.collect.redact import Redactor
from pruneplan.collect.transport import ClusterError, Transport

S = TypeVar("S", ImagePruner, RegistryConfig, ImageConfig)

CLUSTER_VERSION_PATH = "/apis/config.openshift.io/v1/clusterversions/version"


# The order lists start in. Images come first: they are nearly always the longest list of a
# cluster whose registry needs pruning, and a list's pages follow one another, so a long list
# started last would end the collection alone. The dump keeps KINDS' order.
LISTING_ORDER: tuple[Kind, ...] = (*(k for k in KINDS if k.resource == "images"), *(k for k in KINDS if k.resource != "images"))


@dataclass
class Options:
    output: str
    namespace: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    parallel_lists: int = DEFAULT_PARALLEL_LISTS
    redactor: Redactor | None = None
    inputs: tuple[str, ...] = ()  # files the command reads: the dump is never written over one
    # the resources to list, None for every kind: execute's re-check of a hard-prune plan needs
    # only images and image streams (the dump then holds no other kind)
    resources: frozenset[str] | None = None

    def kinds(self, order: tuple[Kind, ...]) -> tuple[Kind, ...]:
        """The kinds of `order` this collection lists."""
        return order if self.resources is None else tuple(k for k in order if k.resource in self.resources)


@dataclass
class Result:
    counts: dict[str, int] = field(default_factory=dict)
    tolerated: dict[str, str] = field(default_factory=dict)  # resource -> why it is empty
    mapping_path: str | None = None


def mapping_path_for(output: str) -> str:
    return output + ".redaction-map.json"


def _http_date(value: str | None) -> str | None:
    moment = parse_http_date(value)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cluster_identity(transport: Transport) -> tuple[str, str | None]:
    """(collectedAt, clusterID). The first request: it also proves the server is usable."""
    answer = transport.get(CLUSTER_VERSION_PATH)
    collected_at = _http_date(answer.headers.get("Date") or answer.headers.get("date")) or _now_utc()
    if answer.status in (403, 404):  # plain Kubernetes, or no read access to ClusterVersion
        return collected_at, None
    if answer.status != 200:
        raise ClusterError(f"cannot read clusterversions/version: {_status_text(answer.status, status_message(answer))}")
    try:
        doc = orjson.loads(answer.body)
    except orjson.JSONDecodeError as err:
        raise ClusterError(f"invalid JSON in clusterversions/version: {err}") from None
    cluster_id = ((doc.get("spec") or {}) if isinstance(doc, dict) else {}).get("clusterID")
    return collected_at, cluster_id if isinstance(cluster_id, str) and cluster_id else None


def cluster_settings(transport: Transport) -> ClusterSettings:
    """The cluster's own pruning settings (pruneplan.clustersettings): each is optional, absent
    (404) or forbidden (403) recorded as such, as upstream tolerates some lists. The three are
    read at once; a failure is raised in this order."""
    pruner = start(lambda: _read_setting(transport, IMAGE_PRUNER_PATH, "imagepruners/cluster", project_image_pruner,
                                         ImagePruner), "pruneplan-read-pruner")
    registry = start(lambda: _read_setting(transport, REGISTRY_CONFIG_PATH, "configs.imageregistry/cluster",
                                           project_registry_config, RegistryConfig), "pruneplan-read-registry")
    image = start(lambda: _read_setting(transport, IMAGE_CONFIG_PATH, "images.config/cluster", project_image_config,
                                        ImageConfig), "pruneplan-read-image-config")
    return ClusterSettings(image_pruner=pruner.result(), registry_config=registry.result(), image_config=image.result())


def _read_setting(transport: Transport, path: str, name: str, project_one: Callable[[dict[str, Any]], S], missing: type[S]) -> S:
    answer = transport.get(path)
    if answer.status == 404:
        return missing(state="absent")
    if answer.status == 403:
        return missing(state="forbidden")
    if answer.status != 200:
        raise ClusterError(f"cannot read {name}: {_status_text(answer.status, status_message(answer))}")
    try:
        doc = orjson.loads(answer.body)
        if not isinstance(doc, dict):
            raise ClusterError(f"{name}: the answer is not an object")
        return project_one(doc)
    except orjson.JSONDecodeError as err:
        raise ClusterError(f"invalid JSON in {name}: {err}") from None
    except msgspec.ValidationError as err:  # the server sent what its own API cannot hold
        field, problem = describe_validation(str(err))
        raise ClusterError(f"{name}: {field} {problem}") from None


def _status_text(status: int, message: str) -> str:
    hint = {401: " (the credentials were refused: log in again or check the token)"}.get(status, "")
    return f"{message} (HTTP {status}){hint}"


class Collector:
    def __init__(self, transport: Transport, options: Options, err: TextIO, progress: Progress) -> None:
        self.transport = transport
        self.options = options
        self.err = err
        self.progress = progress
        self.result = Result()

    def run(self) -> Result:
        opts = self.options
        writer = _open_writer(opts.output, opts.inputs)
        try:
            if opts.redactor is not None:
                _check_not_a_directory(mapping_path_for(opts.output))  # before the cluster is contacted
            # read at once; the version's failure first: it says best what is wrong with the server
            identity = start(lambda: cluster_identity(self.transport), "pruneplan-read-version")
            read_settings = start(lambda: cluster_settings(self.transport), "pruneplan-read-settings")
            collected_at, cluster_id = identity.result()
            settings = read_settings.result()
            directory = temp_directory(opts.output)  # stdout, a device: the system's temporary directory
            self.progress.expect(len(opts.kinds(KINDS)))
            with self.progress:
                self._collect_kinds(writer, directory)
            cluster: dict[str, Any] = {"apiServer": without_userinfo(self.transport.host), "clusterID": cluster_id}
            namespace = opts.namespace
            if opts.redactor is not None:
                settings = opts.redactor.redact_settings(settings)
                cluster = opts.redactor.redact_header_cluster(cluster)
                namespace = opts.redactor.namespace(namespace) if namespace else None
                # a redacted dump without its map is unreadable: both are put in place, or neither
                document = orjson.dumps(opts.redactor.mapping_document(), option=orjson.OPT_INDENT_2) + b"\n"
                writer.attach(mapping_path_for(opts.output), document, 0o600)
            writer.commit(collected_at, cluster, namespace, settings)
            if opts.redactor is not None:
                self.result.mapping_path = mapping_path_for(opts.output)
        except BaseException:
            writer.abort()
            raise
        self.result.counts = dict(writer.counts)
        return self.result

    def _collect_kinds(self, writer: DumpWriter, directory: str | None) -> None:
        """List the kinds `parallel_lists` at a time, each into its own spool, and move each
        spool into the dump in KINDS' order as soon as it and the kinds before it are complete.
        The first failure stops every list at its next page; the failure of the earliest kind in
        that order is raised, whichever came first in time."""
        stop = threading.Event()
        started = self._start_lists(writer, directory, stop)
        kinds = self.options.kinds(KINDS)
        listed = [started[kind] for kind in kinds]
        try:
            try:
                for kind, future in zip(kinds, listed):
                    self._into_dump(kind, future.result(), writer)
            except BaseException:
                stop.set()  # the lists still running end at their next page
                for future in listed:
                    future.cancel()  # those not started yet never start
                raise
        except (_Stopped, CancelledError):  # stopped or never started: another list failed
            raise _first_failure(listed) from None
        finally:
            for future in listed:
                if future.done() and not future.cancelled() and future.exception() is None:
                    future.result().spool.close()

    def _start_lists(self, writer: DumpWriter, directory: str | None, stop: threading.Event) -> dict[Kind, Future[Listed]]:
        """Start the lists in LISTING_ORDER on `parallel_lists` threads; a future per kind.

        The threads are daemons: an interrupted collect (Ctrl-C) ends at once, without waiting
        for the pages in flight (a thread pool's threads are waited for at exit). Their spools
        are unlinked files, and the dump is aborted by the main thread, so nothing is left."""
        order = self.options.kinds(LISTING_ORDER)
        futures: dict[Kind, Future[Listed]] = {kind: Future() for kind in order}
        waiting: queue.SimpleQueue[Kind] = queue.SimpleQueue()
        for kind in order:
            waiting.put(kind)

        def lister() -> None:
            while True:
                try:
                    kind = waiting.get_nowait()
                except queue.Empty:
                    return
                future = futures[kind]
                if stop.is_set():  # a list failed: what has not started never will
                    future.cancel()
                # the one call that moves a future on, for each: a cancelled one (by the main
                # thread, or just above) counts as done for wait() only once it is made
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(self._list_kind(kind, writer, directory, stop))
                except BaseException as err:  # handed to the main thread, which raises it
                    future.set_exception(err)

        for n in range(max(1, min(self.options.parallel_lists, len(order)))):
            threading.Thread(target=lister, name=f"pruneplan-list-{n}", daemon=True).start()
        return futures

    def _into_dump(self, kind: Kind, listed: Listed, writer: DumpWriter) -> None:
        resource = kind.resource
        if listed.tolerated is not None:
            self.result.tolerated[resource] = listed.tolerated
            if listed.tolerated == "forbidden":
                # upstream's exact wording (oc adm prune images), then it carries on
                self.progress.message(f"Failed to list {resource}: {listed.message}\n - * Make sure to update clusterRoleBindings.\n")
        writer.add_section(resource, listed.spool)
        self.progress.done(resource, listed.spool.count, listed.note)

    def _list_kind(self, kind: Kind, writer: DumpWriter, directory: str | None, stop: threading.Event) -> Listed:
        """One kind's whole list, in a thread of its own. Any failure stops the other lists."""
        try:
            spool = writer.spool(directory)
            try:
                try:
                    self._fill(spool, kind, list_path(kind, self.options.namespace), stop)
                except ApiStatusError as err:
                    spool.restart()
                    spool.finish()
                    return self._tolerate(kind.resource, err, spool)
                spool.finish()
                return Listed(spool)
            except BaseException:
                spool.close()
                raise
        except BaseException:
            stop.set()
            raise

    def _fill(self, spool: SectionSpool, kind: Kind, path: str, stop: threading.Event) -> None:
        redactor = self.options.redactor
        resource = kind.resource
        for page in read_ahead(list_pages(self.transport, path, self.options.page_size), f"pruneplan-read-{resource}"):
            if stop.is_set():
                raise _Stopped()
            if page is RESTART:
                spool.restart()
                continue
            for item in page:
                if not isinstance(item, dict):
                    raise ClusterError(f"unexpected item in the answer to GET {path}: not an object")
                try:
                    obj = project(resource, item)
                except ProjectionError as err:  # the server sent an object its own API cannot hold
                    raise ClusterError(str(err)) from None
                if redactor is not None:
                    obj = redactor.redact(resource, obj)
                spool.add_encoded(orjson.dumps(obj))
            self.progress.update(resource, spool.count)

    def _tolerate(self, resource: str, err: ApiStatusError, spool: SectionSpool) -> Listed:
        """Upstream's tolerated list errors become an empty list; anything else is fatal."""
        if err.status == 404 and resource in NOT_FOUND_TOLERATED:
            return Listed(spool, "API not available", "not found")
        if err.status == 403 and resource in FORBIDDEN_TOLERATED:
            return Listed(spool, "forbidden", "forbidden", err.message)
        raise ClusterError(f"cannot list {resource}: {_status_text(err.status, err.message)}")


class _Stopped(Exception):
    """A list ended early because another one failed."""


@dataclass
class Listed:
    """One kind's complete list, spooled, and why it is empty when a tolerated error made it so."""

    spool: SectionSpool
    note: str = ""  # for the progress line
    tolerated: str | None = None  # "not found" or "forbidden"
    message: str = ""  # the server's message for a forbidden list


def _first_failure(listed: list[Future[Listed]]) -> BaseException:
    """The failure of the earliest kind in KINDS' order that failed by itself (not stopped);
    the lists not started were cancelled, the others end at their next page."""
    wait(listed)
    for future in listed:
        if future.cancelled():
            continue
        error = future.exception()
        if error is not None and not isinstance(error, _Stopped):
            return error
    return _Stopped("every list was stopped")


def _open_writer(path: str, inputs: tuple[str, ...]) -> DumpWriter:
    try:
        return DumpWriter(path, inputs)
    except OSError as err:
        raise PrunePlanError(f"cannot write {path}: {err.strerror or err}", EXIT_IO) from None


def _check_not_a_directory(path: str) -> None:
    if os.path.isdir(path):
        raise PrunePlanError(f"cannot write {path}: Is a directory", EXIT_IO)


def collect(transport: Transport, options: Options, err: TextIO, progress: Progress | None = None) -> Result:
    return Collector(transport, options, err, progress or Progress(err)).run()
