"""The fields a dump keeps of each object: exactly what the rules (and execute's checks) read.

collect writes objects through `project`; anything else in an API object (env values, args,
secrets, other annotations, managed fields) never reaches a dump.

Only the projected shape is kept. An object or a list on the path to a kept field (`spec`,
`status.tags`, a container, ...) that holds another JSON type cannot be projected without reading
it as absent, which would drop a referrer: `project` refuses the object (ProjectionError). A kept
field that holds an object or a list where a plain value belongs keeps its JSON type but none of
its content, and so does `dockerImageMetadata` of the wrong type: analyze judges them by their
type alone, as it does for any input.
"""

from __future__ import annotations

from typing import Any

from pruneplan.kinds import BY_RESOURCE

MANAGED_ANNOTATION = "openshift.io/image.managed"
BUILD_STRATEGIES = ("sourceStrategy", "dockerStrategy", "customStrategy", "jenkinsPipelineStrategy")


class ProjectionError(ValueError):
    """An object with a field of the wrong JSON type on the path to what a dump keeps; the
    message names the object and the field: `imagestream ns/app: status must be an object`."""


class _WrongType(Exception):
    def __init__(self, where: str, expected: str) -> None:
        super().__init__(f"{where} must be {expected}")


def _object(value: Any, where: str) -> dict[str, Any] | None:
    """`value` where an object belongs: None when not set (absent or null, as Go decodes it)."""
    if value is None or isinstance(value, dict):
        return value
    raise _WrongType(where, "an object")


def _list(value: Any, where: str) -> list[Any] | None:
    if value is None or isinstance(value, list):
        return value
    raise _WrongType(where, "a list")


def _entries(items: list[Any] | None, where: str) -> list[dict[str, Any]]:
    """The entries of a list of objects; a null entry is refused too, as analyze refuses it."""
    out = []
    for index, item in enumerate(items or ()):
        if not isinstance(item, dict):
            raise _WrongType(f"{where}[{index}]", "an object")
        out.append(item)
    return out


def _leaf(value: Any) -> Any:
    """A kept value: an object or list where a plain value belongs keeps only its JSON type."""
    return type(value)() if isinstance(value, (dict, list)) else value


def _pick(src: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    if src is None:
        return {}
    return {k: _leaf(src[k]) for k in keys if src.get(k) is not None}


def _metadata(obj: dict[str, Any], annotations: bool = False) -> dict[str, Any]:
    meta = _object(obj.get("metadata"), "metadata")
    out = _pick(meta, ("namespace", "name", "uid", "resourceVersion", "creationTimestamp"))
    if annotations and meta is not None:
        notes = _object(meta.get("annotations"), "metadata.annotations")
        if notes is not None and MANAGED_ANNOTATION in notes:
            out["annotations"] = {MANAGED_ANNOTATION: _leaf(notes[MANAGED_ANNOTATION])}
    return out


def _containers(spec: dict[str, Any] | None, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec is None:
        return out
    for key in ("initContainers", "containers"):
        items = _list(spec.get(key), f"{where}.{key}")
        if items is not None:
            out[key] = [_pick(c, ("name", "image")) for c in _entries(items, f"{where}.{key}")]
    return out


def _template(obj: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """Keep only the containers of the pod spec found under `path` (e.g. spec.template.spec)."""
    node: dict[str, Any] | None = obj
    for depth, key in enumerate(path):
        node = _object(node.get(key), ".".join(path[: depth + 1])) if node is not None else None
    result: dict[str, Any] = _containers(node, ".".join(path))
    for key in reversed(path):
        result = {key: result}
    return result


def _image(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": _metadata(obj, annotations=True)}
    out.update(_pick(obj, ("dockerImageReference", "dockerImageManifestMediaType")))
    layers = _list(obj.get("dockerImageLayers"), "dockerImageLayers")
    if layers is not None:
        out["dockerImageLayers"] = [
            _pick(layer, ("name", "size", "mediaType")) for layer in _entries(layers, "dockerImageLayers")
        ]
    manifests = _list(obj.get("dockerImageManifests"), "dockerImageManifests")
    if manifests is not None:
        out["dockerImageManifests"] = [
            _pick(m, ("digest", "mediaType", "manifestSize", "architecture", "os", "variant"))
            for m in _entries(manifests, "dockerImageManifests")
        ]
    meta = obj.get("dockerImageMetadata")
    if isinstance(meta, dict):
        out["dockerImageMetadata"] = _pick(meta, ("kind", "apiVersion", "Id", "Size", "Created"))
    elif meta is not None:
        # analyze reports it by its JSON type, as upstream's decoder does: the type is all it keeps
        out["dockerImageMetadata"] = type(meta)()
    return out


def _image_stream(obj: dict[str, Any]) -> dict[str, Any]:
    status = _object(obj.get("status"), "status")
    tags = []
    for index, tag in enumerate(_entries(_list((status or {}).get("tags"), "status.tags"), "status.tags")):
        where = f"status.tags[{index}].items"
        items = [
            _pick(i, ("created", "image", "dockerImageReference", "generation"))
            for i in _entries(_list(tag.get("items"), where), where)
        ]
        tags.append({"tag": _leaf(tag.get("tag")), "items": items})
    out_status: dict[str, Any] = _pick(status, ("dockerImageRepository", "publicDockerImageRepository"))
    out_status["tags"] = tags
    return {"metadata": _metadata(obj), "status": out_status}


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    out = {"metadata": _metadata(obj), "spec": _containers(_object(obj.get("spec"), "spec"), "spec")}
    status = _object(obj.get("status"), "status")
    if status is not None and "phase" in status:
        out["status"] = {"phase": _leaf(status["phase"])}
    return out


def _build(obj: dict[str, Any]) -> dict[str, Any]:
    spec = _object(obj.get("spec"), "spec")
    strategy = _object((spec or {}).get("strategy"), "spec.strategy") or {}
    kept: dict[str, Any] = {}
    for key in BUILD_STRATEGIES:
        value = _object(strategy.get(key), f"spec.strategy.{key}")
        if value is not None:
            source = _object(value.get("from"), f"spec.strategy.{key}.from")
            kept[key] = {"from": _pick(source, ("kind", "namespace", "name"))} if source is not None else {}
    if "type" in strategy:
        kept["type"] = _leaf(strategy["type"])
    return {"metadata": _metadata(obj), "spec": {"strategy": kept}}


def _limit_range(obj: dict[str, Any]) -> dict[str, Any]:
    spec = _object(obj.get("spec"), "spec")
    limits = []
    for index, limit in enumerate(_list((spec or {}).get("limits"), "spec.limits") or ()):
        if limit is None:
            continue  # Go's zero LimitRangeItem, which limits nothing
        if not isinstance(limit, dict):
            raise _WrongType(f"spec.limits[{index}]", "an object")
        entry: dict[str, Any] = _pick(limit, ("type",))
        most = limit.get("max")
        if isinstance(most, dict):
            if "storage" in most:
                entry["max"] = {"storage": _leaf(most["storage"])}
        elif most is not None:
            entry["max"] = _leaf(most)  # analyze refuses it for an Image limit, by its type
        limits.append(entry)
    return {"metadata": _metadata(obj), "spec": {"limits": limits}}


_POD_TEMPLATE = ("spec", "template", "spec")


def project(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Return the projection of an API object of `resource` (plural name) as a dump stores it;
    ProjectionError for an object of the wrong shape."""
    try:
        return _project(resource, obj)
    except _WrongType as err:
        kind = BY_RESOURCE.get(resource)
        raise ProjectionError(f"{kind.word if kind else resource} {_label(obj)}: {err}") from None


def _label(obj: dict[str, Any]) -> str:
    """How a message names an object: `ns/name`, `name`, or that it has no name."""
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        return "without a name"
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    return f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name


def _project(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    if resource == "images":
        return _image(obj)
    if resource == "imagestreams":
        return _image_stream(obj)
    if resource == "pods":
        return _pod(obj)
    if resource in ("builds", "buildconfigs"):
        return _build(obj)
    if resource == "limitranges":
        return _limit_range(obj)
    if resource == "cronjobs":
        return {"metadata": _metadata(obj), **_template(obj, ("spec", "jobTemplate", *_POD_TEMPLATE))}
    return {"metadata": _metadata(obj), **_template(obj, _POD_TEMPLATE)}
