"""Plan format v1 (docs/plan-format.md): deterministic bytes; reading is pruneplan.planmodel.

The plan is the contract between analyze, the reviewer and execute, so its bytes are fixed by
its content alone: the top-level keys in a fixed order that reads from the top (what the plan is,
where it comes from, its policy, its summary, then the actions in the order execute runs them),
sorted keys below them, two-space indentation, lists sorted by the producer, a final newline. The
signature (pruneplan.signing) covers exactly these bytes.

`plan_chunks` is the one serialiser: `Plan.to_bytes` joins its pieces, analyze writes them to
the plan file as they come, and tests dump hand-made (also malformed) documents through it.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

import msgspec

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
# The top-level keys in the order they are written: a reviewer opening the file sees what it
# is and what it will do before the (long) action lists.
REQUIRED_KEYS = ("apiVersion", "kind", *SECTION_KEYS, "errors", *ACTION_KEYS)
_RANK = {key: rank for rank, key in enumerate(REQUIRED_KEYS)}

SIGNATURE_SUFFIX = ".sig"  # a plan's detached signature is PLAN.sig unless named otherwise

# The most a plan file may hold when read: a plan for a million images is about 1.5 GB.
MAX_PLAN = 4 << 30
LIST_CHUNK = 2_000  # list entries serialised at once: a big plan never exists whole as bytes

# Below the top level, Struct fields and dict keys alike come out sorted by their JSON names.
_ENCODER = msgspec.json.Encoder(order="sorted")

# A value dumped inside a one-key object comes out indented as the plan needs it (a top-level
# value's lines by 2 spaces, a list's entries by 4): no second pass re-indenting the bytes.
_WRAP_KEY = "e"
_WRAPPED_HEAD = b'{\n  "' + _WRAP_KEY.encode() + b'": '
_WRAPPED_LIST_HEAD = _WRAPPED_HEAD + b"[\n"
_WRAPPED_TAIL = b"\n}"
_WRAPPED_LIST_TAIL = b"\n  ]" + _WRAPPED_TAIL


def _indented(value: Any) -> bytes:
    return msgspec.json.format(_ENCODER.encode({_WRAP_KEY: value}), indent=2)


def _unwrapped(body: bytes, head: bytes, tail: bytes) -> memoryview:
    """`body` without `head` and `tail`, not copied."""
    return memoryview(body)[len(head):len(body) - len(tail)]


def dump_plan(document: Any) -> bytes:
    """The whole plan's bytes (a Plan, or a mapping of JSON names to values)."""
    return b"".join(plan_chunks(document))


def plan_chunks(document: Any, chunk: int = LIST_CHUNK) -> Iterator[bytes | memoryview]:
    """dump_plan's bytes, a piece at a time: a top-level list is serialised `chunk` entries at a
    time. `document` is a pruneplan.planmodel.Plan or a mapping of JSON names to values."""
    # a key of no plan (a hand-made document in a test) goes after the plan's own, sorted
    pairs = sorted(_top_level(document), key=lambda pair: (_RANK.get(pair[0], len(_RANK)), pair[0]))
    if not pairs:
        yield b"{}\n"
        return
    for position, (key, value) in enumerate(pairs):
        yield (b"{\n  " if position == 0 else b",\n  ") + _ENCODER.encode(key) + b": "
        if isinstance(value, (list, tuple)):
            yield from _list_chunks(value, chunk)
        else:
            yield _unwrapped(_indented(value), _WRAPPED_HEAD, _WRAPPED_TAIL)
    yield b"\n}\n"


def _top_level(document: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(document, Mapping):
        return document.items()
    return [(field.encode_name, getattr(document, field.name)) for field in msgspec.structs.fields(document)]


def _list_chunks(entries: list[Any] | tuple[Any, ...], chunk: int) -> Iterator[bytes | memoryview]:
    if not entries:
        yield b"[]"
        return
    for start in range(0, len(entries), chunk):
        body = _indented(entries[start:start + chunk])  # b'{\n  "e": [\n    entry,\n    entry\n  ]\n}'
        yield b"[\n" if start == 0 else b",\n"
        yield _unwrapped(body, _WRAPPED_LIST_HEAD, _WRAPPED_LIST_TAIL)
    yield b"\n  ]"
