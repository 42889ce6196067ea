"""Plan format v1 (docs/plan-format.md): deterministic bytes; reading is pruneplan.planmodel.

The plan is the contract between analyze, the reviewer and execute, so its bytes are fixed by
its content alone: sorted keys, two-space indentation, lists sorted by the producer, a final
newline. The signature (pruneplan.signing) covers exactly these bytes.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Iterator

import orjson

PLAN_API_VERSION = "pruneplan.io/v1"
PLAN_KIND = "PrunePlan"

ACTION_KEYS = (
    "imageStreamUpdates",
    "layerLinkDeletions",
    "manifestLinkDeletions",
    "blobDeletions",
    "imageDeletions",
)
SECTION_KEYS = ("metadata", "source", "policy", "summary")
REQUIRED_KEYS = ("apiVersion", "kind", *SECTION_KEYS, *ACTION_KEYS, "errors")


_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
LIST_CHUNK = 20_000  # entries serialised at once by dump_plan_chunks


def dump_plan(plan: dict[str, Any]) -> bytes:
    return orjson.dumps(plan, option=_OPTIONS) + b"\n"


def dump_plan_chunks(plan: dict[str, Any], chunk: int = LIST_CHUNK) -> Iterator[bytes]:
    """dump_plan's bytes, a piece at a time. A top-level value that is an iterator (rather than
    a list, dict or scalar) is a list whose entries are made, serialised and dropped `chunk` at a
    time, so a plan of millions of actions never exists whole, as objects or as bytes."""
    if not plan:
        yield b"{}\n"
        return
    yield from dump_plan_part(plan, sorted(plan), first=True, last=True, chunk=chunk)


def dump_plan_part(plan: dict[str, Any], keys: list[str], *, first: bool, last: bool, chunk: int = LIST_CHUNK) -> Iterator[bytes]:
    """The bytes of `keys` (consecutive in sorted order) of the plan document: `first` when they
    start it, `last` when they end it. Consecutive parts, joined, are dump_plan_chunks' bytes."""
    for position, key in enumerate(keys):
        yield (b"{\n  " if first and position == 0 else b",\n  ") + orjson.dumps(key) + b": "
        value = plan[key]
        if isinstance(value, Iterator):
            yield from _list_chunks(value, chunk)
        else:  # one level deeper than orjson put it: two more spaces on every following line
            yield orjson.dumps(value, option=_OPTIONS).replace(b"\n", b"\n  ")
    if last:
        yield b"\n}\n"


# A list dumped as the value of a one-key object has its entries indented as the plan's lists
# need them (4 spaces, their fields 6): no second pass over the bytes to indent them.
_WRAP_KEY = "e"
_WRAPPED_HEAD = b"{\n  " + orjson.dumps(_WRAP_KEY) + b": [\n"
_WRAPPED_TAIL = b"\n  ]\n}"


def _list_chunks(entries: Iterator[Any], chunk: int) -> Iterator[bytes]:
    opened = False
    while batch := list(islice(entries, chunk)):
        body = orjson.dumps({_WRAP_KEY: batch}, option=_OPTIONS)  # b'{\n  "e": [\n    entry,\n    entry\n  ]\n}'
        yield b",\n" if opened else b"[\n"
        yield body[len(_WRAPPED_HEAD):-len(_WRAPPED_TAIL)]
        opened = True
    yield b"\n  ]" if opened else b"[]"
