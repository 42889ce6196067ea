"""The fake API server accepts what a real client (client-go, so `oc`) does and answers as a real
cluster would: TLS verified against a CA, the bearer token only over HTTPS, and discovery rich
enough for `oc get is,images,pods,rc,dc,...` and the `all` category to resolve."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import shutil
from pathlib import Path

import pytest
import urllib3
from cryptography import x509
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.resource import ResourceList

from fakeapi import FakeAPI, dump_objects, sample_cluster, throwaway_ca

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example-dump.json.gz"


def api_client(kubeconfig: str, retries: int | None = None) -> client.ApiClient:
    """The real client as a kubeconfig sets it up (`retries=0`: fail on the first error)."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration, persist_config=False)
    configuration.retries = retries
    return client.ApiClient(configuration)


def cluster_entry(kubeconfig: str) -> dict:
    with open(kubeconfig) as handle:
        return json.load(handle)["clusters"][0]["cluster"]


# -- TLS ---------------------------------------------------------------------------------------

def test_fake_serves_tls_by_default_and_the_client_verifies_it_against_the_throwaway_ca(tmp_path):
    with FakeAPI() as api:
        api.add_all(sample_cluster())
        assert api.url.startswith("https://127.0.0.1:")
        path = api.kubeconfig(str(tmp_path / "kc"))
        cluster = cluster_entry(path)
        assert cluster["certificate-authority"] == api.ca_file == throwaway_ca().ca_file
        assert "insecure-skip-tls-verify" not in cluster
        c = api_client(path)
        assert c.configuration.verify_ssl and c.configuration.ssl_ca_cert == api.ca_file
        pods = client.CoreV1Api(c).list_pod_for_all_namespaces()
        assert len(pods.items) == len(api.objects("pods")) > 0
        assert api.requests and all(r.tls for r in api.requests)


def test_client_without_the_throwaway_ca_fails_verification_and_sends_nothing(tmp_path):
    with FakeAPI() as api:
        path = api.kubeconfig(str(tmp_path / "kc"), ca_file=None)
        assert "certificate-authority" not in cluster_entry(path)
        c = api_client(path, retries=0)
        with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
            client.CoreV1Api(c).list_namespace()
        assert isinstance(caught.value.reason, urllib3.exceptions.SSLError)
        assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value.reason)
        assert not api.requests


def test_throwaway_server_certificate_is_signed_by_the_ca_for_127_0_0_1_and_localhost(tmp_path):
    ca = throwaway_ca()
    assert throwaway_ca() is ca  # once per session
    ca_cert = x509.load_pem_x509_certificate(open(ca.ca_file, "rb").read())
    leaf = x509.load_pem_x509_certificate(open(ca.cert_file, "rb").read())
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.issuer == ca_cert.subject != leaf.subject
    leaf.verify_directly_issued_by(ca_cert)
    with FakeAPI() as api:
        path = api.kubeconfig(str(tmp_path / "kc"), server=f"https://localhost:{api.port}")
        assert client.CoreV1Api(api_client(path)).list_namespace().items == []
        assert api.requests[-1].tls


def test_plain_http_is_served_only_when_asked(tmp_path):
    with FakeAPI(tls=None) as api:
        assert api.url.startswith("http://")
        path = api.kubeconfig(str(tmp_path / "kc"))
        assert "certificate-authority" not in cluster_entry(path)
        assert client.CoreV1Api(api_client(path)).list_namespace().items == []
        assert api.requests and not any(r.tls for r in api.requests)


# -- the bearer token ---------------------------------------------------------------------------

def test_bearer_token_is_sent_and_only_over_https(tmp_path):
    with FakeAPI(token="s3cret") as api:
        c = api_client(api.kubeconfig(str(tmp_path / "kc")))
        client.CoreV1Api(c).list_namespace()
        client.CoreV1Api(c).list_pod_for_all_namespaces()
        assert len(api.requests) == 2
        for request in api.requests:
            assert request.tls
            assert request.headers["authorization"] == "Bearer s3cret"
        # the same token over plain HTTP to the TLS port: no answer, and the fake never sees it
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
        with pytest.raises((http.client.HTTPException, OSError)):
            connection.request("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer s3cret"})
            connection.getresponse()
        connection.close()
        assert len(api.requests) == 2


def test_wrong_token_over_https_is_401(tmp_path):
    with FakeAPI(token="s3cret") as api:
        c = api_client(api.kubeconfig(str(tmp_path / "kc"), token="other"), retries=0)
        with pytest.raises(client.ApiException) as caught:
            client.CoreV1Api(c).list_namespace()
        assert caught.value.status == 401
        assert api.requests[0].tls and api.requests[0].headers["authorization"] == "Bearer other"


# -- discovery ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("discovery")
    with FakeAPI() as api:
        api.add_all(sample_cluster())
        c = api_client(api.kubeconfig(str(tmp / "kc")))
        yield api, DynamicClient(c, cache_file=str(tmp / "discovery-cache.json"))


def resolve(dyn: DynamicClient, arg: str):
    """What `oc get <arg>` resolves to: a short name first, then the plural, then the singular."""
    for field, value in (("short_names", [arg]), ("name", arg), ("singular_name", arg)):
        found = [r for r in dyn.resources.search(**{field: value}) if not isinstance(r, ResourceList)]
        if len(found) > 1:
            # `images` is also the cluster Image config's plural; OpenShift's API group priority
            # puts image.openshift.io ahead of config.openshift.io, so `oc get images` lists Images
            found = [r for r in found if not r.group_version.startswith("config.openshift.io/")]
        if found:
            assert len(found) == 1, found
            return found[0]
    raise LookupError(arg)


# the README's `oc get is,images,pods,rc,dc,deploy,ds,rs,sts,jobs,cronjobs,bc,builds,limitranges`
OC_GET = {
    "is": ("image.openshift.io/v1", "imagestreams"),
    "images": ("image.openshift.io/v1", "images"),
    "pods": ("v1", "pods"),
    "rc": ("v1", "replicationcontrollers"),
    "dc": ("apps.openshift.io/v1", "deploymentconfigs"),
    "deploy": ("apps/v1", "deployments"),
    "ds": ("apps/v1", "daemonsets"),
    "rs": ("apps/v1", "replicasets"),
    "sts": ("apps/v1", "statefulsets"),
    "jobs": ("batch/v1", "jobs"),
    "cronjobs": ("batch/v1", "cronjobs"),
    "bc": ("build.openshift.io/v1", "buildconfigs"),
    "builds": ("build.openshift.io/v1", "builds"),
    "limitranges": ("v1", "limitranges"),
}


@pytest.mark.parametrize("arg", list(OC_GET))
def test_every_name_of_the_readme_oc_get_line_resolves_through_discovery_and_lists(cluster, arg):
    api, dyn = cluster
    resource = resolve(dyn, arg)
    assert (resource.group_version, resource.name) == OC_GET[arg]
    listed = resource.get()  # all namespaces, like -A
    assert listed.kind == f"{resource.kind}List"
    assert sorted(item.metadata.name for item in listed.items) == sorted(
        o["metadata"]["name"] for o in api.objects(resource.name)
    )
    assert listed.items


@pytest.mark.parametrize("short, plural", [("po", "pods"), ("cj", "cronjobs"), ("limits", "limitranges"), ("ns", "namespaces")])
def test_other_real_short_names_resolve_too(cluster, short, plural):
    _, dyn = cluster
    assert resolve(dyn, short).name == plural


def test_category_all_is_the_workloads_builds_and_image_streams(cluster):
    _, dyn = cluster
    in_all = {
        (r.group_version, r.name)
        for kind in dyn.resources
        for r in kind
        if not isinstance(r, ResourceList) and "all" in (r.categories or [])
    }
    assert in_all == {OC_GET[a] for a in ("pods", "rc", "dc", "deploy", "ds", "rs", "sts", "jobs", "cronjobs", "bc", "builds", "is")}


RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS = ["get", "patch", "update"]

# (groupVersion, name) -> what the real servers (Kubernetes 1.31, OpenShift 4) list for it
REAL_DISCOVERY = {
    ("v1", "namespaces"): {"singularName": "namespace", "namespaced": False, "kind": "Namespace",
                           "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"], "shortNames": ["ns"]},
    ("v1", "pods"): {"singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": RW, "shortNames": ["po"], "categories": ["all"]},
    ("v1", "pods/status"): {"singularName": "", "namespaced": True, "kind": "Pod", "verbs": STATUS},
    ("v1", "replicationcontrollers"): {"singularName": "replicationcontroller", "namespaced": True, "kind": "ReplicationController",
                                       "verbs": RW, "shortNames": ["rc"], "categories": ["all"]},
    ("v1", "replicationcontrollers/status"): {"singularName": "", "namespaced": True, "kind": "ReplicationController", "verbs": STATUS},
    ("v1", "limitranges"): {"singularName": "limitrange", "namespaced": True, "kind": "LimitRange", "verbs": RW, "shortNames": ["limits"]},
    ("v1", "secrets"): {"singularName": "secret", "namespaced": True, "kind": "Secret", "verbs": RW},
    ("apps/v1", "deployments"): {"singularName": "deployment", "namespaced": True, "kind": "Deployment", "verbs": RW,
                                 "shortNames": ["deploy"], "categories": ["all"]},
    ("apps/v1", "daemonsets"): {"singularName": "daemonset", "namespaced": True, "kind": "DaemonSet", "verbs": RW,
                                "shortNames": ["ds"], "categories": ["all"]},
    ("apps/v1", "replicasets"): {"singularName": "replicaset", "namespaced": True, "kind": "ReplicaSet", "verbs": RW,
                                 "shortNames": ["rs"], "categories": ["all"]},
    ("apps/v1", "statefulsets"): {"singularName": "statefulset", "namespaced": True, "kind": "StatefulSet", "verbs": RW,
                                  "shortNames": ["sts"], "categories": ["all"]},
    ("batch/v1", "jobs"): {"singularName": "job", "namespaced": True, "kind": "Job", "verbs": RW, "categories": ["all"]},
    ("batch/v1", "cronjobs"): {"singularName": "cronjob", "namespaced": True, "kind": "CronJob", "verbs": RW,
                               "shortNames": ["cj"], "categories": ["all"]},
    ("apps.openshift.io/v1", "deploymentconfigs"): {"singularName": "deploymentconfig", "namespaced": True, "kind": "DeploymentConfig",
                                                    "verbs": RW, "shortNames": ["dc"], "categories": ["all"]},
    ("build.openshift.io/v1", "buildconfigs"): {"singularName": "buildconfig", "namespaced": True, "kind": "BuildConfig", "verbs": RW,
                                                "shortNames": ["bc"], "categories": ["all"]},
    ("build.openshift.io/v1", "builds"): {"singularName": "build", "namespaced": True, "kind": "Build", "verbs": RW, "categories": ["all"]},
    ("image.openshift.io/v1", "images"): {"singularName": "image", "namespaced": False, "kind": "Image", "verbs": RW},
    ("image.openshift.io/v1", "imagestreams"): {"singularName": "imagestream", "namespaced": True, "kind": "ImageStream", "verbs": RW,
                                                "shortNames": ["is"], "categories": ["all"]},
    ("image.openshift.io/v1", "imagestreams/status"): {"singularName": "", "namespaced": True, "kind": "ImageStream", "verbs": STATUS},
    ("config.openshift.io/v1", "clusterversions"): {"singularName": "clusterversion", "namespaced": False, "kind": "ClusterVersion",
                                                    "verbs": ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]},
    ("config.openshift.io/v1", "clusterversions/status"): {"singularName": "", "namespaced": False, "kind": "ClusterVersion", "verbs": STATUS},
}


@pytest.mark.parametrize("group_version, name", list(REAL_DISCOVERY))
def test_discovery_entry_carries_the_real_servers_short_names_categories_singular_name_and_verbs(cluster, group_version, name):
    api, dyn = cluster
    path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    document = dyn.request("GET", path).to_dict()
    assert document["kind"] == "APIResourceList" and document["groupVersion"] == group_version
    entries = {e["name"]: e for e in document["resources"]}
    assert entries[name] == {"name": name, **REAL_DISCOVERY[(group_version, name)]}


def test_every_served_subresource_is_listed_with_its_parent(cluster):
    api, dyn = cluster
    for res in api.resources.values():
        path = "/api/v1" if res.group_version == "v1" else f"/apis/{res.group_version}"
        names = [e["name"] for e in dyn.request("GET", path).to_dict()["resources"]]
        assert [n for n in names if n.startswith(res.resource + "/")] == [f"{res.resource}/{s}" for s in res.subresources]
    pods = resolve(dyn, "po")
    assert pods.subresources["status"].verbs == STATUS


# -- serving a dump (the rehearsal, README.md "Try it without a cluster") ------------------------

def test_a_kubeconfig_with_the_ca_embedded_is_private_and_trusted_wherever_it_is_copied(tmp_path):
    with FakeAPI() as api:
        api.add_all(sample_cluster())
        path = api.kubeconfig(str(tmp_path / "kc"), embed_ca=True)
        entry = cluster_entry(path)
        assert "certificate-authority" not in entry
        assert x509.load_pem_x509_certificate(base64.b64decode(entry["certificate-authority-data"])).subject == \
            x509.load_pem_x509_certificate(open(api.ca_file, "rb").read()).subject
        assert os.stat(path).st_mode & 0o077 == 0  # it holds the token
        moved = shutil.copy(path, tmp_path / "elsewhere")
        pods = client.CoreV1Api(api_client(str(moved))).list_pod_for_all_namespaces()
        assert len(pods.items) == len(api.objects("pods")) > 0


def test_dump_objects_are_every_object_of_the_dump_with_its_cluster_id():
    from pruneplan.kinds import KINDS

    objects = dump_objects(str(EXAMPLE))
    with gzip.open(EXAMPLE) as handle:
        header = json.loads(handle.read())["header"]
    for kind in KINDS:
        assert sum(1 for o in objects if o["kind"] == kind.kind) == header["counts"][kind.resource]
    (version,) = [o for o in objects if o["kind"] == "ClusterVersion"]
    assert version["spec"]["clusterID"] == header["cluster"]["clusterID"]
    with FakeAPI() as api:
        api.add_all(objects)  # every object has what the fake needs: kind, apiVersion, name, namespace
        assert len(api.objects("images")) == header["counts"]["images"]
