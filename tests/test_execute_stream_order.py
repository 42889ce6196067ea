"""With several workers, the streams with the most links start first: a stream's requests are one
worker's sequence, and a long one started last would leave the other workers idle."""

from __future__ import annotations

from pruneplan.analyze.decisions.model import Stream
from pruneplan.execute.recheck import StreamWork
from pruneplan.execute.runner import longest_first


def _work(name: str, layers: int, manifests: int) -> StreamWork:
    stream = Stream(namespace="ns", name=name, created=0.0, resource_version="1", repository=f"r/ns/{name}", tags=[])
    return StreamWork(stream=stream, removals=[], approved_at={},
                      layer_links=[f"sha256:{i:064x}" for i in range(layers)],
                      manifest_links=[f"sha256:{i:064x}" for i in range(manifests)])


def test_streams_with_the_most_links_come_first():
    works = [_work("small", 1, 0), _work("big", 40, 3), _work("middle", 5, 5)]
    assert [w.name for w in longest_first(works)] == ["big", "middle", "small"]


def test_streams_with_as_many_links_keep_the_plans_order():
    works = [_work("a", 2, 1), _work("b", 1, 2), _work("c", 3, 0), _work("d", 0, 0)]
    assert [w.name for w in longest_first(works)] == ["a", "b", "c", "d"]
