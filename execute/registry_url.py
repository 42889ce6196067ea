"""Where the registry is and how far to trust it (docs/rules.md: "Flags and validation", checks
4-6; "Registry calls and answers", which registry, plain HTTP and TLS).

Pure logic, no I/O. `--registry-url` is judged the way upstream judges it, with Go's net/url
parser, so this module carries a small port of the parts of `url.Parse` that the check reaches
(scheme, authority, port, host characters, escapes), including Go's error texts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING

from pruneplan.reference import InvalidReference, parse_reference
from pruneplan.errors import EXIT_FAILURE, FlagError, PrunePlanError

if TYPE_CHECKING:
    from pruneplan.analyze.decisions.model import Image, Stream

_CREATED = attrgetter("created")



# --- Go's net/url, the subset validateRegistryURL reaches -------------------------------------


class GoURLError(ValueError):
    """A parse failure; str() is Go's `parse "<url>": <reason>`."""


@dataclass(frozen=True, slots=True)
class GoURL:
    scheme: str  # lower-cased, as Go stores it
    user: str | None
    host: str  # unescaped, port included, IPv6 brackets kept
    path: str  # unescaped
    raw_query: str
    opaque: str


_HEX = "0123456789abcdefABCDEF"
# Characters Go lets through unescaped in a host (encodeHost mode of shouldEscape).
_HOST_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&'()*+,;=:[]<>\"")
_USERINFO_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@")


def _go_quote(text: str) -> str:
    """Go's %q for the short ASCII snippets that appear in url errors."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= ord(ch) < 0x7F:
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _unescape(text: str, mode: str) -> str:
    """Go's url.unescape for modes 'host', 'path', 'fragment', 'user': validate, then decode."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                raise ValueError(f"invalid URL escape {_go_quote(text[i : i + 3])}")
            # In a host only %-escaped non-ASCII bytes (and %25) are allowed.
            if mode == "host" and int(text[i + 1], 16) < 8 and text[i : i + 3] != "%25":
                raise ValueError(f"invalid URL escape {_go_quote(text[i : i + 3])}")
            i += 3
            continue
        if mode == "host" and ord(ch) < 0x80 and ch not in _HOST_OK:
            raise ValueError(f"invalid character {_go_quote(ch)} in host name")
        i += 1
    raw = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    j = 0
    while j < len(raw):
        if raw[j] == 0x25:  # '%'
            out.append(int(raw[j + 1 : j + 3], 16))
            j += 3
        else:
            out.append(raw[j])
            j += 1
    return out.decode("utf-8", "surrogateescape")


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _parse_host(host: str) -> str:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        colon_port = host[end + 1 :]
        if not _valid_optional_port(colon_port):
            raise ValueError(f"invalid port {_go_quote(colon_port)} after host")
    else:
        colon = host.rfind(":")
        if colon != -1 and not _valid_optional_port(host[colon:]):
            raise ValueError(f"invalid port {_go_quote(host[colon:])} after host")
    return _unescape(host, "host")


def _get_scheme(raw: str) -> tuple[str, str]:
    for i, ch in enumerate(raw):
        if ch.isascii() and ch.isalpha():
            continue
        if ch.isascii() and (ch.isdigit() or ch in "+-."):
            if i == 0:
                return "", raw
            continue
        if ch == ":":
            if i == 0:
                raise ValueError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def go_parse_url(raw: str) -> GoURL:
    """url.Parse as Go does it, raising GoURLError with Go's message."""
    without_fragment, _, fragment = raw.partition("#")
    try:
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in without_fragment):
            raise ValueError("net/url: invalid control character in URL")
        scheme, rest = _get_scheme(without_fragment)
        scheme = scheme.lower()
        if rest.endswith("?") and rest.count("?") == 1:
            rest, raw_query = rest[:-1], ""
        else:
            rest, _, raw_query = rest.partition("?")
        user: str | None = None
        host = ""
        if not rest.startswith("/"):
            if scheme:
                return GoURL(scheme, None, "", "", raw_query, rest)
            if ":" in rest.partition("/")[0]:
                raise ValueError("first path segment in URL cannot contain colon")
        if (scheme or not rest.startswith("///")) and rest.startswith("//"):
            authority, slash, tail = rest[2:].partition("/")
            rest = slash + tail
            at = authority.rfind("@")
            host = _parse_host(authority[at + 1 :] if at >= 0 else authority)
            if at >= 0:
                userinfo = authority[:at]
                if any(c not in _USERINFO_OK for c in userinfo if c.isascii()):
                    raise ValueError("net/url: invalid userinfo")
                user = _unescape(userinfo, "user")
        path = _unescape(rest, "path")
    except ValueError as exc:
        raise GoURLError(f"parse {_go_quote(without_fragment)}: {exc}") from None
    if fragment:
        try:
            _unescape(fragment, "fragment")
        except ValueError as exc:
            raise GoURLError(f"parse {_go_quote(raw)}: {exc}") from None
    return GoURL(scheme, user, host, path, raw_query, "")


# --- flag validation (rules: Flags and validation, checks 4-6) ----------------------------------


def _registry_url_problem(value: str) -> str | None:
    try:
        if "://" in value:
            url = go_parse_url(value)
            if url.scheme not in ("http", "https"):
                return f"unsupported scheme: {url.scheme}"
        else:
            url = go_parse_url("https://" + value)
    except GoURLError as exc:
        return str(exc)
    if url.path not in ("", "/"):
        return f"no path after {url.host} is allowed"
    if url.raw_query:
        return f"no query arguments are allowed after {url.host}"
    if not url.host:
        return "no host name specified"
    return None


def validate_registry_url(value: str) -> None:
    """Refuse a `--registry-url` upstream refuses, with upstream's reason. "" means "not given"."""
    if not value:
        return
    problem = _registry_url_problem(value)
    if problem is not None:
        raise FlagError(f"invalid --registry-url flag: {problem}")


def validate_registry_flags(registry_url: str | None, ca_bundle: str | None, force_insecure: bool) -> None:
    """The registry part of upstream's Validate, in its order (docs/rules.md: Flags and
    validation, checks 4-6)."""
    validate_registry_url(registry_url or "")
    if ca_bundle and force_insecure:
        raise FlagError("--certificate-authority cannot be specified with --force-insecure")
    if ca_bundle and (registry_url or "").startswith("http://"):
        raise FlagError("--certificate-authority cannot be specified for insecure http protocol")


# --- registry host discovery (rules: which registry) --------------------------------------------


def _find_pull_spec(images: Iterable[Image], streams: Iterable[Stream]) -> str:
    managed = [image for image in images if image.managed]
    if managed:
        # Newest managed image first; its pull spec has the most current registry address.
        newest = max(managed, key=_CREATED)
        return newest.reference
    pull_spec = ""
    # Upstream sorts newest first and then lets every stream overwrite the pull spec, so the
    # oldest stream with a repository wins. Kept as is: it is what upstream contacts.
    for stream in sorted(streams, key=_CREATED, reverse=True):
        if stream.repository:
            pull_spec = stream.repository
    return pull_spec


def determine_registry_host(
    registry_url: str | None,
    images: Iterable[Image],
    streams: Iterable[Stream],
) -> str:
    """The registry to contact: the override verbatim, else from the images / streams (rules:
    which registry)."""
    if registry_url:
        return registry_url
    pull_spec = _find_pull_spec(images, streams)
    if not pull_spec:
        reason = "no managed image found"
    else:
        try:
            ref = parse_reference(pull_spec)
        except InvalidReference as exc:
            reason = f'unable to parse "{pull_spec}": {exc}'
        else:
            if ref.registry:
                return ref.registry
            reason = f"{pull_spec} does not include a registry"
    raise PrunePlanError(f"unable to find the remote registry host: {reason}", EXIT_FAILURE)


# --- insecure decision (rules: plain HTTP and TLS) ----------------------------------------------

_LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
_LOCAL_SUBNETS = tuple(
    ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10")
)


def _go_split_host_port(hostport: str) -> tuple[str, str] | None:
    """net.SplitHostPort; None where Go returns an error."""
    colon = hostport.rfind(":")
    if colon < 0:
        return None
    start, after = 0, 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or end + 1 != colon:
            return None
        host = hostport[1:end]
        start, after = 1, end + 1
    else:
        host = hostport[:colon]
        if ":" in host:
            return None
    if "[" in hostport[start:] or "]" in hostport[after:]:
        return None
    return host, hostport[colon + 1 :]


def _go_parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if "%" in text:  # Go's ParseIP takes no zone
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # Go compares mapped addresses as IPv4
    return ip


def is_private_host(host: str) -> bool:
    """networkutils.IsPrivateAddress: `host[:port]` is local or in a private range (rules: plain
    HTTP and TLS)."""
    split = _go_split_host_port(host)
    bare = split[0] if split is not None else host
    if bare in _LOCAL_HOSTS:
        return True
    ip = _go_parse_ip(bare)
    if ip is None:
        return False
    return any(ip.version == net.version and ip in net for net in _LOCAL_SUBNETS)


def decide_insecure(force_insecure: bool, ca_bundle: str | None, kube_insecure_skip_verify: bool, host: str) -> bool:
    """Plain HTTP / no TLS verification allowed? A CA bundle turns every implicit reason off."""
    if force_insecure:
        return True
    if ca_bundle:
        return False
    return kube_insecure_skip_verify or is_private_host(host) or host.startswith("http://")
