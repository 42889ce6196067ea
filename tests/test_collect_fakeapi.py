"""The fake API's own contract, checked through the real kubernetes client (collect's tests and
execute's rely on it behaving like the real server)."""

from __future__ import annotations

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from fakeapi import FakeAPI, sha

IMAGE = sha("image-1")


@pytest.fixture
def api():
    with FakeAPI() as server:
        server.add({"kind": "Image", "apiVersion": "image.openshift.io/v1", "metadata": {"name": IMAGE}})
        server.add({"kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
                    "metadata": {"namespace": "ns", "name": "app"},
                    "spec": {"tags": [{"name": "latest"}]},
                    "status": {"tags": [{"tag": "latest", "items": [{"image": IMAGE}]}]}})
        for n in range(5):
            server.add({"kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": f"ns{n % 2}", "name": f"p{n}"}})
        yield server


@pytest.fixture
def k8s(api, tmp_path):
    kubeconfig = api.kubeconfig(str(tmp_path / "kc"))
    return config.new_client_from_config(config_file=kubeconfig, persist_config=False)


def custom(k8s) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(k8s)


def test_paged_list_with_continue_tokens_and_list_resource_version(k8s, api):
    core = client.CoreV1Api(k8s)
    first = core.list_pod_for_all_namespaces(limit=2)
    assert [p.metadata.name for p in first.items] == ["p0", "p2"]
    assert first.metadata.resource_version == api.resource_version
    assert first.metadata.remaining_item_count == 3
    second = core.list_pod_for_all_namespaces(limit=2, _continue=first.metadata._continue)
    assert [p.metadata.name for p in second.items] == ["p4", "p1"]
    only_ns1 = core.list_namespaced_pod("ns1")
    assert [p.metadata.name for p in only_ns1.items] == ["p1", "p3"]


def test_compaction_expires_continue_tokens_with_410(k8s, api):
    core = client.CoreV1Api(k8s)
    first = core.list_pod_for_all_namespaces(limit=2)
    api.compact()
    with pytest.raises(ApiException) as caught:
        core.list_pod_for_all_namespaces(limit=2, _continue=first.metadata._continue)
    assert caught.value.status == 410
    assert '"reason": "Expired"' in caught.value.body


def test_percent_encoded_image_names_get_and_delete(k8s, api):
    images = custom(k8s)
    got = images.get_cluster_custom_object("image.openshift.io", "v1", "images", IMAGE)
    assert got["metadata"]["name"] == IMAGE
    assert any("sha256%3A" in r.path for r in api.requests)
    images.delete_cluster_custom_object("image.openshift.io", "v1", "images", IMAGE,
                                        body=client.V1DeleteOptions(grace_period_seconds=0))
    assert api.get("images", IMAGE) is None
    delete = api.requests[-1]
    assert delete.method == "DELETE" and b'"gracePeriodSeconds": 0' in delete.body.replace(b" ", b"").replace(b":", b": ")
    with pytest.raises(ApiException) as caught:
        images.delete_cluster_custom_object("image.openshift.io", "v1", "images", IMAGE)
    assert caught.value.status == 404
    assert '"reason": "NotFound"' in caught.value.body


def test_stale_resource_version_is_a_409_conflict_status(k8s, api):
    streams = custom(k8s)
    stream = streams.get_namespaced_custom_object("image.openshift.io", "v1", "ns", "imagestreams", "app")
    api.add(api.get("imagestreams", "app", "ns"))  # someone else writes: resourceVersion moves on
    with pytest.raises(ApiException) as caught:
        streams.replace_namespaced_custom_object_status("image.openshift.io", "v1", "ns", "imagestreams", "app", stream)
    assert caught.value.status == 409
    assert '"reason": "Conflict"' in caught.value.body


def test_status_subresource_changes_only_status_and_bumps_resource_version(k8s, api):
    streams = custom(k8s)
    stream = streams.get_namespaced_custom_object("image.openshift.io", "v1", "ns", "imagestreams", "app")
    before = stream["metadata"]["resourceVersion"]
    stream["status"]["tags"] = []
    stream["spec"]["tags"] = []  # ignored by the status subresource
    updated = streams.replace_namespaced_custom_object_status("image.openshift.io", "v1", "ns", "imagestreams", "app", stream)
    assert updated["status"]["tags"] == []
    assert updated["spec"]["tags"] == [{"name": "latest"}]
    assert int(updated["metadata"]["resourceVersion"]) > int(before)
    # and the main resource never changes status
    updated["status"]["tags"] = [{"tag": "x", "items": []}]
    updated["spec"]["tags"] = []
    again = streams.replace_namespaced_custom_object("image.openshift.io", "v1", "ns", "imagestreams", "app", updated)
    assert again["status"]["tags"] == [] and again["spec"]["tags"] == []


def test_dynamic_client_discovers_openshift_resources(k8s):
    from kubernetes.dynamic import DynamicClient

    dynamic = DynamicClient(k8s)
    streams = dynamic.resources.get(api_version="image.openshift.io/v1", kind="ImageStream")
    assert [s.metadata.name for s in streams.get(namespace="ns").items] == ["app"]


def test_injected_faults_fire_the_given_number_of_times(k8s, api):
    core = client.CoreV1Api(k8s)
    api.fault("/api/v1/pods", 500, times=1)
    with pytest.raises(ApiException) as caught:
        core.list_pod_for_all_namespaces()
    assert caught.value.status == 500
    assert len(core.list_pod_for_all_namespaces().items) == 5


def test_missing_token_is_401_and_unknown_api_is_404(api, tmp_path):
    bad = config.new_client_from_config(config_file=api.kubeconfig(str(tmp_path / "kc"), token="wrong"), persist_config=False)
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(bad).list_pod_for_all_namespaces()
    assert caught.value.status == 401
    api.remove_api("image.openshift.io/v1")
    good = config.new_client_from_config(config_file=api.kubeconfig(str(tmp_path / "kc2")), persist_config=False)
    with pytest.raises(ApiException) as caught:
        custom(good).list_cluster_custom_object("image.openshift.io", "v1", "images")
    assert caught.value.status == 404
