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

from polarstack.errors import (
    ClusterError,
    ClusterForbiddenError,
    ClusterUnreachableError,
    ConfigurationError,
)
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
    return Kube(client.CoreV1Api(client.ApiClient(configuration)), settings=settings, sleep=sleep)


class Kube:
    """CoreV1Api calls with a timeout on each, bounded retries, and polarstack's errors."""

    def __init__(
        self,
        api: Any,
        *,
        settings: ClusterSettings = ClusterSettings(),  # noqa: B008
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.settings = settings
        self.namespace = settings.namespace
        self._sleep = sleep
        self.on_write: Callable[[str], None] | None = None
        """Called with the resource after each successful write (the daemon counts them)."""

    def call(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        method: str,
        /,
        **kwargs: Any,
    ) -> Object:
        """Call ``CoreV1Api.<method>(**kwargs)`` and return the answer as a dict.

        ``verb``, ``resource`` and ``namespace`` name the call in error messages, as RBAC would.

        Raises:
            ObjectNotFoundError, ObjectConflictError, AlreadyExistsError: as the server answered.
            ClusterForbiddenError: 401 or 403.
            ClusterUnreachableError: no answer (refused, reset, timed out).
            ClusterError: any other failure, after the retries.
        """
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        where = f"{verb} {resource}" + (f" in namespace {namespace}" if namespace else "")
        delay = self.settings.retry_delay
        for attempt in range(self.settings.server_error_retries + 1):
            try:
                response = getattr(self.api, method)(
                    **kwargs,
                    _preload_content=False,
                    _request_timeout=self.settings.request_timeout,
                )
                data = response.data
                if self.on_write is not None and verb in _WRITE_VERBS:
                    self.on_write(resource)
                return json.loads(data) if data else {}
            except ApiException as exc:
                status = int(exc.status or 0)
                retry = status == 429 or status >= 500
                if retry and attempt < self.settings.server_error_retries:
                    self._sleep(delay)
                    delay *= 2
                    continue
                raise _translate(exc, status, where) from None
            except (HTTPError, OSError) as exc:
                host = getattr(self.api.api_client.configuration, "host", "the API server")
                raise ClusterUnreachableError(
                    f"cannot reach the Kubernetes API server at {host} to {where}: {_reason(exc)}"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def watch(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        method: str,
        /,
        *,
        resource_version: str,
        timeout_seconds: int,
        **kwargs: Any,
    ) -> Iterator[tuple[str, Object]]:
        """Yield (event type, object) for changes after ``resource_version``.

        Ends when the server closes the watch (after ``timeout_seconds``).

        Raises:
            ResourceExpiredError: ``resource_version`` is too old (410): list again.
            ClusterError and subclasses: as for :meth:`call`.
        """
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        where = f"{verb} {resource}" + (f" in namespace {namespace}" if namespace else "")
        watcher = watch.Watch()  # type: ignore[no-untyped-call]
        try:
            for event in watcher.stream(  # type: ignore[no-untyped-call]
                getattr(self.api, method),
                resource_version=resource_version,
                timeout_seconds=timeout_seconds,
                # The read may wait the whole watch: allow for it, plus the request timeout.
                _request_timeout=timeout_seconds + self.settings.request_timeout,
                **kwargs,
            ):
                yield str(event["type"]), dict(event["raw_object"])
        except ApiException as exc:
            raise _translate(exc, int(exc.status or 0), where) from None
        except (HTTPError, OSError) as exc:
            raise ClusterUnreachableError(
                f"cannot reach the Kubernetes API server to {where}: {_reason(exc)}"
            ) from None
        finally:
            watcher.stop()  # type: ignore[no-untyped-call]


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
