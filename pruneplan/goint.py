"""Integers as oc's flags read them: Go's strconv.ParseInt(s, 0, 64), with its error messages.

Base 0 takes the base from the prefix: `0x` 16, `0o` 8, `0b` 2, a bare leading `0` 8 (so `010`
is 8), else 10. A sign may lead; underscores may separate digits; nothing else is accepted (no
spaces, no digits outside ASCII, which Python's int() would take).
"""

from __future__ import annotations

from .goduration import go_quote

INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1
_DIGITS = {c: i for i, c in enumerate("0123456789abcdefghijklmnopqrstuvwxyz")}
_PREFIX_BASES = {"b": 2, "o": 8, "x": 16}


class GoNumError(ValueError):
    """strconv.NumError: `strconv.ParseInt: parsing "<s>": invalid syntax` (or value out of range)."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"strconv.ParseInt: parsing {go_quote(text)}: {reason}")


def parse_go_int(text: str) -> int:
    """strconv.ParseInt(text, 0, 64)."""
    if not text:
        raise GoNumError(text, "invalid syntax")
    negative = text[0] == "-"
    unsigned = text[1:] if text[0] in "+-" else text
    value = _parse_uint(unsigned, text)
    if negative:
        if value > INT64_MAX + 1:
            raise GoNumError(text, "value out of range")
        return -value
    if value > INT64_MAX:
        raise GoNumError(text, "value out of range")
    return value


def _parse_uint(digits: str, whole: str) -> int:
    """strconv.ParseUint(digits, 0, 64); errors name `whole` (the text with its sign)."""
    if not digits:
        raise GoNumError(whole, "invalid syntax")
    base, body = 10, digits
    if digits[0] == "0":
        prefix = digits[1:2].lower()
        if len(digits) >= 3 and prefix in _PREFIX_BASES:
            base, body = _PREFIX_BASES[prefix], digits[2:]
        else:
            base, body = 8, digits[1:]
    value = 0
    underscores = False
    for char in body:
        if char == "_":
            underscores = True
            continue
        digit = _DIGITS.get(char.lower()) if char.isascii() else None
        if digit is None or digit >= base:
            raise GoNumError(whole, "invalid syntax")
        # Go checks the range as it goes: an overflow is reported even if a bad digit follows
        value = value * base + digit
        if value > _UINT64_MAX:
            raise GoNumError(whole, "value out of range")
    if underscores and not _underscores_ok(digits):
        raise GoNumError(whole, "invalid syntax")
    return value


def _underscores_ok(digits: str) -> bool:
    """An underscore only between two digits, or between a base prefix and a digit."""
    last = "start"  # "digit" (a digit or the base prefix), "underscore", "start" or "other"
    hexadecimal = False
    rest = digits
    if len(digits) >= 2 and digits[0] == "0" and digits[1].lower() in _PREFIX_BASES:
        last, hexadecimal, rest = "digit", digits[1].lower() == "x", digits[2:]
    for char in rest:
        if char.isascii() and (char.isdigit() or (hexadecimal and char.lower() in "abcdef")):
            last = "digit"
        elif char == "_":
            if last != "digit":
                return False
            last = "underscore"
        elif last == "underscore":
            return False
        else:
            last = "other"
    return last != "underscore"
