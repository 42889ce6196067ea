"""Go's time.ParseDuration and Duration.String, so flags read and print as upstream's do.

Durations are integer nanoseconds, like Go's time.Duration. Error texts are Go's.
"""

from __future__ import annotations

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX = (1 << 63) - 1


def go_quote(text: str) -> str:
    """strconv.Quote for the strings that appear in messages (printable text, quotes, controls)."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def parse_go_duration(text: str) -> int:
    """Parse like Go's time.ParseDuration; raise ValueError with Go's message."""
    original = text
    invalid = ValueError("time: invalid duration " + go_quote(original))
    negative = False
    if text and text[0] in "+-":
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise invalid
    total = 0
    while text:
        if not (text[0] == "." or text[0].isdigit() and text[0].isascii()):
            raise invalid
        i = 0
        while i < len(text) and "0" <= text[i] <= "9":
            i += 1
        whole_digits, text = text[:i], text[i:]
        frac_digits = ""
        if text.startswith("."):
            text = text[1:]
            j = 0
            while j < len(text) and "0" <= text[j] <= "9":
                j += 1
            frac_digits, text = text[:j], text[j:]
        if not whole_digits and not frac_digits:
            raise invalid
        k = 0
        while k < len(text) and not (text[k] == "." or "0" <= text[k] <= "9"):
            k += 1
        if k == 0:
            raise ValueError("time: missing unit in duration " + go_quote(original))
        unit_name, text = text[:k], text[k:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise ValueError(
                "time: unknown unit " + go_quote(unit_name) + " in duration " + go_quote(original)
            )
        whole = int(whole_digits) if whole_digits else 0
        value = whole * unit
        if frac_digits:
            value += int(frac_digits) * unit // (10 ** len(frac_digits))
        total += value
        if total > _MAX:
            raise invalid
    return -total if negative else total


def _fmt_frac(value: int, precision: int) -> tuple[str, int]:
    """Split value into integer part and trailing fraction of `precision` digits (trimmed)."""
    digits = []
    printed = False
    for _ in range(precision):
        digit = value % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        value //= 10
    frac = "".join(reversed(digits))
    return ("." + frac if frac else ""), value


def format_go_duration(nanos: int) -> str:
    """Duration.String(): 1h0m0s, 1h30m0s, 90s -> 1m30s, 0s, 1.5s, 250ms."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    u = abs(nanos)
    if u < 1_000_000_000:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            frac, whole = _fmt_frac(u, 3)
            return f"{sign}{whole}{frac}\u00b5s"
        frac, whole = _fmt_frac(u, 6)
        return f"{sign}{whole}{frac}ms"
    frac, secs = _fmt_frac(u, 9)
    out = f"{secs % 60}{frac}s"
    minutes = secs // 60
    if minutes:
        out = f"{minutes % 60}m" + out
        hours = minutes // 60
        if hours:
            out = f"{hours}h" + out
    return sign + out
