"""A .gz dump is one gzip member, deflated kind by kind while each kind is listed
(pruneplan.dumpwriter.SectionSpool): its content is exactly the plain dump's, and its bytes do
not depend on how the lists were paged or restarted."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from clirunner import run_cli
from fakeapi import FakeAPI, sample_cluster
from pruneplan.dumpwriter import DumpWriter, SectionSpool

HTTP_DATE = "Sat, 28 Nov 2026 06:00:00 GMT"


@pytest.fixture
def api():
    with FakeAPI(date=HTTP_DATE) as server:
        server.add_all(sample_cluster())
        yield server


def collect(kubeconfig: str, out: Path, *extra: str) -> bytes:
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, *extra)
    assert result.code == 0, result.err
    return out.read_bytes()


def one_member(data: bytes) -> bytes:
    """The content of `data` read as exactly one gzip member, its CRC-32 and size checked."""
    reader = zlib.decompressobj(wbits=31)
    content = reader.decompress(data)
    assert reader.eof and reader.unused_data == b"", "not exactly one gzip member"
    return content


def test_a_gz_dump_is_one_gzip_member_holding_the_plain_dump(api, kubeconfig, tmp_path):
    plain = collect(kubeconfig, tmp_path / "dump.json", "--page-size", "3")
    packed = collect(kubeconfig, tmp_path / "dump.json.gz", "--page-size", "3")
    assert one_member(packed) == plain


def test_the_gz_dump_is_byte_identical_whatever_the_page_size(api, kubeconfig, tmp_path):
    dumps = {collect(kubeconfig, tmp_path / f"dump-{size}.json.gz", "--page-size", size) for size in ("1", "4", "500")}
    assert len(dumps) == 1


def test_a_gz_dump_whose_list_started_over_is_the_same_bytes_as_one_that_did_not(api, kubeconfig, tmp_path):
    calm = collect(kubeconfig, tmp_path / "calm.json.gz", "--page-size", "2")
    compacted: list[str] = []

    def compact_once_on_second_page(request):
        if request.path == "/apis/image.openshift.io/v1/images" and request.param("continue") and not compacted:
            compacted.append(request.param("continue"))
            api.compact()

    api.hooks.append(compact_once_on_second_page)
    restarted = collect(kubeconfig, tmp_path / "restarted.json.gz", "--page-size", "2")
    assert compacted  # the images list did start over
    assert restarted == calm


@pytest.mark.parametrize("name", ["dump.json", "dump.json.gz"])
def test_a_spool_that_starts_over_keeps_only_the_objects_after_the_restart(tmp_path, name):
    # a run size of a few bytes: the objects before the restart were already written (and, for
    # .gz, deflated) to the spool's file when it starts over
    path = tmp_path / name
    writer = DumpWriter(str(path))
    spool = SectionSpool(str(tmp_path), deflate=name.endswith(".gz"), run_size=8)
    for n in range(50):
        spool.add_encoded(b'{"metadata":{"name":"thrown-away-%d"}}' % n)
    spool.restart()
    for n in range(3):
        spool.add_encoded(b'{"metadata":{"name":"kept-%d"}}' % n)
    spool.finish()
    writer.add_section("images", spool)
    spool.close()
    writer.commit("2026-11-28T06:00:00Z", {"apiServer": "https://api.example:6443", "clusterID": None}, None)
    data = path.read_bytes()
    content = one_member(data) if name.endswith(".gz") else data
    assert b"thrown-away" not in content
    assert content.count(b'"kept-') == 3
    assert writer.counts["images"] == 3
