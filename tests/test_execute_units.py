"""execute's pieces on their own: how planned history items are matched, the re-check of a plan
against a live state (stage_one, stage_two) and the Executor against in-memory ports
(tests/fakeports.py). The journal's own tests are in test_journal.py."""

from __future__ import annotations

from collections import Counter

import pytest

from pruneplan.errors import PrunePlanError
from pruneplan.execute.recheck import match_items
from pruneplan.execute.runner import remove_items


def test_a_digest_listed_twice_loses_its_older_occurrence():
    tags = [("latest", [("d1", None), ("d2", None), ("d1", None), ("d2", None)])]
    assert match_items(tags, Counter({("latest", "d2", None): 1})) == {(0, 3)}


def test_matching_survives_new_items_pushed_at_the_front():
    planned = Counter({("latest", "old", "2025-01-01T00:00:00Z"): 1})
    tags = [("latest", [("new", "2026-11-28T00:00:00Z"), ("cur", "2026-01-01T00:00:00Z"), ("old", "2025-01-01T00:00:00Z")])]
    assert match_items(tags, planned) == {(0, 2)}


def test_an_item_with_another_created_time_is_not_the_planned_one():
    tags = [("latest", [("d1", "2026-02-02T00:00:00Z")])]
    assert match_items(tags, Counter({("latest", "d1", "2025-01-01T00:00:00Z"): 1})) == set()


def test_removing_items_drops_tags_left_empty_and_keeps_the_rest():
    stream = {"status": {"tags": [
        {"tag": "a", "items": [{"image": "d1"}, {"image": "d2"}]},
        {"tag": "b", "items": [{"image": "d3"}]},
    ]}}
    assert remove_items(stream, [("a", "d2", None), ("b", "d3", None)], {"b"}) == 2
    assert stream["status"]["tags"] == [{"tag": "a", "items": [{"image": "d1"}]}]


def test_removing_items_drops_only_the_empty_tags_the_plan_names():
    """Upstream drops every empty tag in the update; execute drops only those the signed plan
    lists in removedTags (analyze lists the already-empty ones too), and keeps any other."""
    stream = {"status": {"tags": [
        {"tag": "planned-empty", "items": []},
        {"tag": "emptied-since", "items": None},  # empty live, not in the plan
        {"tag": "emptied-now", "items": [{"image": "d1"}]},  # emptied by a removal, not in the plan
        {"tag": "dropped", "items": [{"image": "d2"}]},
    ]}}
    assert remove_items(stream, [("emptied-now", "d1", None), ("dropped", "d2", None)], {"planned-empty", "dropped"}) == 2
    assert stream["status"]["tags"] == [
        {"tag": "emptied-since", "items": None},
        {"tag": "emptied-now", "items": []},
    ]


def test_analyze_lists_a_tag_whose_history_is_already_empty_among_an_updated_streams_removed_tags(tmp_path):
    import json

    from builders import as_list, digest, image, stream, write_json
    from clirunner import run_cli

    objects = [image(digest(1)), image(digest(2)), stream("ns", "app", {"latest": [digest(1), digest(2)], "old": []}),
               image(digest(3)), stream("ns", "quiet", {"latest": [digest(3)], "empty": []})]
    source = write_json(tmp_path / "list.json", as_list(objects))
    plan = tmp_path / "plan.json"
    assert run_cli("analyze", str(source), "-o", str(plan), "--now", NOW, "--keep-tag-revisions=1").code == 0
    updates = {(u["namespace"], u["name"]): u for u in json.loads(plan.read_text())["imageStreamUpdates"]}
    assert updates[("ns", "app")]["removedTags"] == ["old"]
    assert ("ns", "quiet") not in updates, "a stream with nothing to remove is not updated for its empty tag"


def test_execute_deletes_a_streams_links_in_analyzes_order_not_the_plans(tmp_path, capsys):
    """The plan lists a repository's links sorted by digest; analyze (and oc) print them in the
    order their counts reach zero. execute, dry run and confirmed, follows analyze's order."""
    import io
    import json

    from pruneplan.analyze.decisions.engine import analyze
    from builders import as_list, digest, image, stream, write_json
    from pruneplan.execute.runner import Executor
    from pruneplan.cli import main
    from pruneplan.analyze.decisions.inputs import load_inputs
    from pruneplan.planmodel import Plan
    from pruneplan.policy import Policy
    from pruneplan.timefmt import parse_time
    from fakeports import Calls, FakeApi, FakeRegistry

    a, b, c, d = (digest(x) for x in "abcd")
    objects = [
        image(digest(1), layers=[digest("e")]),
        image(digest(9), layers=[c, a]),  # c reaches 0 here; a is still used by 7
        image(digest(5), layers=[b]),
        image(digest(7), layers=[a, d]),
        stream("ns", "app", {"latest": [digest(1), digest(9), digest(5), digest(7)]}),
    ]
    source = write_json(tmp_path / "list.json", as_list(objects))
    now = "2026-06-01T00:00:00Z"
    capsys.readouterr()
    assert main(["analyze", str(source), "-o", str(tmp_path / "plan.json"), "--now", now, "--keep-tag-revisions=1"]) == 0
    ours = ("in repository ns/app", "from image stream ns/app")
    analyzed = [line for line in capsys.readouterr().out.splitlines() if line.endswith(ours)]
    links = [line.split()[3] for line in analyzed if line.startswith("Deleting layer link")]
    manifests = [line.split()[3] for line in analyzed if line.startswith("Deleting manifest link")]
    assert links == [c, b, a, d] and manifests == [digest(9), digest(5), digest(7)]
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [x["digest"] for x in plan["layerLinkDeletions"]] == [a, b, c, d], "the plan keeps them sorted"

    def fresh():
        return analyze(load_inputs([str(source)]), Policy.from_json(plan["policy"]).with_now(parse_time(now)))

    out = io.StringIO()
    Executor(None, None, None, out, confirm=False, prune_registry=True).run(Plan.from_dict(plan), fresh())
    assert [line for line in out.getvalue().splitlines() if line.endswith(ours)] == analyzed

    calls = Calls()
    out = io.StringIO()
    Executor(FakeApi(objects, {}, calls), FakeRegistry({}, calls), None, out, confirm=True, prune_registry=True).run(Plan.from_dict(plan), fresh())
    assert [line for line in out.getvalue().splitlines() if line.endswith(ours)] == analyzed
    assert [s.split("|")[1] for k, s in calls.sequence if k == "layerLinkDeletions"] == links
    assert [s.split("|")[1] for k, s in calls.sequence if k == "manifestLinkDeletions"] == manifests


# -- the re-check and the Executor, against a live state that differs from the dump -----------
# At dump time ns/app's `latest` lists d3, d2, d1 (newest first); with --keep-tag-revisions=1 the
# plan removes d2 and d1, deletes both images, and frees their layers (shared between them) and
# manifests. Each test then changes the live cluster in one way.

NOW = "2026-06-01T00:00:00Z"


def _cluster():
    from builders import digest, image, stream

    d1, d2, d3 = digest(1), digest(2), digest(3)
    la, lb, lc, shared = digest("a"), digest("b"), digest("c"), digest("s")
    objects = [
        image(d1, layers=[la, shared]),
        image(d2, layers=[lb, shared]),
        image(d3, layers=[lc]),
        stream("ns", "app", {"latest": [d3, d2, d1]}),
    ]
    return objects, (d1, d2, d3), (la, lb, lc, shared)


def _plan(tmp_path, objects):
    from builders import as_list, write_json
    from clirunner import run_cli
    from pruneplan.planmodel import Plan

    source = write_json(tmp_path / "dump.json", as_list(objects))
    out = tmp_path / "plan.json"
    assert run_cli("analyze", str(source), "-o", str(out), "--now", NOW, "--keep-tag-revisions=1").code == 0
    return Plan.from_bytes(out.read_bytes())


def _fresh(tmp_path, plan, live_objects):
    """execute's re-check input: the live state analyzed with the plan's policy."""
    from builders import as_list, write_json
    from pruneplan.analyze.decisions.engine import analyze
    from pruneplan.analyze.decisions.inputs import load_inputs
    from pruneplan.timefmt import parse_time

    source = write_json(tmp_path / "live.json", as_list(live_objects))
    return analyze(load_inputs([str(source)]), plan.policy.to_policy().with_now(parse_time(NOW)))


def _reasons(skipped):
    return {(s.key, s.reason) for s in skipped}


def test_the_unchanged_cluster_approves_the_whole_plan(tmp_path):
    from pruneplan.execute.recheck import stage_one, stage_two

    objects, (d1, d2, _), (la, lb, _, shared) = _cluster()
    plan = _plan(tmp_path, objects)
    fresh = _fresh(tmp_path, plan, objects)
    first = stage_one(plan, fresh)
    assert first.skipped == []
    [work] = first.streams
    assert [image for _, image, _ in work.removals] == [d2, d1]
    assert sorted(work.layer_links) == sorted([la, lb, shared]) and sorted(work.manifest_links) == sorted([d1, d2])
    images, skipped = stage_two(plan, fresh, first.streams, set())
    assert skipped == []
    assert {w.name: list(w.blobs) for w in images} == {e.name: list(e.blobs) for e in plan.image_deletions}


def test_an_item_the_live_state_now_keeps_is_skipped_with_its_reason_and_so_is_what_it_holds(tmp_path):
    """A pod started after the dump pulls d2 by digest: the live analysis keeps d2's history item
    (image-in-use), so its removal, the links it still holds and the image d2 are skipped, each
    with why; d1's removal, its own layer and manifest still go."""
    from builders import pod
    from pruneplan.execute.recheck import stage_one, stage_two, key_blob, key_image, key_layer_link, key_manifest_link

    objects, (d1, d2, _), (la, lb, _, shared) = _cluster()
    plan = _plan(tmp_path, objects)
    fresh = _fresh(tmp_path, plan, objects + [pod("ns", "late", [f"image-registry.example:5000/ns/app@{d2}"])])
    first = stage_one(plan, fresh)
    [work] = first.streams
    assert [image for _, image, _ in work.removals] == [d1]
    assert work.layer_links == [la] and work.manifest_links == [d1]
    [item] = [s for s in first.skipped if s.key == "stream ns/app"]
    assert item.action == f"Remove ns/app:latest history item {d2}"
    assert "is now kept (image-in-use" in item.reason and "pod/late namespace=ns" in item.reason
    assert _reasons(first.skipped) - {(item.key, item.reason)} == {
        (key_layer_link("ns/app", lb), f"still used in ns/app by image {d2}"),
        (key_layer_link("ns/app", shared), f"still used in ns/app by image {d2}"),
        (key_manifest_link("ns/app", d2), f"a surviving history item of ns/app still names {d2}"),
    }

    images, skipped = stage_two(plan, fresh, first.streams, set())
    [deletion] = [e for e in plan.image_deletions if e.name == d1]
    assert [(w.name, list(w.blobs)) for w in images] == [(d1, list(deletion.blobs))]
    [kept] = [e for e in plan.image_deletions if e.name == d2]
    assert _reasons(skipped) == {(key_image(d2), "still named by a surviving history item (image stream ns/app)")} | {
        (key_blob(blob), f"image {d2} is kept") for blob in kept.blobs
    }


def test_a_stream_whose_update_failed_keeps_its_images_and_their_blobs(tmp_path):
    from pruneplan.execute.recheck import stage_one, stage_two, key_blob, key_image

    objects, (d1, d2, _), _ = _cluster()
    plan = _plan(tmp_path, objects)
    fresh = _fresh(tmp_path, plan, objects)
    first = stage_one(plan, fresh)
    images, skipped = stage_two(plan, fresh, first.streams, {"ns/app"})
    assert images == []
    named = "still named by a surviving history item (image stream ns/app)"
    assert _reasons(skipped) == {(key_image(d1), named), (key_image(d2), named)} | {
        (key_blob(blob), f"image {entry.name} is kept") for entry in plan.image_deletions for blob in entry.blobs
    }


def test_a_blob_an_image_pushed_after_the_dump_uses_is_not_deleted(tmp_path):
    """A young image pushed after the dump, in no stream, shares d1's layer and the common layer:
    both images still go, those two blobs stay."""
    from builders import digest, image
    from pruneplan.execute.recheck import stage_one, stage_two, key_blob

    objects, (d1, d2, _), (la, lb, _, shared) = _cluster()
    plan = _plan(tmp_path, objects)
    fresh = _fresh(tmp_path, plan, objects + [image(digest(9), layers=[shared, la], created="2026-05-31T23:59:00Z")])
    first = stage_one(plan, fresh)
    assert first.skipped == []
    images, skipped = stage_two(plan, fresh, first.streams, set())
    planned = {e.name: list(e.blobs) for e in plan.image_deletions}
    assert {la, shared} <= {blob for blobs in planned.values() for blob in blobs}
    assert {w.name: list(w.blobs) for w in images} == {
        name: [blob for blob in blobs if blob not in (la, shared)] for name, blobs in planned.items()
    }
    assert _reasons(skipped) == {(key_blob(blob), "still used by an image that stays") for blob in (la, shared)}


def test_a_stream_gone_from_the_live_cluster_is_left_alone_with_its_links(tmp_path):
    from pruneplan.execute.recheck import stage_one

    objects, _, _ = _cluster()
    plan = _plan(tmp_path, objects)
    fresh = _fresh(tmp_path, plan, [o for o in objects if o["kind"] != "ImageStream"])
    first = stage_one(plan, fresh)
    assert first.streams == []
    planned = len(plan.image_stream_updates) + len(plan.layer_link_deletions) + len(plan.manifest_link_deletions)
    assert len(first.skipped) == planned
    assert {s.reason for s in first.skipped} == {"image stream ns/app no longer exists"}


def _execute(plan, fresh, *, confirm, faults=None):
    import io

    from fakeports import Calls, FakeApi, FakeRegistry
    from pruneplan.execute.runner import Executor

    objects, _, _ = _cluster()
    calls = Calls()
    out = io.StringIO()
    executor = Executor(FakeApi(objects, faults or {}, calls), FakeRegistry(faults or {}, calls), None, out,
                        confirm=confirm, prune_registry=True)
    return executor.run(plan, fresh), calls, out.getvalue().splitlines()


def test_a_dry_run_takes_the_confirmed_path_and_sends_nothing(tmp_path):
    """Dry run and --confirm print the same lines and skip the same actions; the dry run makes no
    call at all (not even a GET, as upstream's dry run), the confirmed run one call per line."""
    from builders import pod

    objects, (_, d2, _), _ = _cluster()
    plan = _plan(tmp_path, objects)
    live = objects + [pod("ns", "late", [f"image-registry.example:5000/ns/app@{d2}"])]
    dry, dry_calls, dry_lines = _execute(plan, _fresh(tmp_path, plan, live), confirm=False)
    real, real_calls, real_lines = _execute(plan, _fresh(tmp_path, plan, live), confirm=True)
    assert dry_calls.sequence == []
    assert dry_lines == real_lines and dry_lines
    assert _reasons(dry.skipped) == _reasons(real.skipped) and dry.skipped
    assert dry.dry_run and not real.dry_run
    assert len(real_calls.writes()) == len(real_lines)
    assert vars(dry.counts) == vars(real.counts)


def test_the_executor_sends_no_skipped_action(tmp_path):
    from builders import pod
    from pruneplan.execute.recheck import key_blob, key_image, key_layer_link, key_manifest_link

    objects, (_, d2, _), _ = _cluster()
    plan = _plan(tmp_path, objects)
    live = objects + [pod("ns", "late", [f"image-registry.example:5000/ns/app@{d2}"])]
    report, calls, _ = _execute(plan, _fresh(tmp_path, plan, live), confirm=True)
    sent = (
        {key_layer_link(*i.split("|")) for i in calls.by_kind["layerLinkDeletions"]}
        | {key_manifest_link(*i.split("|")) for i in calls.by_kind["manifestLinkDeletions"]}
        | {key_blob(d) for d in calls.by_kind["blobDeletions"]}
        | {key_image(n) for n in calls.by_kind["imageDeletions"]}
    )
    skipped = {s.key for s in report.skipped} - {"stream ns/app"}
    assert skipped and sent and sent.isdisjoint(skipped)
    assert calls.by_kind["streamUpdates"] == [f"ns/app|latest|2|{plan.image_deletions[0].name}"]
    assert report.errors == []


def test_the_executor_keeps_the_images_of_a_stream_whose_update_fails(tmp_path):
    """The PUT fails: layer links were deleted before it (upstream's order), no manifest link,
    no blob and no image after it."""
    objects, _, _ = _cluster()
    plan = _plan(tmp_path, objects)
    report, calls, _ = _execute(plan, _fresh(tmp_path, plan, objects), confirm=True,
                                faults={"imageStreamUpdateErrors": ["ns/app"]})
    assert calls.of_stream("ns/app") == ["get", *["layerLinkDeletions"] * len(plan.layer_link_deletions), "put"]
    assert calls.by_kind["manifestLinkDeletions"] == []
    assert calls.by_kind["blobDeletions"] == [] and calls.by_kind["imageDeletions"] == []
    assert report.errors == ["imagestream ns/app: err"]


def test_the_fakes_answer_every_call_of_the_ports():
    from fakeports import FakeApi, FakeRegistry
    from pruneplan.execute.ports import ApiPort, RegistryPort

    for port, fake in ((ApiPort, FakeApi), (RegistryPort, FakeRegistry)):
        calls = {name for name in vars(port) if not name.startswith("_")}
        assert calls and calls <= {name for name in vars(fake) if not name.startswith("_")}, port.__name__


def test_credentials_in_a_plans_or_the_live_url_neither_tell_clusters_apart_nor_are_shown():
    """An older plan may record the kubeconfig's URL with its credentials: without a cluster ID the
    URLs compare without them (and without a trailing slash), and a refusal shows neither."""
    from pruneplan.execute.identity import check_cluster
    from pruneplan.planmodel import Cluster

    old = Cluster("https://admin:s3cret@api.example:6443", None)
    check_cluster(old, "https://api.example:6443/", None, [])
    check_cluster(old, "https://other:pw@api.example:6443", "some-id", [])
    with pytest.raises(PrunePlanError) as refused:
        check_cluster(old, "https://root:pw2@api.elsewhere:6443", None, [])
    assert "s3cret" not in str(refused.value) and "pw2" not in str(refused.value)
    assert str(refused.value).startswith(
        "the plan was made for the API server at https://api.example:6443 and its dump has no cluster ID, "
        "but this is https://api.elsewhere:6443")


def test_a_cluster_id_identifies_the_cluster_whatever_url_reaches_it():
    from pruneplan.execute.identity import check_cluster
    from pruneplan.planmodel import Cluster

    bound = Cluster("https://api.example:6443", "id-1")
    assert check_cluster(bound, "https://172.30.0.1:443", "id-1", []) == "cluster ID id-1 (as in the plan)"
    with pytest.raises(PrunePlanError) as refused:
        check_cluster(bound, "https://api.example:6443", "id-2", [])
    assert refused.value.exit_code == 15


def test_urls_of_one_api_server_compare_with_the_default_port_and_case_ignored():
    from pruneplan.execute.identity import same_server_key

    assert same_server_key("https://172.30.0.1") == same_server_key("HTTPS://172.30.0.1:443/")
    assert same_server_key("https://Api.Example:6443") == same_server_key("https://api.example:6443")
    assert same_server_key("https://api.example:6443") != same_server_key("https://api.example:443")
