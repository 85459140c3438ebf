"""Bad input raises the library's errors only: never a bare ValueError, KeyError or TypeError.

Callers (the CLI, the daemon, scripts) tell an expected failure from a bug by the class:
anything that is not a PolarstackError is a bug. Each test feeds arbitrary values to one
public parser or reader (text, JSON files, cluster answers over HTTP from the fake API
server, runtime answers) and lets through only a value or a PolarstackError; the examples
are the values each fix was made for.
"""

from __future__ import annotations

import json
import math
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import ThreadingUnixStreamServer
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from polarstack.cleaners.logs import parse_rules
from polarstack.daemon.http import ApiServer
from polarstack.durations import parse_duration
from polarstack.errors import PolarstackError, RuntimeUnavailableError, UsageError
from polarstack.imageref import parse_image_ref
from polarstack.kube.client import Kube
from polarstack.kube.configmaps import publish_config_map
from polarstack.kube.events import record_event
from polarstack.kube.nodes import read_conditions
from polarstack.kube.readers import (
    read_controller_config,
    read_host_ports,
    read_live_ids,
    read_net_card_name,
    read_port_ranges,
)
from polarstack.kube.watches import watch_config_maps
from polarstack.model import Condition, ConfigMapDoc, LiveIds, NodeEvent
from polarstack.nodename import resolve_node_name
from polarstack.portranges import MAX_PORT, MIN_PORT, parse_annotation, parse_ranges
from polarstack.publishers.conditions import ConditionManager
from polarstack.publishers.local import LocalPublisher
from polarstack.scanners.network import parse_lan_print
from polarstack.scanners.runtimes.docker import DockerLister
from polarstack.scanners.runtimes.podman import PodmanLister
from polarstack.scanners.versions import (
    load_versions_file,
    parse_version_config_maps,
    parse_versions_file,
)
from polarstack.switches import parse_switch
from polarstack.timefmt import parse_utc_stamp
from tests.fakekube import FakeKube

T = TypeVar("T")
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Reusing one fake server (or tmp_path) across examples: each example answers its own
# requests; no deadline, since a loaded machine answers slower.
fixture_settings = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)
# Calls over HTTP or to a process cost milliseconds each: fewer examples beside the explicit.
costly = settings(fixture_settings, max_examples=40)


def library_errors_only(call: Callable[[], T]) -> T | None:
    """The call's value, or None when it raised a PolarstackError; anything else fails."""
    try:
        return call()
    except PolarstackError:
        return None


# --- JSON values shaped like the API's, wrong in every way ----------------------------------

KEYS = ["metadata", "data", "annotations", "name", "namespace", "resourceVersion", "count",
        "status", "conditions", "type", "spec", "containers", "initContainers", "ports",
        "hostPort", "hostIP", "protocol", "phase", "labels", "items", "object", "code",
        "NET_CARD_NAME", "enablePrintPort", "isCheckOObIP", "engineImage", "RepoTags",
        "RepoDigests", "Names", "Id", "apsara.metric.ins_id"]  # fmt: skip
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5)
# An object of a list answer: list_all itself refuses one without a metadata object.
listed_objects = st.builds(
    lambda metadata, rest: {**rest, "metadata": metadata},
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4),
    json_objects,
)


def answer(fake: FakeKube, *objects: Any) -> None:
    """The fake server's next answers, one per request, then normal service."""
    fake.faults.answer_next = [
        (200, "application/json", json.dumps(obj).encode()) for obj in objects
    ]


def listing(*items: Any) -> dict[str, Any]:
    return {"kind": "List", "metadata": {}, "items": list(items)}


# --- parsers of what people type --------------------------------------------------------


@given(st.text())
@example("1" * 5000)  # past Python's int() digit limit
@example("5400-" + "9" * 5000)
def test_parse_ranges(text: str) -> None:
    for found in library_errors_only(lambda: parse_ranges(text)) or []:
        assert MIN_PORT <= found.start <= found.end <= MAX_PORT


@given(st.text())
@example("1" * 5000)
@example("-3+" + "4" * 5000)
def test_parse_annotation(text: str) -> None:
    for found in library_errors_only(lambda: parse_annotation(text)) or []:
        assert MIN_PORT <= found.start <= found.end <= MAX_PORT


@given(st.text())
@example("nan")
@example("inf")
@example("1e400")
@example("9" * 400 + "d")
def test_parse_duration(text: str) -> None:
    seconds = library_errors_only(lambda: parse_duration(text))
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


@given(st.text())
def test_parse_image_ref(text: str) -> None:
    library_errors_only(lambda: parse_image_ref(text))


@given(st.text())
def test_parse_rules(text: str) -> None:
    library_errors_only(lambda: parse_rules(text))


@given(st.none() | st.text())
def test_parse_switch(text: str | None) -> None:
    assert parse_switch(text) in (True, False)


@given(st.none() | st.text(), st.dictionaries(st.text(), st.text()), st.text())
def test_resolve_node_name(explicit: str | None, environ: dict[str, str], host: str) -> None:
    library_errors_only(lambda: resolve_node_name(explicit, environ=environ, hostname=host))


@given(json_values)
def test_parse_utc_stamp(value: Any) -> None:
    parse_utc_stamp(value)


@given(st.text())
def test_parse_lan_print(text: str) -> None:
    parse_lan_print(text)


# --- files ----------------------------------------------------------------------------------

paths = st.text(min_size=1).filter(lambda text: ".." not in text)


@fixture_settings
@given(paths)
@example("ids\x00file")  # open() refuses a NUL byte with a ValueError
def test_live_ids_file(tmp_path: Path, name: str) -> None:
    library_errors_only(lambda: LiveIds.read_file(f"{tmp_path}/{name}"))


@fixture_settings
@given(paths)
@example("versions\x00.yaml")
def test_versions_file_path(tmp_path: Path, name: str) -> None:
    library_errors_only(lambda: load_versions_file(f"{tmp_path}/{name}"))


@fixture_settings
@given(st.binary(max_size=200) | json_values.map(lambda value: json.dumps(value).encode()))
@example(b"\xff\xfe not UTF-8")
@example(b"[{name: v1, images: [1, 2]}]")
def test_versions_file_content(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "versions.yaml").write_bytes(content)
    library_errors_only(lambda: load_versions_file(str(tmp_path / "versions.yaml")))


@given(json_values)
def test_versions_document(document: Any) -> None:
    library_errors_only(lambda: parse_versions_file(document, "versions.yaml"))


local_files = st.fixed_dictionaries(
    {}, optional={"configmap-usage": json_values, "node-n1": json_values, "events-n1": json_values}
)


@fixture_settings
@given(local_files)
@example({"configmap-usage": ["not", "a", "ConfigMap"]})
@example({"configmap-usage": {"data": "not a map"}})
@example({"node-n1": {"status": {"conditions": "not a list"}}})
@example({"node-n1": {"status": {"conditions": [{"no": "type"}]}}})
@example({"events-n1": ["not", "events"]})
@example({"events-n1": {"Normal/Cleaned/x": {"count": "many"}}})
def test_local_publisher_files(tmp_path: Path, files: dict[str, Any]) -> None:
    # Someone edited the JSON files a LocalPublisher keeps between runs.
    directory = tmp_path / "published"
    directory.mkdir(exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    for key, content in files.items():
        (directory / f"{key}.json").write_text(json.dumps(content))
    publisher = LocalPublisher(directory=directory)
    library_errors_only(lambda: publisher.publish_config_map(ConfigMapDoc("usage", {"a": "b"})))
    library_errors_only(lambda: publisher.read_conditions("n1"))
    library_errors_only(lambda: publisher.patch_conditions("n1", [{"type": "NicUp"}]))
    library_errors_only(lambda: publisher.record_event("n1", NodeEvent("Cleaned", "x"), now=NOW))


# --- answers of the API server ------------------------------------------------------------

MALFORMED_CONFIG_MAPS = [
    {"data": "not a map"},
    {"data": ["not", "a", "map"]},
    {"data": {"enablePrintPort": 1, "isCheckOObIP": None, "NET_CARD_NAME": 5}},
    {"metadata": "not a map"},
    {"metadata": {"annotations": ["not", "a", "map"]}},
    {"metadata": {"annotations": {"ranges": 5400}}},
]


def examples(cases: list[Any]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        for case in cases:
            test = example(case)(test)
        return test

    return decorate


@costly
@given(json_objects)
@examples(MALFORMED_CONFIG_MAPS)
def test_config_map_readers(fake_kube: FakeKube, kube: Kube, config_map: Any) -> None:
    answer(fake_kube, config_map)
    library_errors_only(lambda: read_controller_config(kube))
    answer(fake_kube, config_map)
    library_errors_only(lambda: read_net_card_name(kube, "bond1"))
    answer(fake_kube, config_map)
    library_errors_only(lambda: read_port_ranges(kube))


MALFORMED_PODS = [
    {"metadata": {}, "spec": {"containers": [{"ports": [{"hostPort": "http"}]}]}},
    {"metadata": {}, "spec": {"containers": [{"ports": [{"hostPort": 1.5}]}]}},
    {"metadata": {}, "spec": {"containers": [{"ports": [{"hostPort": 80, "hostIP": 5}]}]}},
    {"metadata": {}, "spec": {"containers": [{"ports": [{"hostPort": 80, "protocol": 6}]}]}},
    {"metadata": {}, "spec": {"containers": [{"ports": ["80"]}]}},
    {"metadata": {}, "spec": {"containers": ["app"]}},
    {"metadata": {}, "spec": {"containers": {"name": "app"}}},
    {"metadata": {}, "spec": "not a map"},
    {"metadata": {}, "status": ["Running"]},
    {"metadata": {}, "status": {"phase": []}},  # Hypothesis found it: unhashable in a set test
]


@costly
@given(st.lists(listed_objects, max_size=3))
@examples([[pod] for pod in MALFORMED_PODS])
def test_pod_readers(fake_kube: FakeKube, kube: Kube, pods: list[Any]) -> None:
    answer(fake_kube, listing(*pods))
    for holder in library_errors_only(lambda: read_host_ports(kube, "n1")) or []:
        assert MIN_PORT <= holder.port <= MAX_PORT
    answer(fake_kube, listing(*pods))
    library_errors_only(lambda: read_live_ids(kube))


@costly
@given(json_objects)
@example({"status": {"conditions": "not a list"}})
@example({"status": {"conditions": ["Ready"]}})
@example({"status": "not a map"})
def test_node_conditions(fake_kube: FakeKube, kube: Kube, node: Any) -> None:
    answer(fake_kube, node)
    for condition in library_errors_only(lambda: read_conditions(kube, "n1")) or []:
        assert isinstance(condition, dict)
    answer(fake_kube, node)
    manager = ConditionManager(KubeStatus(kube), "n1", frozenset({"NicUp"}))
    library_errors_only(manager.load)


class KubeStatus:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def read_conditions(self, node: str) -> list[dict[str, Any]]:
        return read_conditions(self.kube, node)

    def patch_conditions(self, node: str, conditions: Any) -> None:
        raise AssertionError("not written here")


ALREADY_EXISTS = (
    409,
    "application/json",
    json.dumps({"kind": "Status", "code": 409, "reason": "AlreadyExists"}).encode(),
)


@costly
@given(json_objects)
@example({"metadata": {"resourceVersion": "7"}, "count": "many"})
@example({"metadata": {"resourceVersion": "7"}, "count": [2]})
@example({"metadata": "not a map"})
@example({})
def test_event_count(fake_kube: FakeKube, kube: Kube, event: Any) -> None:
    # The create finds the Event there; the read of it is the answer under test.
    answer(fake_kube, None, event)
    fake_kube.faults.answer_next[0] = ALREADY_EXISTS
    library_errors_only(lambda: record_event(kube, "n1", NodeEvent("Cleaned", "x"), now=NOW))


@costly
@given(json_objects)
@example({"data": ["not", "a", "map"]})
@example({"data": {"a": "c"}, "metadata": "not a map"})
@example({"data": {"a": "c"}, "metadata": {"annotations": ["not", "a", "map"]}})
def test_config_map_publisher(fake_kube: FakeKube, kube: Kube, current: Any) -> None:
    answer(fake_kube, current, {})
    library_errors_only(lambda: publish_config_map(kube, ConfigMapDoc("usage-n1", {"a": "b"})))


def watch_lines(fake: FakeKube, body: bytes) -> None:
    fake.faults.answer_next = [(200, "application/json", body)]


@costly
@given(
    st.lists(json_values.map(json.dumps), max_size=3).map(lambda ls: "\n".join(ls).encode())
    | st.binary(max_size=60)
)
@example(b"not JSON\n")
@example(b"\xff\xfe\n")
@example(b"[1, 2]\n")
@example(b'{"type": "ADDED", "object": ["not", "a", "map"]}\n')
@example(b'{"type": "ERROR", "object": {"code": "Gone"}}\n')
@example(b'{"type": "ERROR", "object": "not a map"}\n')
def test_watch_lines(fake_kube: FakeKube, kube: Kube, body: bytes) -> None:
    watch_lines(fake_kube, body)
    events = kube.watch("configmaps", "kube-system", resource_version="1", timeout_seconds=1)
    library_errors_only(lambda: list(events))


class OneRound:
    """A stop event that is set once the watch loop first waits (after a failed round)."""

    def __init__(self) -> None:
        self.waited = False

    def is_set(self) -> bool:
        return self.waited

    def wait(self, timeout: float | None = None) -> bool:
        self.waited = True
        return True


@costly
@given(json_objects)
@example({"metadata": "not a map"})
@example({"metadata": {"resourceVersion": "1"}})
def test_watch_config_maps_survives_a_malformed_list(
    fake_kube: FakeKube, kube: Kube, listed: Any
) -> None:
    # The list answers `listed`; any watch after it is an endless garbage line, so a round
    # ends in a failure, and the loop waits: the stop event above ends it there.
    answer(fake_kube, listed)
    fake_kube.faults.answer_next.append((200, "application/json", b"[]\n"))
    stop = OneRound()
    watch_config_maps(kube, on_change=lambda why: None, stop=stop)  # type: ignore[arg-type]
    assert stop.waited


@costly
@given(
    st.lists(listed_objects, max_size=3),
)
@example([{"metadata": {"name": "v1"}, "data": ["not", "a", "map"]}])
@example([{"metadata": {"name": "v1"}, "data": "engineImage=pg"}])
def test_version_config_maps(items: list[Any]) -> None:
    library_errors_only(lambda: parse_version_config_maps(items))


# --- calls with arguments the API refuses ---------------------------------------------------


def test_a_condition_type_not_managed_is_a_usage_error() -> None:
    manager = ConditionManager(KubeStatus(None), "n1", frozenset({"NicUp"}))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="Ready"):
        manager.set([Condition("Ready", "True", "KubeletReady", "")])


def test_a_local_publisher_needs_one_place_to_write() -> None:
    with pytest.raises(UsageError, match="exactly one"):
        LocalPublisher()


# --- answers of the container runtimes ------------------------------------------------------

RUNTIME_ANSWERS = [
    b"not JSON",
    b"\xff\xfe",
    b'{"Id": "sha256:1"}',
    b"[1, 2]",
    b'[{"Id": "sha256:1", "RepoTags": 5}]',
    b'[{"Id": "sha256:1", "RepoTags": "pg:15"}]',
    b'[{"Id": "sha256:1", "RepoTags": [15]}]',
    b'[{"Id": "sha256:1", "Names": ["pg:15"], "RepoDigests": {"a": "b"}}]',
]
runtime_answers = st.binary(max_size=60) | json_values.map(lambda v: json.dumps(v).encode())


@pytest.fixture
def docker_socket(tmp_path: Path) -> Iterator[tuple[str, list[bytes]]]:
    """A unix socket answering ``GET /images/json`` with the body the test puts in the list."""
    bodies: list[bytes] = [b"[]"]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(bodies[0])))
            self.end_headers()
            self.wfile.write(bodies[0])

        def address_string(self) -> str:
            return "unix"

    path = str(tmp_path / "docker.sock")
    server = ThreadingUnixStreamServer(path, Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield path, bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@costly
@given(runtime_answers)
@examples(RUNTIME_ANSWERS)
def test_docker_listing(docker_socket: tuple[str, list[bytes]], body: bytes) -> None:
    path, bodies = docker_socket
    bodies[0] = body
    for image in library_errors_only(DockerLister(path).list_images) or []:
        assert all(isinstance(tag, str) for tag in (*image.tags, *image.digests))


@settings(costly, max_examples=15)  # a process per example
@given(runtime_answers)
@examples(RUNTIME_ANSWERS)
def test_podman_listing(tmp_path: Path, body: bytes) -> None:
    (tmp_path / "answer").write_bytes(body)
    script = tmp_path / "podman"
    script.write_text(f"#!/bin/sh\ncat {tmp_path / 'answer'}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    lister = PodmanLister()
    lister.command = str(script)
    try:
        images = lister.list_images()
    except RuntimeUnavailableError:
        return
    for image in images:
        assert all(isinstance(tag, str) for tag in (*image.tags, *image.digests))


# --- the daemon's HTTP server ---------------------------------------------------------------


@pytest.mark.parametrize("length", ["many", "-1", pytest.param("1" * 5000, id="5000-digits")])
def test_a_bad_content_length_is_answered_400(length: str) -> None:
    # The handler fails before it reaches the daemon: it needs none.
    server = ApiServer(None, "127.0.0.1", 0)  # type: ignore[arg-type]
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            conn.sendall(f"GET /healthz HTTP/1.1\r\nContent-Length: {length}\r\n\r\n".encode())
            status_line = conn.makefile("rb").readline()
    finally:
        server.stop()
    assert status_line.split()[1:2] == [b"400"], status_line


def test_a_pod_whose_phase_is_no_string_keeps_its_host_ports(
    fake_kube: FakeKube, kube: Kube
) -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"ports": [{"hostPort": 5432, "containerPort": 5432}]}]},
        "status": {"phase": ["Succeeded"]},
    }
    answer(fake_kube, listing(pod))
    assert [holder.port for holder in read_host_ports(kube, "n1")] == [5432]
