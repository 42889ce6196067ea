"""The strict JSON objects of pruneplan's own formats (plans, storage inventories): msgspec
Structs, frozen, with unknown fields refused, camelCase names on the wire and untracked by the
cyclic GC (they hold JSON data only). A value check that fails raises BadField naming the field;
the format that owns the struct turns it into its own one-line error, with the field's path."""

from __future__ import annotations

from typing import Any

import msgspec


class BadField(Exception):
    """A failed value check: `name` is the field (or its path below the struct), `what` says
    what is wrong with it ("must be a digest ..., not 'x'")."""

    def __init__(self, name: str, what: str) -> None:
        super().__init__(name, what)
        self.name = name
        self.what = what


def join(where: str, name: str) -> str:
    """The path of field `name` below `where` ("" at the top)."""
    return f"{where}.{name}" if where else name


class StrictStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", gc=False):
    def to_dict(self) -> dict[str, Any]:
        """Exactly the JSON data this was read from (lists, not tuples)."""
        return msgspec.json.decode(msgspec.json.encode(self))
