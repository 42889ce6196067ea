"""The docker reference grammar and library-go's split, with upstream's error texts (docs/rules.md,
"Image references")."""

from __future__ import annotations

import pytest

from pruneplan.reference import (
    ImageReference,
    InvalidReference,
    parse_image_stream_image_name,
    parse_image_stream_tag_name,
    parse_reference,
)

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (f"registry.io/foo/bar@{D}", ImageReference("registry.io", "foo", "bar", "", D)),
        (f"registry.io/foo/bar:v1@{D}", ImageReference("registry.io", "foo", "bar", "v1", D)),
        ("external.registry:5000/foo/baz:keepme", ImageReference("external.registry:5000", "foo", "baz", "keepme", "")),
        ("docker.io/library/nginx", ImageReference("docker.io", "library", "nginx", "", "")),
        ("localhost/a/b", ImageReference("localhost", "a", "b", "", "")),
        ("localhost:5000/a/b", ImageReference("localhost:5000", "a", "b", "", "")),
        ("host/a/b/c", ImageReference("", "host", "a/b/c", "", "")),
        ("host.io/a/b/c", ImageReference("host.io", "a", "b/c", "", "")),
        ("a/b/c/d/e", ImageReference("", "a", "b/c/d/e", "", "")),
        ("ns/name", ImageReference("", "ns", "name", "", "")),
        ("nginx", ImageReference("", "", "nginx", "", "")),
        ("garbage", ImageReference("", "", "garbage", "", "")),
        ("Registry.IO:443/foo/bar", ImageReference("Registry.IO:443", "foo", "bar", "", "")),
        ("a.b/c/d__e-f.g", ImageReference("a.b", "c", "d__e-f.g", "", "")),
        (f"registry.io/foo/bar@sha256:{'AB' * 32}", ImageReference("registry.io", "foo", "bar", "", "sha256:" + "AB" * 32)),
        ("sha384.io/x/y@sha384:" + "1" * 96, ImageReference("sha384.io", "x", "y", "", "sha384:" + "1" * 96)),
    ],
)
def test_valid_references_split_like_library_go(spec, expected):
    assert parse_reference(spec) == expected


def test_registry_only_reference_has_no_name():
    ref = parse_reference("foo.io:tag")
    assert (ref.namespace, ref.name, ref.tag) == ("", "", "")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "repository name must have at least one component"),
        ("Foo/Bar:latest", "repository name must be lowercase"),
        ("registry.io/Foo/bar", "repository name must be lowercase"),
        ("I am certainly a valid reference", "invalid reference format"),
        ("registry.io/foo/bar@invalid-digest", "invalid reference format"),
        (" registry.io/foo/bar:latest", "invalid reference format"),
        ("registry.io/foo/bar@sha256:" + "0" * 64 + "3", "invalid checksum digest length"),
        ("registry.io/foo/bar@md5:" + "0" * 32, "unsupported digest algorithm"),
        ("registry.io/foo/bar:" + "t" * 129, "invalid reference format"),
        ("a/" + "b" * 254, "repository name must not be more than 255 characters"),
    ],
)
def test_invalid_references_give_upstream_errors(spec, message):
    with pytest.raises(InvalidReference) as err:
        parse_reference(spec)
    assert str(err.value) == message


def test_pathological_reference_is_rejected_quickly():
    # Python's backtracking engine must not blow up where Go's RE2 is linear.
    with pytest.raises(InvalidReference):
        parse_reference("a" + "-a" * 5000 + "!")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bad:isi", 'expected exactly one @ in the isimage name "bad:isi"'),
        ("a@b@c", 'expected exactly one @ in the isimage name "a@b@c"'),
        ("@id", 'image stream image name "@id" must have a name and ID'),
        ("name@", 'image stream image name "name@" must have a name and ID'),
    ],
)
def test_image_stream_image_name_errors(value, message):
    with pytest.raises(InvalidReference) as err:
        parse_image_stream_image_name(value)
    assert str(err.value) == message


def test_image_stream_image_id_is_not_validated_as_digest():
    assert parse_image_stream_image_name("bar@not-a-digest") == ("bar", "not-a-digest")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bad/tag@name", '"bad/tag@name" is an image stream image, not an image stream tag'),
        ("notag", 'expected exactly one : delimiter in the istag "notag"'),
        ("a:b:c", 'expected exactly one : delimiter in the istag "a:b:c"'),
        (":tag", 'image stream tag name ":tag" must have a name and a tag'),
        ("name:", 'image stream tag name "name:" must have a name and a tag'),
    ],
)
def test_image_stream_tag_name_errors(value, message):
    with pytest.raises(InvalidReference) as err:
        parse_image_stream_tag_name(value)
    assert str(err.value) == message
