"""execute keeps a connection per worker open to the API server and to the registry: at
--num-workers 32 no connection is discarded for want of room in a pool (urllib3's "Connection
pool is full" warning), against the stateful fake API and the real registry behind its front
proxy."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from execute_env import make_env
from execute_world import image_object, stream_object
from fakeapi import FakeAPI
from registry_harness import FrontProxy, RegistryServer, build_image, random_layer

WORKERS = 32
STREAMS = 36  # more streams (and pruned images) than workers: every worker is busy at once
SLOW = 0.2  # seconds each write waits in the servers, so the workers' requests overlap


@pytest.fixture
def busy_cluster(tmp_path: Path):
    """STREAMS image streams of two images each, the older one pruned with
    --keep-tag-revisions=1; every write to the API and the registry answered after SLOW seconds."""
    registry = RegistryServer(tmp_path / "registry").start()
    proxy = FrontProxy(registry)
    api = FakeAPI().start()
    try:
        rng = random.Random(3)
        objects = [{"kind": "ClusterVersion", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "version"},
                    "spec": {"clusterID": "pools-cluster"}}]
        pushes = registry.api()
        for n in range(STREAMS):
            repo = f"ns1/app{n}"
            images = [build_image([random_layer(256, rng)], rng=rng) for _ in range(2)]
            for image in images:
                pushes.push_image(repo, image)
                objects.append(image_object(registry.host, repo, image))
            objects.append(stream_object(registry.host, "ns1", f"app{n}", [image.digest for image in images]))
        api.add_all(objects)
        proxy.delay(r"^/", SLOW, times=1_000_000, method="DELETE")
        for method in ("PUT", "DELETE"):
            api.fault(r"^/apis/image\.openshift\.io/", None, times=None, method=method, delay=SLOW)
        yield make_env(api, tmp_path), proxy
    finally:
        api.stop()
        proxy.stop()
        registry.stop()


def test_execute_at_32_workers_discards_no_connection_to_the_api_or_the_registry(busy_cluster, caplog):
    env, proxy = busy_cluster
    plan = env.plan("--keep-tag-revisions=1", "--keep-younger-than=1h")
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        result = env.execute(plan, "--confirm", "--registry-url", proxy.url, "--num-workers", str(WORKERS))
    assert result.code == 0, result.err
    assert f"deleted {STREAMS} image object(s)" in result.out
    full = [record.getMessage() for record in caplog.records if "Connection pool is full" in record.getMessage()]
    assert full == []
    deletes = [path for method, path in proxy.calls() if method == "DELETE"]
    assert len(deletes) >= 4 * STREAMS, "every pruned image's links and blobs went to the registry"
