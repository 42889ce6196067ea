"""Stable pseudonyms for names in a dump (`collect --redact`). Pure: no I/O.

A redacted dump must still lead `analyze` to the same decisions, so every occurrence of a name
maps to the same pseudonym (keyed HMAC-SHA256), digests and tags stay intact, and an image
reference keeps its shape under the docker reference grammar: pseudonyms are lowercase
alphanumerics, hosts stay hosts (`h<hex>.redacted[:port]`), and a reference that does not parse
becomes a placeholder that does not parse either.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import msgspec

from pruneplan.clustersettings import ClusterSettings

from pruneplan.reference import InvalidReference, match_reference
from pruneplan.errors import PrunePlanError
from pruneplan.urls import without_userinfo

HASH_CHARS = 16  # 64 bits: collisions are detected anyway, and refused
MIN_KEY_BYTES = 16


# Every pseudonym this module makes; used to map text back to the original names.
PSEUDONYM = re.compile(
    rf"h[0-9a-f]{{{HASH_CHARS}}}\.redacted|ns[0-9a-f]{{{HASH_CHARS}}}|n[0-9a-f]{{{HASH_CHARS}}}"
    rf"|<invalid reference r[0-9a-f]{{{HASH_CHARS}}}>"
)

_CONTAINER_PATHS: dict[str, tuple[str, ...]] = {
    "pods": ("spec",),
    "cronjobs": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_TEMPLATE_PATH = ("spec", "template", "spec")


class RedactionError(PrunePlanError):
    pass


def parse_reference(ref: str) -> tuple[str, str | None, str | None] | None:
    """(name, tag, digest) when `ref` parses under the reference grammar, else None."""
    try:
        name, tag, digest = match_reference(ref)
    except InvalidReference:
        return None
    return name, tag or None, digest or None


def _split_port(host: str) -> tuple[str, str]:
    head, sep, port = host.rpartition(":")
    if sep and port.isdigit() and head and not head.endswith(":"):
        return head, sep + port
    return host, ""


class Redactor:
    """Maps namespaces, names, hosts and image references to stable pseudonyms.

    `mapping` (pseudonym → original) grows with the number of distinct names seen; it is what
    the admin keeps to read a plan made from the redacted dump.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise RedactionError(f"a redaction key needs at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self.mapping: dict[str, str] = {}

    def _pseudonym(self, role: bytes, value: str, make: Callable[[str], str]) -> str:
        digest = hmac.new(self._key, role + b"\0" + value.encode(), hashlib.sha256).hexdigest()
        pseudo = make(digest[:HASH_CHARS])
        previous = self.mapping.setdefault(pseudo, value)
        if previous != value:  # 64-bit collision: never merge two names silently
            raise RedactionError(
                f"redaction pseudonym collision between {previous!r} and {value!r}; run again with another key"
            )
        return pseudo

    def namespace(self, value: str) -> str:
        return self._pseudonym(b"namespace", value, lambda h: "ns" + h)

    def name(self, value: str) -> str:
        return self._pseudonym(b"name", value, lambda h: "n" + h)

    def host(self, value: str) -> str:
        """`host[:port]` → `h<hex>.redacted[:port]`: still a registry host for the grammar."""
        bare, port = _split_port(value)
        return self._pseudonym(b"host", bare, lambda h: f"h{h}.redacted") + port

    def _invalid(self, value: str) -> str:
        return self._pseudonym(b"reference", value, lambda h: f"<invalid reference r{h}>")

    def reference(self, ref: str) -> str:
        """Redact an image reference `[host/]ns/name[:tag][@digest]`, keeping tag and digest."""
        if not ref.strip():
            return ref  # blank references are skipped by the rules and carry no name
        parsed = parse_reference(ref)
        if parsed is None:
            return self._invalid(ref)
        name, tag, digest = parsed
        slash = name.find("/")
        if slash < 0:
            # library-go: a lone component with a dot, or starting with localhost, is a registry
            registry_only = "." in name or name.startswith("localhost")
            out = self.host(name) if registry_only else self.name(name)
        else:
            first = name[:slash]
            if "." in first or ":" in first or first == "localhost":
                out = self.host(first) + "/" + self._path(name[slash + 1 :])
            else:
                out = self._path(name)
        if tag is not None:
            out += ":" + tag
        if digest is not None:
            out += "@" + digest
        return out

    def _path(self, path: str) -> str:
        parts = path.split("/")
        if len(parts) == 1:
            return self.name(parts[0])
        return "/".join([self.namespace(parts[0]), *(self.name(p) for p in parts[1:])])

    def stream_name(self, value: str) -> str:
        """Redact `name:tag` / `name@id` (ImageStreamTag / ImageStreamImage): only the stream name.

        Malformed values keep their separators, so they fail in analyze exactly as before.
        """
        cut = min((i for i in (value.find(":"), value.find("@")) if i >= 0), default=len(value))
        head = value[:cut]
        return (self.name(head) if head else head) + value[cut:]

    def url(self, value: str) -> str:
        """Redact a URL (the API server): its host, keeping scheme and port, and each segment of
        its path, query and fragment (a proxy's path such as /k8s/clusters/NAME names the
        cluster). Credentials are dropped, never kept in the mapping."""
        value = without_userinfo(value)
        try:
            parts = urlsplit(value)
        except ValueError:  # an unbalanced IPv6 bracket: nothing of it is kept
            parts = None
        if parts is None or not parts.netloc:
            return self.host(value) if value else value
        path = "/".join(self.name(segment) if segment else segment for segment in parts.path.split("/"))
        query, fragment = (self.name(text) if text else text for text in (parts.query, parts.fragment))
        return urlunsplit((parts.scheme, self.host(parts.netloc), path, query, fragment))

    # -- whole objects (already projected by pruneplan.projection) --------------------------

    def redact(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Redact a projected object in place and return it."""
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            if isinstance(meta.get("namespace"), str):
                meta["namespace"] = self.namespace(meta["namespace"])
            # Image names are manifest digests: they are what the plan acts on, not a secret
            if resource != "images" and isinstance(meta.get("name"), str):
                meta["name"] = self.name(meta["name"])
        if resource == "images":
            self._ref_field(obj, "dockerImageReference")
        elif resource == "imagestreams":
            self._image_stream(obj)
        elif resource in ("builds", "buildconfigs"):
            self._build(obj)
        elif resource != "limitranges":
            self._containers(_walk(obj, _CONTAINER_PATHS.get(resource, _TEMPLATE_PATH)))
        return obj

    def _ref_field(self, holder: Any, key: str) -> None:
        if isinstance(holder, dict) and isinstance(holder.get(key), str):
            holder[key] = self.reference(holder[key])

    def _image_stream(self, obj: dict[str, Any]) -> None:
        status = obj.get("status")
        if not isinstance(status, dict):
            return
        self._ref_field(status, "dockerImageRepository")
        self._ref_field(status, "publicDockerImageRepository")
        for tag in status.get("tags") or []:
            if isinstance(tag, dict):
                for item in tag.get("items") or []:
                    self._ref_field(item, "dockerImageReference")

    def _containers(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            return
        for key in ("initContainers", "containers"):
            for container in spec.get(key) or []:
                if not isinstance(container, dict):
                    continue
                if isinstance(container.get("name"), str):
                    container["name"] = self.name(container["name"])
                self._ref_field(container, "image")

    def _build(self, obj: dict[str, Any]) -> None:
        strategy = _walk(obj, ("spec", "strategy"))
        if not isinstance(strategy, dict):
            return
        for value in strategy.values():
            source = value.get("from") if isinstance(value, dict) else None
            if not isinstance(source, dict):
                continue
            if isinstance(source.get("namespace"), str) and source["namespace"]:
                source["namespace"] = self.namespace(source["namespace"])
            name = source.get("name")
            if isinstance(name, str):
                if source.get("kind") == "DockerImage":
                    source["name"] = self.reference(name)
                else:
                    source["name"] = self.stream_name(name)

    def redact_settings(self, settings: ClusterSettings) -> ClusterSettings:
        """The registry's host name is a name like any other; the pruner's policy is not."""
        hostname = settings.image_config.internal_registry_hostname
        if not hostname:
            return settings
        return msgspec.structs.replace(
            settings, image_config=msgspec.structs.replace(settings.image_config, internal_registry_hostname=self.host(hostname)))

    def redact_header_cluster(self, cluster: dict[str, Any]) -> dict[str, Any]:
        out = dict(cluster)
        if isinstance(out.get("apiServer"), str):
            out["apiServer"] = self.url(out["apiServer"])
        return out

    def mapping_document(self) -> dict[str, Any]:
        return {
            "apiVersion": "pruneplan.io/v1",
            "kind": "RedactionMap",
            "pseudonyms": dict(sorted(self.mapping.items())),
        }


def _walk(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def restore_text(text: str, mapping: dict[str, str]) -> str:
    """Replace every known pseudonym in `text` by its original (to read a redacted plan)."""
    return PSEUDONYM.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def restore(value: Any, mapping: dict[str, str]) -> Any:
    """`restore_text` over every string of a JSON value."""
    if isinstance(value, str):
        return restore_text(value, mapping)
    if isinstance(value, list):
        return [restore(v, mapping) for v in value]
    if isinstance(value, dict):
        return {restore_text(k, mapping): restore(v, mapping) for k, v in value.items()}
    return value
