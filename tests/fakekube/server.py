"""A fake Kubernetes API server: real HTTP on 127.0.0.1, for the official client.

It serves the core/v1 resources polarstack uses (configmaps, pods, nodes with their ``status``
subresource, events) the way the real API server does where polarstack can tell the
difference: bearer-token authentication, ``Status`` error bodies, resourceVersion on every
write with 409 on a stale one, AlreadyExists on create, label and field selectors, merge and
strategic-merge patches (node conditions merged by ``type``), and watches.

Tests inject faults (a fraction of 5xx answers, latency, a full outage, 403 for chosen verbs
and resources, other writers racing ours) and read the request log to count writes.
"""

from __future__ import annotations

import copy
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "polarstack-test-token"
USER = "system:serviceaccount:kube-system:polarstack"

NAMESPACED = {"configmaps": "ConfigMap", "pods": "Pod", "events": "Event"}
CLUSTER_SCOPED = {"nodes": "Node"}
KINDS = {**NAMESPACED, **CLUSTER_SCOPED}
WRITE_VERBS = frozenset({"create", "update", "patch", "delete"})

# Lists inside objects that a strategic merge patch merges by a key instead of replacing.
MERGE_KEYS = {"conditions": "type", "addresses": "type", "containers": "name", "ports": None}

_PATH = re.compile(
    r"^/api/v1/(?:namespaces/(?P<namespace>[^/]+)/)?(?P<resource>[a-z]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<subresource>status))?$"
)

Object = dict[str, Any]


@dataclass
class Request:
    """One request as the fake server saw it."""

    method: str
    path: str
    query: dict[str, str]
    verb: str
    resource: str
    namespace: str | None
    name: str | None
    subresource: str | None
    content_type: str
    body: Any
    status: int = 0

    @property
    def is_write(self) -> bool:
        """Whether this request asked to change something (whatever the answer)."""
        return self.verb in WRITE_VERBS


@dataclass
class Faults:
    """What goes wrong, set by tests while the server runs."""

    error_rate: float = 0.0
    """Fraction of requests answered with 500 or 503."""
    latency: float = 0.0
    """Seconds added before every answer."""
    outage: bool = False
    """Drop every connection without an answer, as an unreachable server would."""
    forbidden: set[tuple[str, str, str | None]] = field(default_factory=set)
    """(verb, resource, namespace or None for any) answered 403."""
    fail_next: list[int] = field(default_factory=list)
    """Statuses to answer the next requests with, one each (then normal service)."""
    answer_next: list[tuple[int, str, bytes]] = field(default_factory=list)
    """Raw answers (status, content type, body) to the next requests, one each: what a
    proxy in front of the API server, or a broken server, may send."""
    seed: int = 1

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def injected_error(self) -> int:
        """The 5xx status to answer this request with, or 0 to serve it."""
        if self.fail_next:
            return self.fail_next.pop(0)
        if self.error_rate and self.rng.random() < self.error_rate:
            return self.rng.choice([500, 503])
        return 0

    def forbid(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Answer 403 to ``verb`` on ``resource`` (in ``namespace``, or in any)."""
        self.forbidden.add((verb, resource, namespace))

    def is_forbidden(self, verb: str, resource: str, namespace: str | None) -> bool:
        """Whether the request is one of the forbidden ones."""
        return (verb, resource, namespace) in self.forbidden or (
            verb,
            resource,
            None,
        ) in self.forbidden


class ApiError(Exception):
    """An answer other than success, with the body the real server gives."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details or {},
            "code": code,
        }


class FakeKube:
    """The fake server: objects, a request log and faults. Use as a context manager."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str, str], Object] = {}
        self._history: list[tuple[int, str, str, Object]] = []
        self._changed = threading.Condition()
        self._rv = 100
        self._interference: list[Callable[[], None]] = []
        self.faults = Faults()
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeKube:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    _closing = False

    @property
    def url(self) -> str:
        """Base URL of the server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def write_kubeconfig(self, path: Path, *, context: str = "fake", token: str = TOKEN) -> Path:
        """Write a kubeconfig that points the official client at this server."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        }
        path.write_text(json.dumps(config))
        return path

    # --- objects, for tests ------------------------------------------------------------------

    def put(self, resource: str, obj: Object) -> Object:
        """Store ``obj`` as if another client had written it (create or replace)."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        namespace = meta.get("namespace", "") if resource in NAMESPACED else ""
        if resource in NAMESPACED:
            meta.setdefault("namespace", namespace or "default")
            namespace = meta["namespace"]
        with self._changed:
            key = (resource, namespace, meta["name"])
            kind = "MODIFIED" if key in self._objects else "ADDED"
            return self._store(key, obj, kind)

    def get(self, resource: str, name: str, namespace: str = "") -> Object | None:
        """The stored object, or None."""
        with self._changed:
            obj = self._objects.get((resource, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def delete(self, resource: str, name: str, namespace: str = "") -> None:
        """Delete as another client would."""
        with self._changed:
            obj = self._objects.pop((resource, namespace, name))
            self._record("DELETED", resource, obj)

    def before_next_writes(self, action: Callable[[], None], times: int = 1) -> None:
        """Run ``action`` (another client's write, say) just before each of the next writes.

        Another client's write between polarstack's read and its write is a real race: the
        resourceVersion moves on, so a replace based on the earlier read gets 409 Conflict, and
        a create finds the object already there.
        """
        with self._changed:
            self._interference.extend([action] * times)

    def enforce_rbac(self, documents: list[Object]) -> None:
        """Allow only what these Roles and ClusterRoles allow; answer 403 to the rest.

        Roles grant in their namespace, ClusterRoles everywhere (as if each were bound to
        the caller): the rules of ``k8s/rbac.yaml`` become the server's whole policy.
        """
        rules = []
        for document in documents:
            if document.get("kind") not in ("Role", "ClusterRole"):
                continue
            namespace = (
                document["metadata"].get("namespace") if document["kind"] == "Role" else None
            )
            for rule in document.get("rules", []):
                if "" in rule.get("apiGroups", []):
                    rules.append((namespace, set(rule["resources"]), set(rule["verbs"])))
        with self._changed:
            self._rbac = rules

    _rbac: list[tuple[str | None, set[str], set[str]]] | None = None

    def rbac_allows(self, verb: str, resource: str, namespace: str | None) -> bool:
        """Whether the enforced rules (if any) allow the call."""
        if self._rbac is None:
            return True
        return any(
            (scope is None or scope == namespace)
            and (resource in resources or "*" in resources)
            and (verb in verbs or "*" in verbs)
            for scope, resources, verbs in self._rbac
        )

    def compact(self) -> None:
        """Forget the change history, as etcd compaction does: older watches get 410 Gone."""
        with self._changed:
            self._compacted = self._rv
            self._history.clear()

    _compacted = 0

    def writes(self, resource: str | None = None) -> list[Request]:
        """Requests that asked to change something, optionally of one resource."""
        return [r for r in self.requests if r.is_write and resource in (None, r.resource)]

    # --- internals ---------------------------------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _store(self, key: tuple[str, str, str], obj: Object, kind: str) -> Object:
        resource = key[0]
        meta = obj.setdefault("metadata", {})
        old = self._objects.get(key)
        meta["uid"] = old["metadata"]["uid"] if old else f"uid-{resource}-{key[1]}-{key[2]}"
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        meta["resourceVersion"] = self._next_rv()
        obj["kind"] = KINDS[resource]
        obj["apiVersion"] = "v1"
        self._objects[key] = obj
        self._record(kind, resource, obj)
        return copy.deepcopy(obj)

    def _record(self, kind: str, resource: str, obj: Object) -> None:
        if kind == "DELETED":  # a delete is a change too: it gets a resourceVersion of its own
            obj["metadata"]["resourceVersion"] = self._next_rv()
        rv = int(obj["metadata"]["resourceVersion"])
        self._history.append((rv, kind, resource, copy.deepcopy(obj)))
        self._changed.notify_all()

    def handle(self, request: Request) -> tuple[int, Any]:
        """Answer one request: (status, JSON body). Runs under the store's lock."""
        resource, namespace, name = request.resource, request.namespace, request.name
        ns = (namespace or "") if resource in NAMESPACED else ""
        full = f"{resource}/{request.subresource}" if request.subresource else resource
        if self.faults.is_forbidden(request.verb, resource, namespace) or not self.rbac_allows(
            request.verb, full, namespace
        ):
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            target = f'{resource} "{name}"' if name else resource
            raise ApiError(
                403,
                "Forbidden",
                f'{target} is forbidden: User "{USER}" cannot {request.verb} resource '
                f'"{resource}{"/" + request.subresource if request.subresource else ""}" '
                f'in API group ""{where}',
                {"name": name or "", "kind": resource},
            )
        # As the real server, authorization comes first: a refused caller learns nothing.
        if resource not in KINDS:
            raise ApiError(404, "NotFound", f"the server could not find resource {resource}")
        with self._changed:
            if request.verb in ("list", "get"):
                return 200, self._read(request, resource, ns, name)
            if self._interference:
                self._interference.pop(0)()
            if request.verb == "create":
                return 201, self._create(request, resource, ns)
            key = (resource, ns, name or "")
            if key not in self._objects:
                raise _not_found(resource, name)
            if request.verb == "delete":
                obj = self._objects.pop(key)
                self._record("DELETED", resource, obj)
                return 200, obj
            current = self._objects[key]
            if request.verb == "update":
                body = request.body
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "body must be an object")
                if request.subresource == "status":
                    body = {**copy.deepcopy(current), "status": body.get("status", {})}
                    body["metadata"]["resourceVersion"] = request.body.get("metadata", {}).get(
                        "resourceVersion"
                    )
            else:
                body = self._patched(request, current)
            sent_rv = body.get("metadata", {}).get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    {"name": name, "kind": resource},
                )
            return 200, self._store(key, body, "MODIFIED")

    def _read(self, request: Request, resource: str, ns: str, name: str | None) -> Any:
        if name:
            obj = self._objects.get((resource, ns, name))
            if obj is None:
                raise _not_found(resource, name)
            return copy.deepcopy(obj)
        items = self._select(request, resource, self._objects.values())
        metadata = {"resourceVersion": str(self._rv)}
        limit = int(request.query.get("limit") or 0)
        if limit:
            # As the real server: pages in key order, an opaque token for the rest.
            items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            start = int(request.query.get("continue") or 0)
            if start > len(items):
                raise ApiError(410, "Expired", "the provided continue parameter is too old")
            if start + limit < len(items):
                metadata["continue"] = str(start + limit)
                metadata["remainingItemCount"] = len(items) - start - limit  # type: ignore[assignment]
            items = items[start : start + limit]
        return {
            "kind": f"{KINDS[resource]}List",
            "apiVersion": "v1",
            "metadata": metadata,
            "items": items,
        }

    def _select(self, request: Request, resource: str, objects: Any) -> list[Object]:
        labels = parse_label_selector(request.query.get("labelSelector", ""))
        fields = parse_field_selector(request.query.get("fieldSelector", ""))
        namespace = request.namespace
        return [
            copy.deepcopy(obj)
            for obj in objects
            if obj["kind"] == KINDS[resource]
            and (namespace is None or obj["metadata"].get("namespace") == namespace)
            and labels(obj["metadata"].get("labels") or {})
            and fields(obj)
        ]

    def _create(self, request: Request, resource: str, ns: str) -> Object:
        body = request.body
        if not isinstance(body, dict) or not body.get("metadata", {}).get("name"):
            raise ApiError(422, "Invalid", f"{resource}: metadata.name: Required value")
        body = copy.deepcopy(body)
        if resource in NAMESPACED:
            body["metadata"]["namespace"] = ns
        key = (resource, ns, body["metadata"]["name"])
        if key in self._objects:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{resource} "{key[2]}" already exists',
                {"name": key[2], "kind": resource},
            )
        body["metadata"].pop("resourceVersion", None)
        return self._store(key, body, "ADDED")

    def _patched(self, request: Request, current: Object) -> Object:
        patch = request.body
        if not isinstance(patch, dict):
            raise ApiError(415, "UnsupportedMediaType", "only object patches are served")
        kind = request.content_type.split(";")[0].strip()
        if kind == "application/merge-patch+json":
            merged = merge_patch(current, patch)
        elif kind == "application/strategic-merge-patch+json":
            merged = strategic_merge(current, patch)
        else:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an "
                f"unknown format - accepted media types include: "
                f"application/merge-patch+json, "
                f"application/strategic-merge-patch+json (got {kind})",
            )
        if request.subresource == "status":
            # The status subresource changes status only, whatever else the patch holds.
            merged = {**copy.deepcopy(current), "status": merged.get("status", {})}
            rv = patch.get("metadata", {}).get("resourceVersion")
            merged["metadata"]["resourceVersion"] = rv
        elif "resourceVersion" not in patch.get("metadata", {}):
            merged["metadata"]["resourceVersion"] = None
        return merged

    def watch(self, request: Request) -> Iterator[Object]:
        """Yield watch events after the request's resourceVersion until its timeout."""
        resource = request.resource
        deadline = time.monotonic() + float(request.query.get("timeoutSeconds", "30"))
        since = request.query.get("resourceVersion")
        with self._changed:
            if since in (None, "", "0"):
                start = self._rv
                current = self._select(request, resource, self._objects.values())
                initial = [{"type": "ADDED", "object": obj} for obj in current]
            else:
                start, initial = int(since), []
                if start < self._compacted:
                    expired = ApiError(
                        410, "Expired", f"too old resource version: {start} ({self._compacted})"
                    )
                    yield {"type": "ERROR", "object": expired.body}
                    return
        yield from initial
        while True:
            with self._changed:
                fresh = [h for h in self._history if h[0] > start and h[2] == resource]
                if not fresh:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closing:
                        return
                    self._changed.wait(min(remaining, 0.5))
                    continue
                start = max(h[0] for h in fresh)
                events = [
                    {"type": kind, "object": copy.deepcopy(obj)}
                    for _rv, kind, _resource, obj in fresh
                    if self._select(request, resource, [obj])
                ]
            yield from events


def _not_found(resource: str, name: str | None) -> ApiError:
    return ApiError(
        404, "NotFound", f'{resource} "{name}" not found', {"name": name or "", "kind": resource}
    )


# --- selectors and patches ---------------------------------------------------------------------

_SET_TERM = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside a set's parentheses."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def _label_term(term: str) -> tuple[str, str, frozenset[str]]:
    match = _SET_TERM.match(term)
    if match:
        values = frozenset(v.strip() for v in match.group(3).split(","))
        return match.group(1), match.group(2), values
    if "!=" in term:
        key, value = (p.strip() for p in term.split("!=", 1))
        return key, "notin", frozenset({value})
    if "=" in term:
        key, value = (p.strip() for p in re.split(r"==?", term, maxsplit=1))
        return key, "in", frozenset({value})
    if term.startswith("!"):
        return term[1:].strip(), "absent", frozenset()
    return term, "exists", frozenset()


def _label_matches(labels: dict[str, str], key: str, op: str, values: frozenset[str]) -> bool:
    if op == "exists":
        return key in labels
    if op == "absent":
        return key not in labels
    # As in Kubernetes, "notin" and "!=" also match objects without the label.
    return (labels.get(key) in values) == (op == "in")


def parse_label_selector(selector: str) -> Callable[[dict[str, str]], bool]:
    """Return a predicate for a label selector (equality- and set-based, as kubectl)."""
    terms = [_label_term(term) for term in _split_terms(selector)]
    return lambda labels: all(_label_matches(labels, *term) for term in terms)


def _field(obj: Object, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _field_term(term: str) -> tuple[str, bool, str]:
    if "!=" in term:
        path, value = term.split("!=", 1)
        return path.strip(), False, value.strip()
    path, value = re.split(r"==?", term, maxsplit=1)
    return path.strip(), True, value.strip()


def parse_field_selector(selector: str) -> Callable[[Object], bool]:
    """Return a predicate for a field selector (``a.b=v``, ``a.b==v``, ``a.b!=v``)."""
    terms = [_field_term(term) for term in _split_terms(selector)]
    return lambda obj: all((_field(obj, p) == v) == equal for p, equal, v in terms)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target: Any, patch: Any, key: str | None = None) -> Any:
    """A strategic merge patch: as a merge patch, but keyed lists merge item by item."""
    if isinstance(patch, list) and key in MERGE_KEYS and MERGE_KEYS[key]:
        merge_key = MERGE_KEYS[key]
        merged = [copy.deepcopy(item) for item in (target or [])]
        for item in patch:
            for index, existing in enumerate(merged):
                if existing.get(merge_key) == item.get(merge_key):
                    merged[index] = strategic_merge(existing, item)
                    break
            else:
                merged.append(copy.deepcopy(item))
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = strategic_merge(result.get(name), value, name)
    return result


# --- HTTP ---------------------------------------------------------------------------------------


def _verb(method: str, name: str | None, query: dict[str, str]) -> str:
    if method == "GET":
        if name:
            return "get"
        return "watch" if query.get("watch") in ("true", "1") else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        method, method.lower()
    )


def _handler_for(fake: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the second waits for the
        # client's delayed ACK, 40 ms a request.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log is fake.requests

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if fake.faults.outage:
                self.close_connection = True
                self.connection.close()  # no answer at all
                return
            if fake.faults.latency:
                time.sleep(fake.faults.latency)
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            match = _PATH.match(split.path)
            parts = match.groupdict() if match else {}
            name = unquote(parts["name"]) if parts.get("name") else None
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            request = Request(
                method=self.command,
                path=split.path,
                query=query,
                verb=_verb(self.command, name, query),
                resource=parts.get("resource") or "",
                namespace=parts.get("namespace"),
                name=name,
                subresource=parts.get("subresource"),
                content_type=self.headers.get("Content-Type", ""),
                body=body,
            )
            fake.requests.append(request)
            try:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                if not match:
                    raise ApiError(
                        404, "NotFound", "the server could not find the requested resource"
                    )
                if fake.faults.answer_next:
                    status, content_type, raw_answer = fake.faults.answer_next.pop(0)
                    request.status = status
                    self._send_raw(status, content_type, raw_answer)
                    return
                code = fake.faults.injected_error()
                if code:
                    raise ApiError(
                        code, HTTPStatus(code).phrase.replace(" ", ""), "injected server error"
                    )
                if request.verb == "watch":
                    request.status = 200
                    self._stream(fake.watch(request))
                    return
                status, answer = fake.handle(request)
            except ApiError as exc:
                status, answer = exc.code, exc.body
            request.status = status
            self._send(status, answer)

        def _send(self, status: int, answer: Any) -> None:
            self._send_raw(status, "application/json", json.dumps(answer).encode())

        def _send_raw(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, events: Iterator[Object]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for event in events:
                    line = json.dumps(event).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler
