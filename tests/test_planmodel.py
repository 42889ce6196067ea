"""The typed plan (pruneplan/planmodel.py): every field validated on read, exact bytes back.

A signed plan with a malformed entry must be refused by `verify` and `execute` with exit 13 and
one `error:` line, before execute sends any request (docs/plan-format.md, "Validation on read").
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import msgspec
import pytest

from builders import as_list, digest, image, stream, write_json
from clirunner import run_cli
from execute_env import load
from pruneplan import signing
from pruneplan.errors import EXIT_UNKNOWN_PLAN, PrunePlanError
from pruneplan.planformat import dump_plan
from pruneplan.planmodel import (
    BLOB_KINDS,
    IMAGE_REASONS,
    ITEM_REASONS,
    BlobDeletion,
    ImageDeletion,
    ImageStreamUpdate,
    LinkDeletion,
    Plan,
    PlanFieldError,
    RemovedItem,
)

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "fixtures" / "conformance"
CASE_DIRS = sorted(p for p in CONFORMANCE.iterdir() if p.is_dir() and p.name[:3].isdigit())
PLAN_CASES = [p for p in CASE_DIRS if not json.loads((p / "case.json").read_text())["expect"]["badReferences"]]


def analyze(tmp_path: Path, *args: str, code: int = 0) -> bytes:
    out = tmp_path / "plan.json"
    result = run_cli("analyze", *args, "-o", str(out), "-q")
    assert result.code == code, result.err
    return out.read_bytes()


@pytest.fixture(scope="module")
def example_plan(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return analyze(tmp_path_factory.mktemp("example"), str(ROOT / "fixtures" / "example-dump.json.gz"))


def entry_with(plan: dict[str, Any], key: str) -> dict[str, Any]:
    assert plan[key], f"the example plan must have {key}"
    return plan[key][0]


# ---------------------------------------------------------------------------------------------
# round trip: the bytes analyze writes come back exactly


@pytest.mark.parametrize("case_dir", PLAN_CASES, ids=[p.name for p in PLAN_CASES])
def test_conformance_plan_round_trips_byte_for_byte(case_dir: Path, tmp_path: Path) -> None:
    case = json.loads((case_dir / "case.json").read_text())
    raw = analyze(tmp_path, str(case_dir / "input.json"), "--now", case["now"], *case["args"],
                  code=case["expect"]["exitCode"])

    plan = Plan.from_bytes(raw, "plan.json")

    assert plan.to_bytes() == raw
    assert dump_plan(plan.to_dict()) == raw
    assert Plan.from_dict(json.loads(raw)) == plan


def test_conformance_cases_that_make_a_plan_are_all_round_tripped() -> None:
    assert len(PLAN_CASES) == len(CASE_DIRS) - 4  # the four bad-reference cases write no plan


def test_example_dump_plan_round_trips_byte_for_byte(example_plan: bytes) -> None:
    plan = Plan.from_bytes(example_plan, "plan.json")

    assert plan.to_bytes() == example_plan
    assert Plan.from_bytes(example_plan).to_dict() == json.loads(example_plan)
    assert len(plan.image_deletions) == plan.summary.deleted_images > 100
    assert plan.blob_deletions and plan.image_stream_updates and plan.layer_link_deletions


def test_plan_with_errors_round_trips_byte_for_byte(tmp_path: Path) -> None:
    bare = image(digest(2), layers=[digest("l2")], metadata=None)  # stage 2 halts on it
    items = [image(digest(1), layers=[digest("l1")]), bare, stream("ns", "s", {"latest": [digest(1), digest(2)]})]
    dump = write_json(tmp_path / "in.json", as_list(items))
    raw = analyze(tmp_path, str(dump), "--now", "2026-06-01T00:00:00Z", code=1)

    plan = Plan.from_bytes(raw)

    assert plan.errors == (f"image {digest(2)}: failed to read metadata for image {digest(2)}",)
    assert plan.to_bytes() == raw


def test_entries_convert_to_and_from_dicts_exactly(example_plan: bytes) -> None:
    doc = json.loads(example_plan)
    for cls, key in ((ImageStreamUpdate, "imageStreamUpdates"), (LinkDeletion, "layerLinkDeletions"),
                     (LinkDeletion, "manifestLinkDeletions"), (BlobDeletion, "blobDeletions"),
                     (ImageDeletion, "imageDeletions")):
        entry = entry_with(doc, key)
        assert cls.from_dict(entry).to_dict() == entry
    item = doc["imageStreamUpdates"][0]["removedItems"][0]
    assert RemovedItem.from_dict(item).to_dict() == item


def test_a_plan_built_by_its_constructor_is_checked_when_asked_and_when_read(example_plan: bytes) -> None:
    plan = Plan.from_bytes(example_plan)
    first = plan.blob_deletions[0]
    hostile = msgspec.structs.replace(first, digest="../../x")
    tampered = msgspec.structs.replace(plan, blob_deletions=(hostile, *plan.blob_deletions[1:]))  # no check here

    with pytest.raises(PlanFieldError) as asked:
        tampered.check(path="plan.json")
    with pytest.raises(PlanFieldError) as read:
        Plan.from_bytes(tampered.to_bytes(), "plan.json")

    assert str(asked.value) == str(read.value)
    assert str(read.value).startswith("plan.json: plan field blobDeletions[0].digest must be a digest or object name")
    plan.check()  # the plan as analyze wrote it passes


def test_reason_codes_are_analyzes_rules() -> None:
    from pruneplan.analyze.decisions.rules import DELETE_UNREFERENCED, REMOVING_RULES

    assert set(ITEM_REASONS) == REMOVING_RULES
    assert IMAGE_REASONS == (DELETE_UNREFERENCED,)
    assert BLOB_KINDS == ("layer", "config", "manifest")


def test_the_plan_is_immutable(example_plan: bytes) -> None:
    plan = Plan.from_bytes(example_plan)
    with pytest.raises(AttributeError):
        plan.blob_deletions = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        plan.image_deletions[0].blobs = ()  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# malformed plans: one table per entry kind; (mutation, field path, words of the message)

Mutation = Callable[[dict[str, Any]], None]


def _set(key: str, field: str, value: Any) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        entry_with(plan, key)[field] = value
    return mutate


def _drop(key: str, field: str) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        del entry_with(plan, key)[field]
    return mutate


def _replace(key: str, value: Any) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        entry_with(plan, key)
        plan[key][0] = value
    return mutate


def _item(field: str, value: Any = None, drop: bool = False) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        item = entry_with(plan, "imageStreamUpdates")["removedItems"][0]
        if drop:
            del item[field]
        else:
            item[field] = value
    return mutate


def _extra_blob(plan: dict[str, Any]) -> None:
    owner = entry_with(plan, "imageDeletions")["name"]
    plan["blobDeletions"].append({"digest": "sha256:" + "f" * 64, "kind": "layer", "size": None, "image": owner})
    plan["summary"]["deletedBlobs"] += 1


def _unplanned_freed_blob(plan: dict[str, Any]) -> None:
    entry_with(plan, "imageDeletions")["blobs"].append("sha256:" + "e" * 64)


def _blob_of_another_image(plan: dict[str, Any]) -> None:
    first, second = plan["imageDeletions"][0], plan["imageDeletions"][1]
    blob = next(b for b in plan["blobDeletions"] if b["digest"] in first["blobs"])
    blob["image"] = second["name"]


def _dropped_blob(plan: dict[str, Any]) -> None:
    plan["blobDeletions"].pop(0)
    plan["summary"]["deletedBlobs"] -= 1


def _summary(field: str, delta: int) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        plan["summary"][field] += delta
    return mutate


MALFORMED: dict[str, list[tuple[str, Mutation, str, str]]] = {
    "imageStreamUpdates": [
        ("not-an-object", _replace("imageStreamUpdates", "ns/name"), "imageStreamUpdates[0]", "must be an object"),
        ("missing-removedItems", _drop("imageStreamUpdates", "removedItems"), "imageStreamUpdates[0].removedItems", "is missing"),
        ("removedItems-not-a-list", _set("imageStreamUpdates", "removedItems", {}), "imageStreamUpdates[0].removedItems", "must be a list"),
        ("removedTags-of-numbers", _set("imageStreamUpdates", "removedTags", [1]), "imageStreamUpdates[0].removedTags[0]", "must be a string"),
        ("hostile-namespace", _set("imageStreamUpdates", "namespace", "../x"), "imageStreamUpdates[0].namespace", "'../x'"),
        ("hostile-name", _set("imageStreamUpdates", "name", "a?c"), "imageStreamUpdates[0].name", "'a?c'"),
        ("resourceVersion-number", _set("imageStreamUpdates", "resourceVersion", 7), "imageStreamUpdates[0].resourceVersion", "must be a string"),
        ("unknown-field", _set("imageStreamUpdates", "force", True), "imageStreamUpdates[0].force", "is not a known field"),
    ],
    "removedItems": [
        ("index-string", _item("index", "3"), "imageStreamUpdates[0].removedItems[0].index", "must be an integer, not a string"),
        ("index-negative", _item("index", -1), "imageStreamUpdates[0].removedItems[0].index", "non-negative"),
        ("index-boolean", _item("index", True), "imageStreamUpdates[0].removedItems[0].index", "not a boolean"),
        ("index-missing", _item("index", drop=True), "imageStreamUpdates[0].removedItems[0].index", "is missing"),
        ("bad-reason", _item("reason", "because"), "imageStreamUpdates[0].removedItems[0].reason", "must be one of"),
        ("keep-reason", _item("reason", "tag-in-use"), "imageStreamUpdates[0].removedItems[0].reason", "must be one of"),
        ("created-not-a-time", _item("created", "yesterday"), "imageStreamUpdates[0].removedItems[0].created", "RFC 3339"),
        ("empty-tag", _item("tag", ""), "imageStreamUpdates[0].removedItems[0].tag", "must not be empty"),
    ],
    "layerLinkDeletions": [
        ("not-an-object", _replace("layerLinkDeletions", "sha256:x"), "layerLinkDeletions[0]", "must be an object"),
        ("missing-digest", _drop("layerLinkDeletions", "digest"), "layerLinkDeletions[0].digest", "is missing"),
        ("dot-dot-repository", _set("layerLinkDeletions", "repository", "../x"), "layerLinkDeletions[0].repository", "'../x'"),
        ("query-in-repository", _set("layerLinkDeletions", "repository", "a/b?c"), "layerLinkDeletions[0].repository", "'a/b?c'"),
        ("slash-in-digest", _set("layerLinkDeletions", "digest", "sha256:ab/../../x"), "layerLinkDeletions[0].digest", "digest"),
        ("dot-dot-digest", _set("layerLinkDeletions", "digest", ".."), "layerLinkDeletions[0].digest", "'..'"),
    ],
    "manifestLinkDeletions": [
        ("missing-repository", _drop("manifestLinkDeletions", "repository"), "manifestLinkDeletions[0].repository", "is missing"),
        ("upper-case-repository", _set("manifestLinkDeletions", "repository", "NS/App"), "manifestLinkDeletions[0].repository", "'NS/App'"),
        ("digest-number", _set("manifestLinkDeletions", "digest", 5), "manifestLinkDeletions[0].digest", "must be a string"),
        ("fragment-in-digest", _set("manifestLinkDeletions", "digest", "sha256:a#b"), "manifestLinkDeletions[0].digest", "'sha256:a#b'"),
    ],
    "blobDeletions": [
        ("a-string", _replace("blobDeletions", "sha256:" + "a" * 64), "blobDeletions[0]", "must be an object, not a string"),
        ("missing-kind", _drop("blobDeletions", "kind"), "blobDeletions[0].kind", "is missing"),
        ("bad-kind", _set("blobDeletions", "kind", "index"), "blobDeletions[0].kind", "layer, config, manifest"),
        ("negative-size", _set("blobDeletions", "size", -1), "blobDeletions[0].size", "non-negative"),
        ("size-string", _set("blobDeletions", "size", "big"), "blobDeletions[0].size", "an integer or null"),
        ("percent-digest", _set("blobDeletions", "digest", "sha256%2F..%2Fx"), "blobDeletions[0].digest", "digest"),
        ("not-freed-by-any-image", _extra_blob, "blobDeletions[680].digest", "in no imageDeletions[].blobs"),
        ("image-that-does-not-free-it", _blob_of_another_image, "blobDeletions[", "the image deletion that frees"),
    ],
    "imageDeletions": [
        ("missing-blobs", _drop("imageDeletions", "blobs"), "imageDeletions[0].blobs", "is missing"),
        ("blobs-a-string", _set("imageDeletions", "blobs", "sha256:x"), "imageDeletions[0].blobs", "must be a list"),
        ("hostile-name", _set("imageDeletions", "name", "../../namespaces/x"), "imageDeletions[0].name", "'../../namespaces/x'"),
        ("managed-string", _set("imageDeletions", "managed", "true"), "imageDeletions[0].managed", "must be a boolean"),
        ("bad-reason", _set("imageDeletions", "reason", "old"), "imageDeletions[0].reason", "must be one of unreferenced"),
        ("freed-blob-not-planned", _unplanned_freed_blob, "imageDeletions[0].blobs[", "has no blobDeletions entry"),
        ("planned-blob-dropped", _dropped_blob, "imageDeletions[", "has no blobDeletions entry"),
    ],
    "sections": [
        ("createdAt-not-a-time", lambda p: p["metadata"].update(createdAt="soon"), "metadata.createdAt", "RFC 3339"),
        ("tool-missing", lambda p: p["metadata"].pop("tool"), "metadata.tool", "is missing"),
        ("cluster-id-missing", lambda p: p["source"]["cluster"].pop("clusterID"), "source.cluster.clusterID", "is missing"),
        ("dump-sha-not-hex", lambda p: p["source"].update(dumpSha256="x"), "source.dumpSha256", "sha256"),
        ("count-negative", lambda p: p["source"]["counts"].update(images=-1), "source.counts", "non-negative"),
        ("policy-revisions-bool", lambda p: p["policy"].update(keepTagRevisions=True), "policy.keepTagRevisions", "boolean"),
        ("policy-duration", lambda p: p["policy"].update(keepYoungerThan="an hour"), "policy.keepYoungerThan", "Go duration"),
        ("policy-threshold", lambda p: p["policy"].update(threshold="2000-01-01T00:00:00Z"), "policy.threshold", "now - keepYoungerThan"),
        ("policy-extra", lambda p: p["policy"].update(force=True), "policy.force", "is not a known field"),
        ("errors-of-objects", lambda p: p.update(errors=[{}]), "errors[0]", "must be a string"),
        ("unknown-top-level", lambda p: p.update(deleteEverything=True), "deleteEverything", "is not a known field"),
        ("summary-images", _summary("deletedImages", 1), "summary.deletedImages", "must be 146"),
        ("summary-items", _summary("deletedImageStreamTagItems", -1), "summary.deletedImageStreamTagItems", "not"),
        ("summary-blobs", _summary("deletedBlobs", 1), "summary.deletedBlobs", "must be 680"),
        ("summary-layer-links", _summary("deletedLayerLinks", 1), "summary.deletedLayerLinks", "must be"),
        ("summary-bytes", _summary("reclaimableBytes", 1), "summary.reclaimableBytes", "must be"),
    ],
}
CASES = [(kind, *case) for kind, cases in MALFORMED.items() for case in cases]


@pytest.mark.parametrize("kind, name, mutate, where, words", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_malformed_plan_is_refused_with_exit_13_naming_the_field(
    example_plan: bytes, kind: str, name: str, mutate: Mutation, where: str, words: str
) -> None:
    doc = json.loads(example_plan)
    mutate(doc)

    with pytest.raises(PrunePlanError) as failure:
        Plan.from_bytes(dump_plan(doc), "plan.json")

    message = str(failure.value)
    assert failure.value.exit_code == EXIT_UNKNOWN_PLAN
    assert "\n" not in message
    assert message.startswith(f"plan.json: plan field {where}"), message
    assert words in message, message


def test_from_dict_refuses_what_from_bytes_refuses(example_plan: bytes) -> None:
    doc = json.loads(example_plan)
    doc["blobDeletions"][0] = "sha256:x"
    with pytest.raises(PlanFieldError) as failure:
        Plan.from_dict(copy.deepcopy(doc), path="plan.json")
    assert str(failure.value) == "plan.json: plan field blobDeletions[0] must be an object, not a string"


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"{", "plan.json: not a plan: invalid JSON"),
        (b"[]", "plan.json: not a pruneplan plan (kind is not PrunePlan)"),
        (b'{"kind": "List"}', "plan.json: not a pruneplan plan (kind is not PrunePlan)"),
        (b'{"kind": "PrunePlan", "apiVersion": "pruneplan.io/v9"}', "plan.json: unknown plan version 'pruneplan.io/v9'"),
        (b'{"kind": "PrunePlan", "apiVersion": "pruneplan.io/v1"}', "plan.json: plan is missing metadata, source"),
    ],
)
def test_envelope_messages_are_kept(raw: bytes, message: str) -> None:
    with pytest.raises(PrunePlanError) as failure:
        Plan.from_bytes(raw, "plan.json")
    assert failure.value.exit_code == EXIT_UNKNOWN_PLAN
    assert str(failure.value).startswith(message)


def test_envelope_list_and_object_checks_keep_their_messages(example_plan: bytes) -> None:
    doc = json.loads(example_plan)
    doc["imageDeletions"] = {}
    with pytest.raises(PrunePlanError, match=r"^plan\.json: plan field imageDeletions must be a list$"):
        Plan.from_bytes(dump_plan(doc), "plan.json")
    doc = json.loads(example_plan)
    doc["policy"] = []
    with pytest.raises(PrunePlanError, match=r"^plan\.json: plan field policy must be an object$"):
        Plan.from_bytes(dump_plan(doc), "plan.json")


def test_upstream_test_blob_names_are_accepted(example_plan: bytes) -> None:
    """analyze plans the names upstream's test data uses; execute reports them per blob."""
    doc = json.loads(example_plan)
    for old, new in ((doc["blobDeletions"][0]["digest"], "layer1"), (doc["blobDeletions"][1]["digest"], "tarsum.dev+sha256:" + "a" * 64)):
        doc["blobDeletions"] = [dict(b, digest=new) if b["digest"] == old else b for b in doc["blobDeletions"]]
        for entry in doc["imageDeletions"]:
            entry["blobs"] = [new if d == old else d for d in entry["blobs"]]
    Plan.from_bytes(dump_plan(doc))


# ---------------------------------------------------------------------------------------------
# through the CLI: a malformed plan signed with a real key


def _no_blobs(doc: dict[str, Any]) -> None:
    del entry_with(doc, "imageDeletions")["blobs"]


def _blob_as_string(doc: dict[str, Any]) -> None:
    doc["blobDeletions"][0] = entry_with(doc, "blobDeletions")["digest"]


def _index_as_string(doc: dict[str, Any]) -> None:
    item = entry_with(doc, "imageStreamUpdates")["removedItems"][0]
    item["index"] = str(item["index"])


def _hostile_repository(doc: dict[str, Any]) -> None:
    entry_with(doc, "layerLinkDeletions")["repository"] = "../x"


TAMPERED = [
    (_no_blobs, "imageDeletions[0].blobs is missing"),
    (_blob_as_string, "blobDeletions[0] must be an object, not a string"),
    (_index_as_string, "imageStreamUpdates[0].removedItems[0].index must be an integer, not a string"),
    (_hostile_repository, "layerLinkDeletions[0].repository must be a repository name"),
]
TAMPERED_IDS = [f.__name__.lstrip("_") for f, _ in TAMPERED]


def resign(path: Path, doc: dict[str, Any], key: str) -> None:
    path.write_bytes(dump_plan(doc))
    signing.write_signature(str(path), key)


@pytest.mark.parametrize("tamper, message", TAMPERED, ids=TAMPERED_IDS)
def test_verify_refuses_a_signed_malformed_plan_with_exit_13_and_one_line(
    tmp_path: Path, example_plan: bytes, tamper: Callable[[dict[str, Any]], None], message: str
) -> None:
    key = str(tmp_path / "signer")
    assert run_cli("keygen", key).code == 0
    doc = json.loads(example_plan)
    tamper(doc)
    plan = tmp_path / "plan.json"
    resign(plan, doc, key)

    # expired as well: a malformed plan is reported before expiry
    result = run_cli("verify", str(plan), "--key", key + ".pub", "--now", "2099-01-01T00:00:00Z")

    assert result.code == EXIT_UNKNOWN_PLAN, result.err
    assert result.out == ""
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith(f"error: {plan}: plan field {message}"), result.err
    assert "Traceback" not in result.err



@pytest.mark.parametrize("tamper, message", TAMPERED, ids=TAMPERED_IDS)
def test_execute_refuses_a_signed_malformed_plan_before_any_request(
    env, tamper: Callable[[dict[str, Any]], None], message: str
) -> None:
    plan = env.plan()
    doc = load(plan)
    tamper(doc)
    resign(plan, doc, env.key)
    env.api.requests.clear()

    result = env.execute(plan, "--confirm")

    assert result.code == EXIT_UNKNOWN_PLAN, result.err
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith(f"error: {plan}: plan field {message}"), result.err
    assert "Traceback" not in result.err
    assert env.api.requests == []
    assert not Path(f"{plan}.journal").exists()


def test_execute_still_runs_a_well_formed_signed_plan(env) -> None:
    """The refusals above are the validation's, not the set-up's."""
    plan = env.plan()
    env.api.requests.clear()

    result = env.execute(plan)

    assert result.code == 0, result.err
    assert env.api.requests
