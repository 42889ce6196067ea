"""In-memory fakes of execute's ports (execute/ports.py): an API server holding image streams and a
registry, both recording every call in upstream's notation (fakeImageStreamDeleter and friends in
upstream's prune_test.go) and failing the calls `faults` names, with upstream's "err".

`faults` maps upstream's fault keys (`imageStreamGetErrors`, `imageStreamUpdateErrors`,
`imageDeleteErrors`, `layerLinkDeleteErrors`, `manifestLinkDeleteErrors`, `blobDeleteErrors`) to
the invocations that fail: a stream's `NS/NAME`, an image's name, `REPO|DIGEST` for a link, a
blob's digest.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from typing import Any

from pruneplan.execute.ports import CONFLICT, ERROR, NOT_FOUND, OK, Outcome

ERR = "err"  # the error upstream's fakes return

# the kinds of calls that change something (upstream's fakes keep one set of each)
WRITE_KINDS = ("streamUpdates", "layerLinkDeletions", "manifestLinkDeletions", "blobDeletions", "imageDeletions")


class Calls:
    """Every call made, in upstream's notation, per kind (upstream's fakes keep sets), and the
    sequence of all calls as (kind, subject): kind is one of WRITE_KINDS, or "get"/"put" for a
    stream's GET and PUT, subject the invocation or the stream's NS/NAME."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_kind: defaultdict[str, list[str]] = defaultdict(list)
        self.sequence: list[tuple[str, str]] = []

    def add(self, kind: str, *invocations: str) -> None:
        with self._lock:
            self.by_kind[kind] += invocations

    def call(self, kind: str, subject: str) -> None:
        with self._lock:
            self.sequence.append((kind, subject))

    def of_stream(self, repo: str) -> list[str]:
        """The kinds of the calls made for one stream, in order (stage 1's calls)."""
        return [
            kind for kind, subject in self.sequence
            if subject == repo or (kind in ("layerLinkDeletions", "manifestLinkDeletions") and subject.startswith(repo + "|"))
        ]

    def writes(self) -> list[tuple[str, str]]:
        """The calls that change something (a stream's PUT, every deletion), in order."""
        return [(kind, subject) for kind, subject in self.sequence if kind != "get"]


class FakeApi:
    """The API server holding the given objects' image streams, failing what `faults` names.

    Like upstream's fakeImageStreamDeleter, the GET remembers each tag's items, and the PUT records
    what the new status lacks: `repo|tag|index|image` per removed item, `repo:tag` per tag gone."""

    def __init__(self, objects: list[dict[str, Any]], faults: dict[str, list[str]], calls: Calls, conflicts: int = 0) -> None:
        self.streams = {
            f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in objects if o.get("kind") == "ImageStream"
        }
        self.faults = faults
        self.calls = calls
        self.conflicts = conflicts  # answer this many PUTs (the first ones) with 409
        self._seen: dict[str, dict[str, list[str]]] = {}

    @staticmethod
    def _tags(stream: dict[str, Any]) -> dict[str, list[str]]:
        return {t["tag"]: [i["image"] for i in t.get("items") or []] for t in (stream.get("status") or {}).get("tags") or []}

    def get_stream(self, namespace: str, name: str) -> tuple[Outcome, dict[str, Any] | None]:
        repo = f"{namespace}/{name}"
        self.calls.call("get", repo)
        if repo in self.faults.get("imageStreamGetErrors", []):
            return Outcome(ERROR, ERR), None
        stream = self.streams.get(repo)
        if stream is None:
            return Outcome(NOT_FOUND, "not found"), None
        self._seen[repo] = self._tags(stream)
        return Outcome(OK), copy.deepcopy(stream)

    def update_stream_status(self, stream: dict[str, Any]) -> Outcome:
        repo = f"{stream['metadata']['namespace']}/{stream['metadata']['name']}"
        self.calls.call("put", repo)
        new = self._tags(stream)
        for tag, items in self._seen[repo].items():
            if tag not in new:
                self.calls.add("streamUpdates", f"{repo}:{tag}")
            kept = new.get(tag, [])
            k = 0
            for index, image in enumerate(items):
                if k < len(kept) and kept[k] == image:
                    k += 1
                    continue
                self.calls.add("streamUpdates", f"{repo}|{tag}|{index}|{image}")
        if repo in self.faults.get("imageStreamUpdateErrors", []):
            return Outcome(ERROR, ERR)
        if self.conflicts > 0:
            self.conflicts -= 1
            return Outcome(CONFLICT, "Operation cannot be fulfilled: the object has been modified")
        self.streams[repo] = stream
        return Outcome(OK)

    def delete_image(self, name: str) -> Outcome:
        self.calls.add("imageDeletions", name)
        self.calls.call("imageDeletions", name)
        return Outcome(ERROR, ERR) if name in self.faults.get("imageDeleteErrors", []) else Outcome(OK)


class FakeRegistry:
    def __init__(self, faults: dict[str, list[str]], calls: Calls) -> None:
        self.faults = faults
        self.calls = calls

    def _call(self, kind: str, fault: str, invocation: str) -> Outcome:
        self.calls.add(kind, invocation)
        self.calls.call(kind, invocation)
        return Outcome(ERROR, ERR) if invocation in self.faults.get(fault, []) else Outcome(OK)

    def delete_layer_link(self, repo: str, digest: str) -> Outcome:
        return self._call("layerLinkDeletions", "layerLinkDeleteErrors", f"{repo}|{digest}")

    def delete_manifest_link(self, repo: str, digest: str) -> Outcome:
        return self._call("manifestLinkDeletions", "manifestLinkDeleteErrors", f"{repo}|{digest}")

    def delete_blob(self, digest: str) -> Outcome:
        return self._call("blobDeletions", "blobDeleteErrors", digest)
