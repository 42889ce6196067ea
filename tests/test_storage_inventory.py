"""`pruneplan collect --registry-storage DIR` reads a real registry's filesystem storage (Debian's
distribution registry, pushed to over its HTTP API) into a storage inventory: every blob with
its size, each repository's links, tags and uploads in progress; odd storage is reported, not
fatal; the format reads back strictly."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from clirunner import run_cli
from pruneplan.errors import InputError
from pruneplan.inventoryformat import Inventory, read_inventory
from registry_harness import Image, RegistryServer, build_image, random_layer

NOW = "2026-12-06T10:00:00Z"
CHUNK = b"partial layer bytes " * 50  # what the unfinished upload received so far


@dataclass
class Pushed:
    registry: RegistryServer
    app: Image  # ns1/app:v1
    web: Image  # ns2/web:latest and :stable, sharing a layer with app
    upload_uuid: str  # an upload to ns2/web begun and never finished

    @property
    def root(self) -> Path:
        return self.registry.root


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    registry = RegistryServer(tmp_path_factory.mktemp("registry")).start()
    try:
        rng = random.Random(18)
        shared = random_layer(1024, rng)
        app = build_image([shared, random_layer(3000, rng)], rng=rng)
        web = build_image([shared, random_layer(500, rng)], rng=rng)
        client = registry.api()
        client.push_image("ns1/app", app, tag="v1")
        client.push_image("ns2/web", web, tag="latest")
        client.put_manifest("ns2/web", "stable", web.manifest, web.media_type)
        uuid = client.begin_upload("ns2/web", CHUNK)
        client.close()
        yield Pushed(registry, app, web, uuid)
    finally:
        registry.stop()


def collect(root: Path | str, out: Path, *more: str):
    return run_cli("collect", "--registry-storage", str(root), "-o", str(out), "--now", NOW, *more)


def load(path: Path) -> dict:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.name.endswith(".gz") else raw)


def by_name(inventory: dict) -> dict[str, dict]:
    return {repository["name"]: repository for repository in inventory["repositories"]}


def copy_storage(pushed: Pushed, tmp_path: Path) -> Path:
    """A copy of the pushed storage to damage (the registry's own stays as pushed)."""
    root = tmp_path / "storage"
    shutil.copytree(pushed.root, root)
    return root


# -- what the inventory holds -----------------------------------------------------------------

def test_every_pushed_blob_is_listed_with_its_exact_size(pushed, tmp_path):
    out = tmp_path / "inv.json"
    result = collect(pushed.root, out)
    assert result.code == 0, result.err
    blobs = {blob["digest"]: blob["size"] for blob in load(out)["blobs"]}
    expected = {blob.digest: blob.size for image in (pushed.app, pushed.web) for blob in image.blobs}
    expected |= {image.digest: len(image.manifest) for image in (pushed.app, pushed.web)}  # manifests are blobs too
    assert blobs == expected
    assert len(expected) == 7  # two configs, three layers (one shared), two manifests


def test_each_repository_lists_the_layer_links_and_manifest_revisions_pushed_to_it(pushed, tmp_path):
    out = tmp_path / "inv.json"
    assert collect(pushed.root, out).code == 0
    repositories = by_name(load(out))
    assert list(repositories) == ["ns1/app", "ns2/web"]
    for name, image in (("ns1/app", pushed.app), ("ns2/web", pushed.web)):
        assert repositories[name]["layers"] == sorted(blob.digest for blob in image.blobs)
        assert repositories[name]["manifests"] == [image.digest]


def test_tags_map_to_the_digests_they_were_pushed_as(pushed, tmp_path):
    out = tmp_path / "inv.json"
    assert collect(pushed.root, out).code == 0
    repositories = by_name(load(out))
    assert repositories["ns1/app"]["tags"] == {"v1": pushed.app.digest}
    assert repositories["ns2/web"]["tags"] == {"latest": pushed.web.digest, "stable": pushed.web.digest}


def test_an_upload_in_progress_is_listed_with_its_bytes_so_far(pushed, tmp_path):
    out = tmp_path / "inv.json"
    assert collect(pushed.root, out).code == 0
    repositories = by_name(load(out))
    assert repositories["ns1/app"]["uploads"] == []
    [upload] = repositories["ns2/web"]["uploads"]
    assert upload["uuid"] == pushed.upload_uuid
    assert upload["size"] == len(CHUNK)
    assert upload["startedAt"].endswith("Z")
    assert load(out)["header"]["counts"]["uploads"] == 1


def test_the_header_records_the_read_time_the_root_as_given_and_the_counts(pushed, tmp_path):
    out = tmp_path / "inv.json"
    result = collect(pushed.root, out)
    header = load(out)["header"]
    assert header["readAt"] == NOW
    assert header["root"] == str(pushed.root)
    assert header["counts"] == {"repositories": 2, "manifests": 2, "layers": 6, "tags": 3, "uploads": 1, "blobs": 7,
                                "blobBytes": sum(blob["size"] for blob in load(out)["blobs"]), "problems": 0}
    assert result.out == ""  # the product is the file
    assert result.err_lines == [f"wrote {out}: 2 repositories, 7 blobs ({header['counts']['blobBytes']:,} bytes), "
                                "1 uploads in progress, 0 problems"]


def test_repositories_are_sorted_component_by_component_with_nested_ones_after_their_parent(pushed, tmp_path):
    root = copy_storage(pushed, tmp_path)
    repositories = root / "docker/registry/v2/repositories"
    for name in ("ns1/app/sub", "ns1/app-x"):
        shutil.copytree(pushed.root / "docker/registry/v2/repositories/ns1/app", repositories / name)
    out = tmp_path / "inv.json"
    assert collect(root, out).code == 0
    inventory = by_name(load(out))
    assert list(inventory) == ["ns1/app", "ns1/app/sub", "ns1/app-x", "ns2/web"]
    assert inventory["ns1/app/sub"]["tags"] == {"v1": pushed.app.digest}


def test_the_v2_directory_itself_gives_the_same_inventory_but_its_root(pushed, tmp_path):
    whole, v2 = tmp_path / "whole.json", tmp_path / "v2.json"
    assert collect(pushed.root, whole).code == 0
    assert collect(pushed.root / "docker" / "registry" / "v2", v2).code == 0
    first, second = load(whole), load(v2)
    assert second["header"].pop("root") == str(pushed.root / "docker" / "registry" / "v2")
    first["header"].pop("root")
    assert first == second


def test_a_second_run_over_the_same_storage_is_byte_identical(pushed, tmp_path):
    for name in ("inv.json", "inv.json.gz"):
        first, second = tmp_path / f"1-{name}", tmp_path / f"2-{name}"
        assert collect(pushed.root, first).code == 0
        assert collect(pushed.root, second).code == 0
        assert first.read_bytes() == second.read_bytes()
    assert gzip.decompress((tmp_path / "1-inv.json.gz").read_bytes()) == (tmp_path / "1-inv.json").read_bytes()


def test_the_written_inventory_reads_back_as_the_same_bytes(pushed, tmp_path):
    out = tmp_path / "inv.json"
    assert collect(pushed.root, out).code == 0
    inventory = read_inventory(str(out))
    assert inventory.to_bytes() == out.read_bytes()
    assert Inventory.from_dict(inventory.to_dict()) == inventory


def test_the_inventory_is_written_to_stdout_with_dash(pushed, tmp_path):
    result = run_cli("collect", "--registry-storage", str(pushed.root), "-o", "-", "--now", NOW)
    assert result.code == 0, result.err
    assert json.loads(result.out)["kind"] == "StorageInventory"


# -- odd storage: reported, not fatal -----------------------------------------------------------

def test_a_corrupted_link_file_becomes_a_problem_and_a_warning_not_a_failure(pushed, tmp_path):
    root = copy_storage(pushed, tmp_path)
    layer = pushed.app.layers[1].digest
    link = root / "docker/registry/v2/repositories/ns1/app/_layers/sha256" / layer.split(":")[1] / "link"
    link.write_text("not a digest")
    out = tmp_path / "inv.json"
    result = collect(root, out)
    assert result.code == 0, result.err
    relative = str(link.relative_to(root))
    assert result.err_lines[0] == f"warning: {relative} is not a valid link: it holds 'not a digest', not sha256:<64 hex>"
    inventory = load(out)
    assert inventory["problems"] == [{"path": relative, "problem": "is not a valid link: it holds 'not a digest', not sha256:<64 hex>"}]
    assert layer not in by_name(inventory)["ns1/app"]["layers"]
    assert inventory["header"]["counts"]["problems"] == 1


def test_a_blob_directory_without_data_is_a_problem(pushed, tmp_path):
    root = copy_storage(pushed, tmp_path)
    digest = pushed.web.layers[1].digest
    data = root / "docker/registry/v2/blobs/sha256" / digest[7:9] / digest[7:] / "data"
    data.unlink()
    out = tmp_path / "inv.json"
    result = collect(root, out)
    assert result.code == 0, result.err
    inventory = load(out)
    assert digest not in {blob["digest"] for blob in inventory["blobs"]}
    assert inventory["problems"] == [{"path": str(data.parent.relative_to(root)), "problem": "is a blob directory without data"}]


def test_warnings_stop_at_twenty_lines_and_say_how_many_more(pushed, tmp_path):
    root = copy_storage(pushed, tmp_path)
    stray = root / "docker/registry/v2/blobs/sha256/zz"
    for n in range(25):
        (root / f"docker/registry/v2/blobs/sha256/x{n:02d}").mkdir()
    stray.mkdir()
    out = tmp_path / "inv.json"
    result = collect(root, out)
    assert result.code == 0, result.err
    warnings = [line for line in result.err_lines if line.startswith("warning: ")]
    assert len(warnings) == 21
    assert warnings[-1] == "warning: 6 more problems (the inventory's problems list them all)"
    assert len(load(out)["problems"]) == 26


# -- refused ------------------------------------------------------------------------------------

def test_a_nonexistent_root_is_one_error_line_and_no_inventory(tmp_path):
    out = tmp_path / "inv.json"
    result = collect(tmp_path / "nowhere", out)
    assert result.code == 3
    assert result.err_lines == [f"error: {tmp_path / 'nowhere'}: no such directory"]
    assert not out.exists()


def test_a_directory_that_is_not_registry_storage_is_refused(tmp_path):
    out = tmp_path / "inv.json"
    (tmp_path / "elsewhere").mkdir()
    result = collect(tmp_path / "elsewhere", out)
    assert result.code == 3
    assert len(result.err_lines) == 1
    assert result.err.startswith(f"error: {tmp_path / 'elsewhere'}: not a registry's storage")
    assert list(tmp_path.iterdir()) == [tmp_path / "elsewhere"]


@pytest.mark.parametrize("option", [
    ["-n", "ns1"], ["--redact"], ["--page-size", "10"], ["--parallel-lists", "2"],
    ["--kubeconfig", "/nonexistent"], ["--context", "admin"],
])
def test_options_that_only_make_sense_for_the_api_are_refused(pushed, tmp_path, option):
    out = tmp_path / "inv.json"
    result = collect(pushed.root, out, *option)
    assert result.code == 2
    assert len(result.err_lines) == 1
    assert result.err.startswith("error: ") and "cannot be used with --registry-storage" in result.err
    assert not out.exists()


def test_a_now_that_is_not_a_time_is_refused(pushed, tmp_path):
    result = run_cli("collect", "--registry-storage", str(pushed.root), "-o", str(tmp_path / "inv.json"), "--now", "yesterday")
    assert result.code == 2
    assert len(result.err_lines) == 1 and result.err.startswith('error: invalid argument "yesterday" for "--now" flag')


def test_now_without_registry_storage_is_refused(tmp_path):
    result = run_cli("collect", "-o", str(tmp_path / "dump.json"), "--now", NOW)
    assert result.code == 2
    assert result.err_lines == ["error: --now needs --registry-storage (a dump's time is when it is collected)"]


# -- the format ---------------------------------------------------------------------------------

def small_inventory() -> dict:
    digest = "sha256:" + "ab" * 32
    return {
        "apiVersion": "pruneplan.io/v1", "kind": "StorageInventory",
        "repositories": [{"name": "ns/app", "manifests": [digest], "layers": [], "tags": {"v1": digest},
                          "uploads": [{"uuid": "u-1", "startedAt": NOW, "size": 3}]}],
        "blobs": [{"digest": digest, "size": 10, "modified": NOW}],
        "problems": [{"path": "docker/registry/v2/blobs/sha256/zz", "problem": "is not a blob prefix directory"}],
        "header": {"formatVersion": 1, "readAt": NOW, "root": "/registry", "tool": {"name": "pruneplan", "version": "0.1.0"},
                   "counts": {"repositories": 1, "manifests": 1, "layers": 0, "tags": 1, "uploads": 1, "blobs": 1,
                              "blobBytes": 10, "problems": 1}},
    }


def test_the_format_round_trips_through_to_dict_and_from_dict():
    inventory = Inventory.from_dict(small_inventory())
    assert Inventory.from_dict(inventory.to_dict()) == inventory
    assert inventory.to_dict() == small_inventory()
    assert Inventory.from_bytes(inventory.to_bytes()) == inventory


TWO_DIGESTS = "sha256:" + "e" * 64 + "\n" + "sha256:" + "f" * 64


@pytest.mark.parametrize("change,message", [
    (lambda d: d["blobs"][0].update(digest="sha256:xyz"), "inventory field blobs[0].digest must be a digest sha256:<64 lower-case hex>, not 'sha256:xyz'"),
    (lambda d: d["blobs"][0].update(size=-1), "inventory field blobs[0].size must be a non-negative integer"),
    (lambda d: d["blobs"][0].update(modified="2026-02-30T00:00:00.000000Z"),
     "inventory field blobs[0].modified must be an RFC 3339 time, not '2026-02-30T00:00:00.000000Z'"),
    # two digests in one value: line by line they would look like a list of good digests
    (lambda d: d["repositories"][0].update(manifests=[TWO_DIGESTS]),
     f"inventory field repositories[0].manifests[0] must be a digest sha256:<64 lower-case hex>, not {TWO_DIGESTS!r}"),
    (lambda d: d["header"]["counts"].update(blobs=2), "inventory field header.counts.blobs is 2, but the inventory holds 1"),
    (lambda d: d["repositories"][0].update(extra=1), "inventory field repositories[0].extra is not a known field"),
    (lambda d: d.update(apiVersion="pruneplan.io/v2"), "inventory field apiVersion must be pruneplan.io/v1 (the version this tool knows), not 'pruneplan.io/v2'"),
])
def test_a_malformed_inventory_is_refused_with_one_line_naming_the_field(tmp_path, change, message):
    document = small_inventory()
    change(document)
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError) as raised:
        read_inventory(str(path))
    assert str(raised.value) == f"{path}: {message}"
    assert raised.value.exit_code == 3


@pytest.mark.parametrize("name", ["inv.json", "inv.json.gz"])
def test_an_inventory_in_the_writers_layout_is_read_line_by_line_to_the_same_objects(tmp_path, name, monkeypatch):
    import hashlib

    from pruneplan.inventoryformat import read_inventory_file

    data = Inventory.from_dict(small_inventory()).to_bytes()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    expected = Inventory.from_bytes(data)

    def whole_read(*args: object) -> Inventory:
        raise AssertionError("the line layout was read as one document")

    monkeypatch.setattr(Inventory, "from_bytes", whole_read)
    inventory, sha256 = read_inventory_file(str(path))
    assert inventory == expected
    assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("change", [
    lambda line: line.replace(b'"size":10', b'"size":-1'),  # refused by the decoder of its line
    lambda line: line.replace(b'"digest":"sha256:', b'"digest":"sha257:'),  # refused by the checks after it
    lambda line: line[:-5],  # not JSON
])
def test_a_fault_in_a_line_of_the_writers_layout_reads_as_the_whole_document_reader_says(tmp_path, change):
    data = Inventory.from_dict(small_inventory()).to_bytes()
    lines = data.split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b'{"digest"'))
    lines[at] = change(lines[at])
    damaged = b"\n".join(lines)
    path = tmp_path / "inv.json"
    path.write_bytes(damaged)
    with pytest.raises(InputError) as whole:
        Inventory.from_bytes(damaged, str(path))
    with pytest.raises(InputError) as read:
        read_inventory(str(path))
    assert str(read.value) == str(whole.value)
