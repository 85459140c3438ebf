"""The connection to the API server: the only module that imports ``kubernetes``.

The official client takes about 0.3 s to import, so it is imported here, on first connect,
and nowhere else (an import-linter contract holds every other module to that). Calls go
through :meth:`Kube.call`, which adds the timeout, retries answers that say "try again", and
turns the client's exceptions into polarstack's, naming the verb, resource and namespace.
Bodies travel as plain JSON dicts: what the API server says is what the caller reads.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from polarstack.errors import (
    ClusterError,
    ClusterForbiddenError,
    ClusterUnreachableError,
    ConfigurationError,
)
from polarstack.kube.answers import mapping, shown
from polarstack.settings import ClusterSettings

Object = dict[str, Any]

_WRITE_VERBS = frozenset({"create", "update", "patch", "delete"})
_SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class ObjectNotFoundError(ClusterError):
    """The object asked for does not exist (404)."""


class ObjectConflictError(ClusterError):
    """A write lost a race: the object changed since it was read (409 Conflict)."""


class AlreadyExistsError(ObjectConflictError):
    """A create found the object already there (409 AlreadyExists)."""


class ResourceExpiredError(ClusterError):
    """A watch asked for changes older than the server keeps (410 Gone): list again."""


@dataclass(frozen=True)
class ClusterTarget:
    """Which cluster to talk to, as the user chose it."""

    kubeconfig: str | None = None
    """Kubeconfig path(s), ``:``-separated; default ``$KUBECONFIG``, then ``~/.kube/config``."""
    context: str | None = None

    def explicit(self) -> bool:
        """Whether the user named a kubeconfig or a context."""
        return bool(self.kubeconfig or self.context)


def in_cluster(environ: Mapping[str, str]) -> bool:
    """Whether this process runs in a pod with a service account."""
    return bool(environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(_SERVICE_ACCOUNT_TOKEN)


def cluster_configured(target: ClusterTarget, environ: Mapping[str, str]) -> bool:
    """Whether a cluster was chosen (flags) or is at hand (in a pod): jobs then consult it."""
    return target.explicit() or in_cluster(environ)


def connect(
    target: ClusterTarget = ClusterTarget(),
    *,
    environ: Mapping[str, str] | None = None,
    settings: ClusterSettings = ClusterSettings(),  # noqa: B008
    sleep: Callable[[float], None] = time.sleep,
) -> Kube:
    """Build a client: in-cluster config in a pod, else the kubeconfig (and context).

    Raises:
        ConfigurationError: no in-cluster service account and no readable kubeconfig.
    """
    environ = os.environ if environ is None else environ
    from kubernetes import client, config

    configuration = client.Configuration()
    if not target.explicit() and in_cluster(environ):
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        paths = target.kubeconfig or environ.get("KUBECONFIG") or "~/.kube/config"
        expanded = [os.path.expanduser(p) for p in paths.split(os.pathsep) if p]
        if not any(Path(p).is_file() for p in expanded):
            raise ConfigurationError(
                f"no cluster to talk to: not in a pod, and no kubeconfig at {paths}"
                " (give --kubeconfig)"
            )
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.pathsep.join(expanded),
                context=target.context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (config.ConfigException, ValueError, OSError) as exc:
            raise ConfigurationError(f"kubeconfig {paths}: {exc}") from exc
    # Connection errors: one quick retry; answers that say "try again" are retried by call().
    configuration.retries = 1
    return Kube(client.ApiClient(configuration), settings=settings, sleep=sleep)


_HTTP_METHODS = {
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
}


def resource_path(
    resource: str, namespace: str | None, name: str | None, subresource: str | None
) -> str:
    """The core/v1 REST path of a resource, an object, or an object's subresource.

    Example:
        >>> resource_path("configmaps", "kube-system", "x", None)
        '/api/v1/namespaces/kube-system/configmaps/x'
        >>> resource_path("nodes", None, "n1", "status")
        '/api/v1/nodes/n1/status'
    """
    path = "/api/v1"
    if namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{resource}"
    if name:
        path += f"/{quote(name, safe='')}"
    if subresource:
        path += f"/{subresource}"
    return path


class Kube:
    """Calls to the API server, with a timeout on each, bounded retries, and our errors.

    Requests go through the official client's ``ApiClient`` (configuration, authentication,
    TLS, connection pool) by REST path; the generated ``CoreV1Api`` class is not used: it
    alone adds about 20 MiB to the process for the dozen calls polarstack makes.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        settings: ClusterSettings = ClusterSettings(),  # noqa: B008
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_client = api_client
        self.settings = settings
        self.namespace = settings.namespace
        self._sleep = sleep
        self.on_write: Callable[[str], None] | None = None
        """Called with the resource after each successful write (the daemon counts them)."""

    @property
    def host(self) -> str:
        """The API server's address."""
        return str(getattr(self.api_client.configuration, "host", "the API server"))

    def _unreachable(self, where: str, exc: BaseException) -> ClusterUnreachableError:
        return ClusterUnreachableError(
            f"cannot reach the Kubernetes API server at {self.host} to {where}: {_reason(exc)}"
        )

    def _send(
        self,
        verb: str,
        path: str,
        *,
        query: Mapping[str, Any] | None,
        body: Any,
        content_type: str | None,
        timeout: Any,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        request = self.api_client.param_serialize(
            method=_HTTP_METHODS[verb],
            resource_path=path,
            query_params=params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.api_client.call_api(*request, _request_timeout=timeout)

    def call(
        self,
        verb: str,
        resource: str,
        namespace: str | None = None,
        name: str | None = None,
        *,
        subresource: str | None = None,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        content_type: str | None = None,
    ) -> Object:
        """Make one API call and return the answer as a dict.

        ``verb`` is RBAC's (get, list, create, update, patch, delete); with ``resource``,
        ``namespace`` and ``subresource`` it names the call in error messages, as RBAC would.

        Raises:
            ObjectNotFoundError, ObjectConflictError, AlreadyExistsError: as the server answered.
            ClusterForbiddenError: 401 or 403.
            ClusterUnreachableError: no answer (refused, reset, timed out).
            ClusterError: any other failure, after the retries.
        """
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        where = _describe(verb, f"{resource}/{subresource}" if subresource else resource, namespace)
        path = resource_path(resource, namespace, name, subresource)
        delay = self.settings.retry_delay
        for attempt in range(self.settings.server_error_retries + 1):
            try:
                response = self._send(
                    verb, path, query=query, body=body, content_type=content_type,
                    timeout=self.settings.request_timeout,
                )  # fmt: skip
                data = response.read()
                if not 200 <= response.status <= 299:
                    raise ApiException.from_response(http_resp=response, body=None, data=None)
                if self.on_write is not None and verb in _WRITE_VERBS:
                    self.on_write(resource)
                return _object(data, where)
            except ApiException as exc:
                status = int(exc.status or 0)
                retry = status == 429 or status >= 500
                if retry and attempt < self.settings.server_error_retries:
                    self._sleep(delay)
                    delay *= 2
                    continue
                raise _translate(exc, status, where) from None
            except (HTTPError, OSError) as exc:
                raise self._unreachable(where, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def watch(
        self,
        resource: str,
        namespace: str | None,
        *,
        resource_version: str,
        timeout_seconds: int,
        query: Mapping[str, Any] | None = None,
    ) -> Iterator[tuple[str, Object]]:
        """Yield (event type, object) for changes after ``resource_version``.

        Ends when the server closes the watch (after ``timeout_seconds``).

        Raises:
            ResourceExpiredError: ``resource_version`` is too old (410): list again.
            ClusterError and subclasses: as for :meth:`call`.
        """
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        where = _describe("watch", resource, namespace)
        params = {
            **(query or {}),
            "watch": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
            "allowWatchBookmarks": "false",
        }
        try:
            response = self._send(
                "watch", resource_path(resource, namespace, None, None), query=params,
                body=None, content_type=None,
                # The read may wait the whole watch: allow for it, plus the request timeout.
                timeout=(self.settings.request_timeout,
                         timeout_seconds + self.settings.request_timeout),
            )  # fmt: skip
            if not 200 <= response.status <= 299:
                response.read()
                raise ApiException.from_response(http_resp=response, body=None, data=None)
            for line in _lines(response.response):
                kind, obj = _event(line, where)
                if kind == "ERROR":
                    code = obj.get("code")
                    status = code if isinstance(code, int) else 0  # 0: no status, a ClusterError
                    error = ApiException(status=status, reason=str(obj.get("reason", "")))
                    error.body = json.dumps(obj)
                    raise error
                yield kind, obj
        except ApiException as exc:
            raise _translate(exc, int(exc.status or 0), where) from None
        except (HTTPError, OSError) as exc:
            raise self._unreachable(where, exc) from None


def _object(data: bytes, where: str) -> Object:
    """The JSON object the server answered; anything else (HTML from a proxy, a list) fails.

    Raises:
        ClusterError: the answer is not a JSON object.
    """
    if not data:
        return {}
    try:
        answer = json.loads(data)
    except ValueError:
        shown = data[:60].decode("utf-8", "replace")
        raise ClusterError(f"the answer to {where} is not JSON: {shown!r}") from None
    if not isinstance(answer, dict):
        raise ClusterError(f"the answer to {where} is not a JSON object")
    return answer


def _event(line: bytes, where: str) -> tuple[str, Object]:
    """One line of a watch: its type and object.

    Raises:
        ClusterError: the line is not a JSON object whose ``object`` is one.
    """
    try:
        event = json.loads(line)
    except ValueError as exc:
        raise ClusterError(
            f"the answer to {where} holds a line that is not JSON: {shown(line)}"
        ) from exc
    if not isinstance(event, dict):
        raise ClusterError(
            f"the answer to {where} holds an event that is not a map: {shown(event)}"
        )
    obj = mapping(event.get("object"), f"the object of an event of {where}")
    return str(event.get("type")), dict(obj)


def _describe(verb: str, resource: str, namespace: str | None) -> str:
    """The call as RBAC names it, for messages: ``get configmaps in namespace kube-system``."""
    return f"{verb} {resource}" + (f" in namespace {namespace}" if namespace else "")


def _lines(raw: Any) -> Iterator[bytes]:
    """The lines of a streamed answer, as they arrive."""
    pending = b""
    for chunk in raw.stream(amt=None, decode_content=True):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending


def _message(body: str | None) -> tuple[str, str]:
    """The ``reason`` and ``message`` of a Status body, when it is one."""
    try:
        status = json.loads(body or "")
    except ValueError:
        return "", (body or "").strip()[:200]
    if not isinstance(status, dict):
        return "", ""
    return str(status.get("reason") or ""), str(status.get("message") or "")


def _translate(exc: Any, status: int, where: str) -> ClusterError:
    reason, message = _message(exc.body)
    detail = message or exc.reason or "no message"
    if status in (401, 403):
        return ClusterForbiddenError(
            f"the API server refused to {where} ({status} {exc.reason}): {detail}"
        )
    if status == 404:
        return ObjectNotFoundError(f"{where}: not found: {detail}")
    if status == 410:
        return ResourceExpiredError(f"{where}: {detail}")
    if status == 409:
        kind = AlreadyExistsError if reason == "AlreadyExists" else ObjectConflictError
        return kind(f"{where}: {detail}")
    return ClusterError(f"the API server failed to {where} ({status} {exc.reason}): {detail}")


def _reason(exc: BaseException) -> str:
    # urllib3 wraps the cause (refused, reset, timeout) in MaxRetryError; show the cause.
    cause = getattr(exc, "reason", None) or exc
    return str(cause).split(": ", 1)[-1] if "object at 0x" in str(cause) else str(cause)
