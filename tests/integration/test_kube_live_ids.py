"""The live set is the whole live set: listed page by page, and never taken from a bad answer.

A live set smaller than the truth makes the orphan rule delete a live instance's folder, so
every answer that is not a complete pod list makes the set unknown (the rule is skipped) and
the command's exit status 4.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polarstack.errors import ClusterError
from polarstack.kube.client import Kube
from polarstack.kube.readers import PAGE_SIZE, read_live_ids
from tests.conftest import CliRunner
from tests.fakekube import FakeKube
from tests.logtree import make

LABEL = "apsara.metric.ins_id"


def live_pod(number: int) -> dict[str, object]:
    return {
        "metadata": {
            "name": f"db-{number:04d}",
            "namespace": "db",
            "labels": {LABEL: f"ins-{number}"},
        },
        "spec": {"nodeName": "n1", "containers": []},
    }


def test_pods_are_listed_page_by_page_to_the_end(fake_kube: FakeKube, kube: Kube):
    count = 2 * PAGE_SIZE + 7
    for number in range(count):
        fake_kube.put("pods", live_pod(number))
    live = read_live_ids(kube)
    assert live.ids == {f"ins-{n}" for n in range(count)}
    lists = [r for r in fake_kube.requests if r.verb == "list" and r.resource == "pods"]
    assert [r.query.get("continue") for r in lists] == [None, str(PAGE_SIZE), str(2 * PAGE_SIZE)]
    assert all(r.query["limit"] == str(PAGE_SIZE) for r in lists)


BAD_ANSWERS = {
    "html": (200, "text/html", b"<html><body>502 Bad Gateway</body></html>"),
    "a list": (200, "application/json", b"[]"),
    "no items": (200, "application/json", b'{"kind": "PodList", "metadata": {}}'),
    "items not a list": (200, "application/json", b'{"metadata": {}, "items": {}}'),
    "objects without metadata": (
        200,
        "application/json",
        json.dumps({"metadata": {}, "items": [{"spec": {}}, {"metadata": None}]}).encode(),
    ),
    "labels not a map": (
        200,
        "application/json",
        json.dumps({"metadata": {}, "items": [{"metadata": {"labels": ["x"]}}]}).encode(),
    ),
    "an error status in HTML": (500, "text/html", b"<html>oops</html>"),
}


@pytest.mark.parametrize("answer", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_an_answer_that_is_not_a_pod_list_is_an_error(
    fake_kube: FakeKube, kube: Kube, answer: tuple[int, str, bytes]
):
    fake_kube.put("pods", live_pod(1))
    fake_kube.faults.answer_next = [answer] * 4  # retries of a 500 meet the same answer
    with pytest.raises(ClusterError):
        read_live_ids(kube)


def test_a_failure_on_a_later_page_fails_the_whole_listing(fake_kube: FakeKube, kube: Kube):
    for number in range(PAGE_SIZE + 1):
        fake_kube.put("pods", live_pod(number))
    # The first page is served; the second finds its continue token expired.
    original = fake_kube.handle

    def expire_second_page(request):
        if request.query.get("continue"):
            request.query["continue"] = str(10 * PAGE_SIZE)
        return original(request)

    fake_kube.handle = expire_second_page  # type: ignore[method-assign]
    with pytest.raises(ClusterError, match="continue parameter is too old"):
        read_live_ids(kube)


@pytest.mark.parametrize("answer", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_logs_clean_runs_the_other_rules_then_exits_4(
    cli: CliRunner,
    fake_kube: FakeKube,
    kubeconfig: Path,
    tmp_path: Path,
    answer: tuple[int, str, bytes],
):
    root = tmp_path / "logs"
    make(root / "ins-1" / "data", days=10)
    make(root / "ins-1" / "postgresql-1.log", days=10)
    fake_kube.put("pods", live_pod(1))
    fake_kube.faults.answer_next = [answer] * 4
    result = cli(
        ["logs", "clean", "--root", str(root), "--kubeconfig", str(kubeconfig),
         "--node-name", "n1", "-o", "json"]
    )  # fmt: skip
    assert result.status == 4, result.stderr
    report = json.loads(result.stdout)
    assert report["live_ids_source"] == "unknown"
    assert report["skipped_rules"][0]["rule"] == "orphan"
    assert (root / "ins-1" / "data").exists()  # the folder of a live instance stays
    assert not (root / "ins-1" / "postgresql-1.log").exists()  # the other rules ran
    assert result.stderr.strip().splitlines()[-1].startswith("error: live instances not read")


def test_a_server_that_never_ends_its_list_is_an_error(fake_kube: FakeKube, kube: Kube):
    endless = json.dumps({"metadata": {"continue": "again"}, "items": [live_pod(1)]}).encode()
    fake_kube.faults.answer_next = [(200, "application/json", endless)] * 3
    with pytest.raises(ClusterError, match="repeat a continue token"):
        read_live_ids(kube)


def test_a_listing_longer_than_the_page_bound_is_an_error(
    fake_kube: FakeKube, kube: Kube, monkeypatch
):
    from polarstack.kube import readers

    monkeypatch.setattr(readers, "PAGE_SIZE", 1)
    monkeypatch.setattr(readers, "MAX_PAGES", 3)
    for number in range(3):
        fake_kube.put("pods", live_pod(number))
    assert read_live_ids(kube).ids == {"ins-0", "ins-1", "ins-2"}  # three pages: the bound
    fake_kube.put("pods", live_pod(3))
    with pytest.raises(ClusterError, match="still more after 3 pages"):
        read_live_ids(kube)


LYING_PODS = {
    "a label that is a number": {"apsara.metric.ins_id": 2},
    "a label that is a map": {"apsara.metric.ins_id": {"x": "y"}},
    "no labels": None,
    "other labels only": {"app": "db"},
}


@pytest.mark.parametrize("labels", LYING_PODS.values(), ids=LYING_PODS.keys())
def test_a_pod_that_cannot_be_read_fails_the_live_set(fake_kube: FakeKube, kube: Kube, labels):
    pods = [live_pod(1)["metadata"], {"name": "db-2", "namespace": "db", "labels": labels}]
    page = {"metadata": {}, "items": [{"metadata": meta} for meta in pods]}
    fake_kube.faults.answer_next = [(200, "application/json", json.dumps(page).encode())]
    with pytest.raises(ClusterError, match=r"'db-2' without a apsara\.metric\.ins_id label"):
        read_live_ids(kube)


def test_a_page_that_says_more_follow_without_a_token_fails(fake_kube: FakeKube, kube: Kube):
    page = {"metadata": {"remainingItemCount": 1}, "items": [live_pod(1)]}
    fake_kube.faults.answer_next = [(200, "application/json", json.dumps(page).encode())]
    with pytest.raises(ClusterError, match="more follow"):
        read_live_ids(kube)
