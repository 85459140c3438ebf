"""Image references, version ConfigMaps and the availability ConfigMap, without a runtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polarstack.errors import UsageError
from polarstack.imageref import parse_image_ref, present_keys
from polarstack.jobs.versions import run_versions
from polarstack.model import Outcome, VersionSpec
from polarstack.publishers.contracts import versions_config_map
from polarstack.publishers.local import LocalPublisher
from polarstack.scanners.runtimes.base import RuntimeImage
from polarstack.scanners.versions import (
    parse_version_config_maps,
    parse_versions_file,
    scan_versions,
)

DIGEST = "sha256:" + "ab" * 32
T0 = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("postgres", "docker.io/library/postgres:latest"),
        ("postgres:15", "docker.io/library/postgres:15"),
        ("library/postgres:15", "docker.io/library/postgres:15"),
        ("docker.io/postgres:15", "docker.io/library/postgres:15"),
        ("index.docker.io/library/postgres:15", "docker.io/library/postgres:15"),
        ("polardb/engine:1.2", "docker.io/polardb/engine:1.2"),
        ("localhost/engine", "localhost/engine:latest"),
        ("localhost:5000/polardb/engine:2", "localhost:5000/polardb/engine:2"),
        ("Registry.Example.com/a/b/c:v1.0-rc_1", "registry.example.com/a/b/c:v1.0-rc_1"),
        (f"pg@{DIGEST}", f"docker.io/library/pg@{DIGEST}"),
        (f"pg:15@{DIGEST}", f"docker.io/library/pg:15@{DIGEST}"),
        ("[::1]:5000/x:1", "[::1]:5000/x:1"),
    ],
)
def test_normalisation(text: str, canonical: str) -> None:
    assert str(parse_image_ref(text)) == canonical


@pytest.mark.parametrize(
    "text", ["", "UPPER/case", "pg:", "pg@", "pg@sha256:xyz", "a//b", "pg:bad tag", ":1"]
)
def test_not_references(text: str) -> None:
    with pytest.raises(UsageError, match="not an image reference"):
        parse_image_ref(text)


def test_digest_decides_when_both_given() -> None:
    assert parse_image_ref(f"pg:15@{DIGEST}").key() == parse_image_ref(f"pg@{DIGEST}").key()
    assert parse_image_ref(f"pg:15@{DIGEST}").key() != parse_image_ref("pg:15").key()


_part = st.from_regex(r"[a-z0-9]{1,6}([._-][a-z0-9]{1,4})?", fullmatch=True)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}", fullmatch=True)
_digest = st.from_regex(r"sha256:[a-f0-9]{64}", fullmatch=True)
_registry = st.sampled_from(["", "docker.io/", "index.docker.io/", "localhost:5000/", "reg.io/"])
references = st.builds(
    lambda reg, parts, tag, digest: (
        reg + "/".join(parts) + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    ),
    _registry,
    st.lists(_part, min_size=1, max_size=3),
    st.none() | _tag,
    st.none() | _digest,
)


@given(references)
def test_normalising_is_idempotent(text: str) -> None:
    once = parse_image_ref(text)
    assert parse_image_ref(str(once)) == once


@given(st.lists(_part, min_size=1, max_size=1), _tag)
def test_hub_spellings_are_equivalent(parts: list[str], tag: str) -> None:
    name = parts[0]
    spellings = [
        f"{name}:{tag}",
        f"library/{name}:{tag}",
        f"docker.io/{name}:{tag}",
        f"docker.io/library/{name}:{tag}",
        f"index.docker.io/library/{name}:{tag}",
    ]
    assert len({parse_image_ref(s) for s in spellings}) == 1


@given(references)
def test_a_listed_reference_is_found_under_its_own_key(text: str) -> None:
    ref = parse_image_ref(text)
    listed = [text] if not ref.digest else []
    digests = [text] if ref.digest else []
    assert ref.key() in present_keys(listed, digests)


def test_present_keys_skip_junk() -> None:
    assert present_keys(["<none>:<none>"], ["<none>@<none>"]) == set()


def cm(name: str, data: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": name}, "data": data}


def test_version_config_maps() -> None:
    specs, warnings = parse_version_config_maps(
        [
            cm("v1", {"name": "1.0", "engineImage": "pg:1", "pfsdToolImage": " pfsd:1 ",
                      "Image": "not-this", "imageTag": "nor-this", "emptyImage": " "}),
            cm("pointer", {"latestVersion": "1.0"}),
            cm("no-name", {"engineImage": "pg:2"}),
            cm("no-images", {"name": "3.0", "Image": "x"}),
            cm("again", {"name": "1.0", "engineImage": "pg:9"}),
        ]
    )  # fmt: skip
    assert specs == [VersionSpec("1.0", ("pg:1", "pfsd:1"), "v1")]
    assert warnings == [
        "version ConfigMap no-name skipped: no name",
        "version ConfigMap no-images skipped: no images",
        "version ConfigMap again skipped: version 1.0 repeats",
    ]


def test_versions_file_shape() -> None:
    assert parse_versions_file([{"name": "a", "images": ["x"]}], "f") == [
        VersionSpec("a", ("x",), "f")
    ]
    for bad in ({"name": "a"}, [{"name": "a"}], [{"name": "a", "images": "x"}], [3]):
        with pytest.raises(UsageError, match="f"):
            parse_versions_file(bad, "f")


class FakeRuntime:
    name = "fake"
    endpoint = "memory"

    def __init__(self, *refs: str) -> None:
        self.images = [RuntimeImage(f"id{i}", (r,), ()) for i, r in enumerate(refs)]
        self.calls = 0

    def list_images(self) -> list[RuntimeImage]:
        self.calls += 1
        return self.images


def test_one_listing_per_check_and_config_map_order() -> None:
    runtime = FakeRuntime("docker.io/library/pg:1", "pfsd:1", "pg:2")
    versions = [
        VersionSpec("2.0", ("pg:2", "pfsd:1")),
        VersionSpec("1.5", ("pg:1", "pfsd:9")),
        VersionSpec("1.0", ("pg:1", "pfsd:1", "bad ref")),
        VersionSpec("0.9", ("pg:1",)),
    ]
    scan = scan_versions(versions, runtime=runtime, clock=lambda: T0)
    assert runtime.calls == 1
    assert scan.existing_versions == ("2.0", "0.9")
    assert scan.versions[1].missing_images == ("pfsd:9",)
    assert scan.versions[2].missing_images == ("bad ref",)
    assert any("bad ref" in w for w in scan.warnings)
    doc = versions_config_map(scan, node="n1")
    assert doc.name == "polarstack-daemon-version-availability-n1"
    assert dict(doc.data) == {"existingVersions": "2.0,0.9", "checkTime": "2026-05-01T08:00:00Z"}


def test_no_versions_available_is_an_empty_string() -> None:
    scan = scan_versions([VersionSpec("1", ("x:1",))], runtime=FakeRuntime())
    assert versions_config_map(scan, node="n").data["existingVersions"] == ""


def test_written_on_change_else_hourly(tmp_path) -> None:
    publisher = LocalPublisher(directory=tmp_path)
    runtime = FakeRuntime("pg:1")
    versions = [VersionSpec("1.0", ("pg:1",)), VersionSpec("2.0", ("pg:2",))]
    now = [T0]

    def run() -> Outcome | None:
        return run_versions(
            node="n1", runtime=runtime, versions=versions, publisher=publisher,
            clock=lambda: now[0],
        ).outcome  # fmt: skip

    assert run() is Outcome.CREATED
    now[0] = T0 + timedelta(minutes=59)
    assert run() is Outcome.UNCHANGED
    now[0] = T0 + timedelta(minutes=60)
    assert run() is Outcome.UPDATED  # checkTime refreshed, nothing else changed
    runtime.images.append(RuntimeImage("id", ("pg:2",), ()))
    now[0] += timedelta(minutes=1)
    assert run() is Outcome.UPDATED
    text = (tmp_path / "configmap-polarstack-daemon-version-availability-n1.json").read_text()
    assert '"existingVersions": "1.0,2.0"' in text
    assert '"checkTime": "2026-05-01T09:01:00Z"' in text
