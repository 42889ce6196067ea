"""JSON's names for the types of decoded values, for messages about an input: a user wrote JSON,
not Python (`found null`, never `found NoneType`)."""

from __future__ import annotations

from typing import Any

_NAMES: dict[type, str] = {
    dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number", type(None): "null",
}


def json_type(value: Any) -> str:
    """The JSON type of a value as a JSON decoder gives it, in words: `an object`, ..., `null`."""
    return _NAMES.get(type(value), "a value")
