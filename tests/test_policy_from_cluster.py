"""`pruneplan analyze --policy-from-cluster`: the policy of the cluster's automatic pruner (the
CronJob the image registry operator makes of its ImagePruner `cluster`), taken from a dump that
`pruneplan collect` made of the fake API; and the automatic pruner as the plan, `verify` and
`report` show it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clirunner import run_cli
from fakeapi import FakeAPI, sample_cluster
from pruneplan.planformat import dump_plan
from pruneplan.planmodel import Plan
from pruneplan.prunerpolicy import automatic_pruner
from pruneplan.analyze.decisions.inputs import load_inputs
from pruneplan.clustersettings import ClusterSettings

HTTP_DATE = "Sat, 28 Nov 2026 06:00:00 GMT"
HOSTNAME = "image-registry.openshift-image-registry.svc:5000"
EVERY_FIELD = {
    "schedule": "30 2 * * 6",
    "suspend": True,
    "keepTagRevisions": 5,
    "keepYoungerThanDuration": "96h",
    "ignoreInvalidImageReferences": True,
    "logLevel": "Debug",
    "successfulJobsHistoryLimit": 1,
    "failedJobsHistoryLimit": 2,
}


def image_pruner(spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ImagePruner", "apiVersion": "imageregistry.operator.openshift.io/v1",
            "metadata": {"name": "cluster"}, "spec": spec}


def registry_config() -> dict[str, Any]:
    return {"kind": "Config", "apiVersion": "imageregistry.operator.openshift.io/v1",
            "metadata": {"name": "cluster"}, "spec": {"managementState": "Managed"}}


def image_config(hostname: str = HOSTNAME) -> dict[str, Any]:
    return {"kind": "Image", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "cluster"},
            "status": {"internalRegistryHostname": hostname}}


def collected(tmp_path: Path, *objects: dict[str, Any], forbid: str | None = None) -> Path:
    """A dump of the sample cluster plus `objects`, collected from the fake API; `forbid`: a
    path pattern the collector's account may not read."""
    dump = tmp_path / "dump.json.gz"
    with FakeAPI(date=HTTP_DATE) as api:
        api.add_all(sample_cluster())
        for obj in objects:
            api.add(obj)
        if forbid:
            api.fault(forbid, 403, times=None)
        kubeconfig = api.kubeconfig(str(tmp_path / "kubeconfig"))
        result = run_cli("collect", "-o", str(dump), "--kubeconfig", kubeconfig)
    assert result.code == 0, result.err
    return dump


def with_pruner(tmp_path: Path, spec: dict[str, Any], hostname: str = HOSTNAME) -> Path:
    return collected(tmp_path, image_pruner(spec), registry_config(), image_config(hostname))


def analyze(tmp_path: Path, dump: Path, *flags: str, name: str = "plan.json") -> dict[str, Any]:
    plan = tmp_path / name
    result = run_cli("analyze", str(dump), "-o", str(plan), "-q", *flags)
    assert result.code == 0, result.err
    return json.loads(plan.read_text())


def refused(dump: Path, tmp_path: Path, *flags: str) -> str:
    result = run_cli("analyze", str(dump), "-o", str(tmp_path / "plan.json"), "-q", "--policy-from-cluster", *flags)
    assert result.code == 3, result.err
    assert result.out == ""
    assert not (tmp_path / "plan.json").exists()
    lines = result.err_lines
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


def test_every_imagepruner_field_set_gives_every_policy_flag(tmp_path):
    plan = analyze(tmp_path, with_pruner(tmp_path, EVERY_FIELD), "--policy-from-cluster")
    policy = plan["policy"]
    assert (policy["keepTagRevisions"], policy["keepYoungerThan"], policy["ignoreInvalidRefs"], policy["pruneRegistry"]) \
        == (5, "96h0m0s", True, True)
    assert (policy["all"], policy["pruneOverSizeLimit"], policy["namespace"]) == (True, None, None)  # oc's defaults
    assert policy["sources"] == {
        "keep-tag-revisions": "imagePruner", "keep-younger-than": "imagePruner", "ignore-invalid-refs": "imagePruner",
        "prune-registry": "imagePruner", "all": "default", "namespace": "default", "prune-over-size-limit": "default",
    }
    assert plan["source"]["automaticPruner"] == {
        "state": "found", "schedule": "30 2 * * 6", "suspended": True,
        "flags": {"keepTagRevisions": 5, "keepYoungerThan": "96h0m0s", "ignoreInvalidRefs": True, "loglevel": 4,
                  "pruneRegistry": True, "registryUrl": f"https://{HOSTNAME}"},
    }


def test_an_imagepruner_with_no_field_set_gives_the_operators_defaults(tmp_path):
    plan = analyze(tmp_path, with_pruner(tmp_path, {}), "--policy-from-cluster")
    policy = plan["policy"]
    assert (policy["keepTagRevisions"], policy["keepYoungerThan"], policy["ignoreInvalidRefs"], policy["pruneRegistry"]) \
        == (3, "1h0m0s", False, True)
    assert {flag: policy["sources"][flag] for flag in ("keep-tag-revisions", "keep-younger-than", "ignore-invalid-refs")} \
        == dict.fromkeys(("keep-tag-revisions", "keep-younger-than", "ignore-invalid-refs"), "imagePrunerDefault")
    assert policy["sources"]["prune-registry"] == "imagePruner"
    pruner = plan["source"]["automaticPruner"]
    assert (pruner["schedule"], pruner["suspended"], pruner["flags"]["loglevel"]) == ("0 0 * * *", False, 1)


def test_the_deprecated_nanoseconds_keep_younger_than_alone_is_used_as_a_go_duration(tmp_path):
    plan = analyze(tmp_path, with_pruner(tmp_path, {"keepYoungerThan": 5_400_000_000_000}), "--policy-from-cluster")
    assert plan["policy"]["keepYoungerThan"] == "1h30m0s"
    assert plan["policy"]["sources"]["keep-younger-than"] == "imagePruner"
    assert plan["policy"]["threshold"] == "2026-11-28T04:30:00Z"


def test_with_both_spellings_of_keep_younger_than_the_duration_wins(tmp_path):
    dump = with_pruner(tmp_path, {"keepYoungerThanDuration": "2h", "keepYoungerThan": 5_400_000_000_000})
    assert analyze(tmp_path, dump, "--policy-from-cluster")["policy"]["keepYoungerThan"] == "2h0m0s"


def test_an_empty_internal_registry_hostname_means_the_pruner_leaves_the_registry_alone(tmp_path):
    plan = analyze(tmp_path, with_pruner(tmp_path, {}, hostname=""), "--policy-from-cluster")
    assert plan["policy"]["pruneRegistry"] is False
    assert plan["source"]["automaticPruner"]["flags"]["pruneRegistry"] is False
    assert "registryUrl" not in plan["source"]["automaticPruner"]["flags"]
    assert plan["blobDeletions"] == [] and plan["imageDeletions"]  # API objects only, as oc --prune-registry=false


def test_a_flag_on_the_command_line_overrides_the_imagepruner(tmp_path):
    dump = with_pruner(tmp_path, EVERY_FIELD)
    plan = analyze(tmp_path, dump, "--policy-from-cluster", "--keep-tag-revisions=1", "--no-prune-registry")
    policy = plan["policy"]
    assert (policy["keepTagRevisions"], policy["keepYoungerThan"], policy["pruneRegistry"]) == (1, "96h0m0s", False)
    assert policy["sources"]["keep-tag-revisions"] == "flag"
    assert policy["sources"]["prune-registry"] == "flag"
    assert policy["sources"]["keep-younger-than"] == "imagePruner"


def test_prune_over_size_limit_with_the_pruners_keep_flags_is_refused_as_oc_refuses_it(tmp_path):
    dump = with_pruner(tmp_path, {})
    result = run_cli("analyze", str(dump), "-o", str(tmp_path / "plan.json"), "--policy-from-cluster", "--prune-over-size-limit")
    assert result.code == 2
    assert result.err_lines == [
        "error: --prune-over-size-limit cannot be specified with --keep-tag-revisions nor --keep-younger-than "
        "(with --policy-from-cluster, the automatic pruner gives --keep-tag-revisions and --keep-younger-than)"
    ]


def test_a_dump_of_a_cluster_without_an_imagepruner_is_refused(tmp_path):
    dump = collected(tmp_path, registry_config(), image_config())
    line = refused(dump, tmp_path)
    assert line == (f"error: {dump}: the cluster has no ImagePruner `cluster` "
                    "(imagepruners.imageregistry.operator.openshift.io), so no automatic pruner: "
                    "--policy-from-cluster has no policy to take")


def test_a_dump_whose_imagepruner_was_forbidden_is_refused_in_its_own_words(tmp_path):
    dump = collected(tmp_path, image_pruner(EVERY_FIELD), registry_config(), image_config(), forbid="imagepruners")
    line = refused(dump, tmp_path)
    assert line.startswith(f"error: {dump}: the collector was forbidden to read the ImagePruner `cluster`")
    assert "may get it" in line


def test_a_list_without_cluster_settings_is_refused(tmp_path):
    listed = tmp_path / "cluster.json"
    listed.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": sample_cluster()}))
    line = refused(listed, tmp_path, "--now", "2026-11-28T06:00:00Z")
    assert line.startswith(f"error: {listed}: no cluster settings recorded")


def test_an_unreadable_image_config_needs_prune_registry_on_the_command_line(tmp_path):
    dump = collected(tmp_path, image_pruner({}), registry_config(), image_config(), forbid="/apis/config.openshift.io/v1/images")
    assert "--prune-registry is unknown: give --prune-registry or --no-prune-registry" in refused(dump, tmp_path)
    plan = analyze(tmp_path, dump, "--policy-from-cluster", "--prune-registry")
    assert plan["policy"]["sources"]["prune-registry"] == "flag"
    assert plan["source"]["automaticPruner"]["flags"]["pruneRegistry"] is None


def test_without_the_flag_the_plan_records_the_automatic_pruner_and_the_flags_given(tmp_path):
    dump = with_pruner(tmp_path, EVERY_FIELD)
    plan = analyze(tmp_path, dump, "--keep-younger-than=2h")
    assert plan["policy"]["keepTagRevisions"] == 3  # oc's default, not the pruner's 5
    assert set(plan["policy"]["sources"].values()) == {"flag", "default"}
    assert plan["policy"]["sources"]["keep-younger-than"] == "flag"
    assert plan["source"]["automaticPruner"]["flags"]["keepTagRevisions"] == 5


def test_a_plan_without_an_imagepruner_records_its_absence(tmp_path):
    plan = analyze(tmp_path, collected(tmp_path))
    assert plan["source"]["automaticPruner"] == {"state": "absent"}


def test_the_cronjob_arguments_derived_from_the_dump_match_the_plans_policy(tmp_path):
    dump = with_pruner(tmp_path, {**EVERY_FIELD, "logLevel": "Normal"})
    plan = analyze(tmp_path, dump, "--policy-from-cluster")
    policy = plan["policy"]
    args = automatic_pruner(_settings_of(dump)).cronjob_args()
    assert args == [
        "adm", "prune", "images", "--confirm=true",
        f"--keep-tag-revisions={policy['keepTagRevisions']}",
        f"--keep-younger-than={policy['keepYoungerThan']}",
        f"--ignore-invalid-refs={str(policy['ignoreInvalidRefs']).lower()}",
        "--loglevel=1",  # Normal: 1, not 2
        f"--prune-registry={str(policy['pruneRegistry']).lower()}",
        f"--registry-url=https://{HOSTNAME}",
    ]


def _settings_of(dump: Path) -> ClusterSettings:
    """The cluster settings the dump's header records, as a reader of the dump sees them."""
    settings = load_inputs([str(dump)]).cluster_settings
    assert settings is not None
    return settings


def test_a_plan_naming_the_pruner_as_a_source_must_hold_the_pruners_value(tmp_path):
    plan = analyze(tmp_path, with_pruner(tmp_path, EVERY_FIELD), "--policy-from-cluster")
    plan["policy"]["keepTagRevisions"] = 4
    with pytest.raises(Exception, match=r"plan field policy\.sources\.keep-tag-revisions is imagePruner, but"):
        Plan.from_dict(plan)
    plan["policy"]["keepTagRevisions"] = 5
    plan["source"]["automaticPruner"]["flags"]["loglevel"] = 2
    with pytest.raises(Exception, match=r"plan field source\.automaticPruner\.flags\.loglevel must be one of 1, 4, 6, 8"):
        Plan.from_dict(plan)


def test_plans_from_before_the_automatic_pruner_still_load_and_keep_their_bytes(tmp_path):
    doc = analyze(tmp_path, with_pruner(tmp_path, EVERY_FIELD), "--policy-from-cluster")
    fresh = (tmp_path / "plan.json").read_bytes()
    assert Plan.from_bytes(fresh).to_bytes() == fresh
    assert analyze(tmp_path, tmp_path / "dump.json.gz", "--policy-from-cluster", name="again.json") == doc
    del doc["policy"]["sources"], doc["source"]["automaticPruner"]  # as a plan made before them
    older = dump_plan(doc)
    assert b"sources" not in older and b"automaticPruner" not in older
    assert Plan.from_bytes(older).to_bytes() == older


def test_verify_shows_the_automatic_pruner_and_where_the_plan_differs(tmp_path):
    dump = with_pruner(tmp_path, EVERY_FIELD)
    assert run_cli("keygen", str(tmp_path / "key")).code == 0
    plan = tmp_path / "plan.json"
    result = run_cli("analyze", str(dump), "-o", str(plan), "-q", "--policy-from-cluster", "--keep-tag-revisions=7",
                     "--sign-key", str(tmp_path / "key"))
    assert result.code == 0, result.err
    result = run_cli("verify", str(plan), "--key", str(tmp_path / "key.pub"), "--now", "2026-11-28T07:00:00Z")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "automatic:    ImagePruner cluster found: schedule 30 2 * * 6, suspended" in lines
    assert "  differs:    keep-tag-revisions: plan 7 (flag), automatic pruner 5" in lines
    assert not [line for line in lines if line.startswith("  differs:") and "keep-younger-than" in line]


def test_verify_says_when_the_plan_has_the_automatic_pruners_policy(tmp_path):
    dump = with_pruner(tmp_path, {})
    assert run_cli("keygen", str(tmp_path / "key")).code == 0
    plan = tmp_path / "plan.json"
    assert run_cli("analyze", str(dump), "-o", str(plan), "-q", "--policy-from-cluster", "--sign-key", str(tmp_path / "key")).code == 0
    out = run_cli("verify", str(plan), "--key", str(tmp_path / "key.pub"), "--now", "2026-11-28T07:00:00Z").out
    assert "automatic:    ImagePruner cluster found: schedule 0 0 * * *, not suspended" in out.splitlines()
    assert "  same policy as the plan" in out.splitlines()


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_shows_the_automatic_pruner_beside_the_plans_policy(tmp_path, fmt):
    dump = with_pruner(tmp_path, EVERY_FIELD)
    plan = tmp_path / "plan.json"
    assert run_cli("analyze", str(dump), "-o", str(plan), "-q", "--policy-from-cluster", "--keep-tag-revisions=7").code == 0
    out = tmp_path / f"review.{fmt}"
    result = run_cli("report", str(plan), "-o", str(out), "--now", "2026-11-28T07:00:00Z")
    assert result.code == 0, result.err
    text = out.read_text()
    assert "Automatic pruner" in text
    assert "30 2 * * 6" in text
    assert "keep-tag-revisions: plan 7, automatic pruner 5" in text
    assert "imagePrunerDefault" not in text and "imagePruner" in text


def test_verify_and_report_say_when_the_cluster_has_no_automatic_pruner(tmp_path):
    dump = collected(tmp_path)
    assert run_cli("keygen", str(tmp_path / "key")).code == 0
    plan = tmp_path / "plan.json"
    assert run_cli("analyze", str(dump), "-o", str(plan), "-q", "--sign-key", str(tmp_path / "key")).code == 0
    out = run_cli("verify", str(plan), "--key", str(tmp_path / "key.pub"), "--now", "2026-11-28T07:00:00Z").out
    assert "automatic:    no ImagePruner cluster (no automatic pruner)" in out.splitlines()
    report = tmp_path / "review.md"
    assert run_cli("report", str(plan), "-o", str(report), "--now", "2026-11-28T07:00:00Z").code == 0
    assert "The cluster has no ImagePruner `cluster`: no automatic pruner runs." in report.read_text()
    assert "Differences" not in report.read_text()


def test_verify_of_a_plan_without_cluster_settings_has_no_automatic_pruner_line(tmp_path):
    listed = tmp_path / "cluster.json"
    listed.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": sample_cluster()}))
    assert run_cli("keygen", str(tmp_path / "key")).code == 0
    plan = tmp_path / "plan.json"
    assert run_cli("analyze", str(listed), "--now", "2026-11-28T06:00:00Z", "-o", str(plan), "-q",
                   "--sign-key", str(tmp_path / "key")).code == 0
    assert "automaticPruner" not in json.loads(plan.read_text())["source"]
    out = run_cli("verify", str(plan), "--key", str(tmp_path / "key.pub"), "--now", "2026-11-28T07:00:00Z").out
    assert not [line for line in out.splitlines() if line.startswith("automatic:")]
