"""The fields a dump keeps of each object: exactly what the rules (and execute's checks) read.

collect writes objects through `project`; anything else in an API object (env values, args,
secrets, other annotations, managed fields) never reaches a dump.
"""

from __future__ import annotations

from typing import Any

MANAGED_ANNOTATION = "openshift.io/image.managed"
BUILD_STRATEGIES = ("sourceStrategy", "dockerStrategy", "customStrategy", "jenkinsPipelineStrategy")


def _pick(src: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(src, dict):
        return {}
    return {k: src[k] for k in keys if k in src and src[k] is not None}


def _metadata(obj: dict[str, Any], annotations: bool = False) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    out = _pick(meta, ("namespace", "name", "uid", "resourceVersion", "creationTimestamp"))
    if annotations:
        notes = meta.get("annotations") or {}
        if isinstance(notes, dict) and MANAGED_ANNOTATION in notes:
            out["annotations"] = {MANAGED_ANNOTATION: notes[MANAGED_ANNOTATION]}
    return out


def _containers(spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(spec, dict):
        return out
    for key in ("initContainers", "containers"):
        items = spec.get(key)
        if isinstance(items, list):
            out[key] = [_pick(c, ("name", "image")) for c in items]
    return out


def _template(obj: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """Keep only the containers of the pod spec found under `path` (e.g. spec.template.spec)."""
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    result: dict[str, Any] = _containers(node)
    for key in reversed(path):
        result = {key: result}
    return result


def _image(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": _metadata(obj, annotations=True)}
    out.update(_pick(obj, ("dockerImageReference", "dockerImageManifestMediaType")))
    layers = obj.get("dockerImageLayers")
    if isinstance(layers, list):
        out["dockerImageLayers"] = [_pick(layer, ("name", "size", "mediaType")) for layer in layers]
    manifests = obj.get("dockerImageManifests")
    if isinstance(manifests, list):
        out["dockerImageManifests"] = [
            _pick(m, ("digest", "mediaType", "manifestSize", "architecture", "os", "variant")) for m in manifests
        ]
    meta = obj.get("dockerImageMetadata")
    if isinstance(meta, dict):
        out["dockerImageMetadata"] = _pick(meta, ("kind", "apiVersion", "Id", "Size", "Created"))
    elif meta is not None:
        out["dockerImageMetadata"] = meta  # kept as is so analyze reports it like upstream
    return out


def _image_stream(obj: dict[str, Any]) -> dict[str, Any]:
    status = obj.get("status") or {}
    tags = []
    for tag in status.get("tags") or []:
        if not isinstance(tag, dict):
            continue
        items = [_pick(i, ("created", "image", "dockerImageReference", "generation")) for i in tag.get("items") or []]
        tags.append({"tag": tag.get("tag"), "items": items})
    out_status: dict[str, Any] = _pick(status, ("dockerImageRepository", "publicDockerImageRepository"))
    out_status["tags"] = tags
    return {"metadata": _metadata(obj), "status": out_status}


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    out = {"metadata": _metadata(obj), "spec": _containers(obj.get("spec"))}
    status = obj.get("status")
    if isinstance(status, dict) and "phase" in status:
        out["status"] = {"phase": status["phase"]}
    return out


def _build(obj: dict[str, Any]) -> dict[str, Any]:
    strategy = ((obj.get("spec") or {}).get("strategy")) or {}
    kept: dict[str, Any] = {}
    for key in BUILD_STRATEGIES:
        value = strategy.get(key)
        if isinstance(value, dict):
            kept[key] = {"from": _pick(value["from"], ("kind", "namespace", "name"))} if isinstance(value.get("from"), dict) else {}
    if "type" in strategy:
        kept["type"] = strategy["type"]
    return {"metadata": _metadata(obj), "spec": {"strategy": kept}}


def _limit_range(obj: dict[str, Any]) -> dict[str, Any]:
    limits = []
    for limit in ((obj.get("spec") or {}).get("limits")) or []:
        if not isinstance(limit, dict):
            continue
        entry: dict[str, Any] = _pick(limit, ("type",))
        if isinstance(limit.get("max"), dict) and "storage" in limit["max"]:
            entry["max"] = {"storage": limit["max"]["storage"]}
        limits.append(entry)
    return {"metadata": _metadata(obj), "spec": {"limits": limits}}


_POD_TEMPLATE = ("spec", "template", "spec")


def project(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Return the projection of an API object of `resource` (plural name) as a dump stores it."""
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
