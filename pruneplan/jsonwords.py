"""JSON's names for the types of decoded values, for messages about an input: a user wrote JSON,
not Python (`found null`, never `found NoneType`)."""

from __future__ import annotations

import re
from typing import Any

_NAMES: dict[type, str] = {
    dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number", type(None): "null",
}


def json_type(value: Any) -> str:
    """The JSON type of a value as a JSON decoder gives it, in words: `an object`, ..., `null`."""
    return _NAMES.get(type(value), "a value")


# msgspec's validation messages (`Expected `int | null`, got `str` - at `$.spec.x``) in words
_AT = re.compile(r"(?s)(.*) - at `\$(.*)`")
_TYPES = {
    "str": "a string", "int": "an integer", "bool": "a boolean", "null": "null", "array": "a list",
    "object": "an object", "float": "a number",
}


def _type_text(spec: str) -> str:
    return " or ".join(_TYPES.get(part.strip(), part.strip()) for part in spec.split("|"))


def describe_validation(message: str, where: str = "") -> tuple[str, str]:
    """msgspec's `<problem> - at `$.a[0].b`` as (field path under `where`, what is wrong):
    ("spec.keepTagRevisions", "must be an integer or null, not a string")."""
    matched = _AT.fullmatch(message)
    problem, at = (matched.group(1), matched.group(2)) if matched else (message, "")
    field = (where + at).lstrip(".")

    def join(name: str) -> str:
        return f"{field}.{name}" if field else name

    found = re.fullmatch(r"Object missing required field `(.*)`", problem)
    if found:
        return join(found.group(1)), "is missing"
    found = re.fullmatch(r"Object contains unknown field `(.*)`", problem)
    if found:
        return join(found.group(1)), "is not a known field"
    found = re.fullmatch(r"Expected `(.*)`, got `(.*)`", problem)
    if found:
        return field or "(document)", f"must be {_type_text(found.group(1))}, not {_type_text(found.group(2))}"
    found = re.fullmatch(r"Expected `int` >= 0", problem)
    if found:
        return field or "(document)", "must be a non-negative integer"
    found = re.fullmatch(r"Invalid enum value (.*)", problem)
    if found:
        return field or "(document)", f"cannot be {found.group(1)}"
    return field or "(document)", problem.replace("\n", " ")
