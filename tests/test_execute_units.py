"""execute's pure pieces: the journal's resume rules and how planned history items are matched."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from pruneplan.execute.journal import Journal
from pruneplan.execute.recheck import match_items
from pruneplan.execute.runner import remove_items
from pruneplan.errors import PrunePlanError

PLAN = "a" * 64


def test_journal_remembers_done_actions_across_runs(tmp_path):
    path = str(tmp_path / "j")
    first = Journal(path, PLAN)
    first.record("image sha256:1", "ok")
    first.record("blob sha256:2", "notfound")
    first.record("blob sha256:3", "error", "503 Service Unavailable")
    first.close()
    again = Journal(path, PLAN)
    assert again.is_done("image sha256:1") and again.is_done("blob sha256:2")
    assert not again.is_done("blob sha256:3"), "a failed action is retried by the next run"


def test_journal_ignores_a_last_line_cut_short_by_a_crash(tmp_path):
    path = tmp_path / "j"
    journal = Journal(str(path), PLAN)
    journal.record("image sha256:1", "ok")
    journal.close()
    with open(path, "ab") as handle:
        handle.write(b'{"key": "image sha256:2", "sta')
    resumed = Journal(str(path), PLAN)
    assert resumed.is_done("image sha256:1") and not resumed.is_done("image sha256:2")


def test_journal_with_a_corrupt_line_in_the_middle_is_refused(tmp_path):
    path = tmp_path / "j"
    path.write_bytes(orjson.dumps({"journal": "pruneplan", "planSha256": PLAN}) + b"\nnot json\n" +
                     orjson.dumps({"key": "x", "status": "ok"}) + b"\n")
    with pytest.raises(PrunePlanError, match="corrupt at line 2"):
        Journal(str(path), PLAN)


def test_journal_of_another_plan_is_refused(tmp_path):
    path = str(tmp_path / "j")
    Journal(path, "b" * 64).record("x", "ok")
    with pytest.raises(PrunePlanError, match="belongs to plan"):
        Journal(path, PLAN)


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
    assert remove_items(stream, [("a", "d2", None), ("b", "d3", None)]) == 2
    assert stream["status"]["tags"] == [{"tag": "a", "items": [{"image": "d1"}]}]


def test_execute_deletes_a_streams_links_in_analyzes_order_not_the_plans(tmp_path, capsys):
    """The plan lists a repository's links sorted by digest; analyze (and oc) print them in the
    order their counts reach zero. execute, dry run and confirmed, follows analyze's order."""
    import io
    import json

    from pruneplan.analyze.decisions.engine import analyze
    from builders import as_list, digest, image, stream, write_json
    from pruneplan.execute.runner import Executor
    from pruneplan.cli import main
    from pruneplan.dumpformat import load_inputs
    from pruneplan.planmodel import Plan
    from pruneplan.policy import Policy
    from pruneplan.timefmt import parse_time
    from test_conformance_faults import Calls, FakeApi, FakeRegistry

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
