"""Publishing a ConfigMap: write only on change, and survive races with other writers."""

from __future__ import annotations

from polarstack.errors import ClusterError
from polarstack.kube.answers import mapping
from polarstack.kube.client import (
    AlreadyExistsError,
    Kube,
    ObjectConflictError,
)
from polarstack.kube.readers import read_config_map
from polarstack.model import ConfigMapDoc, Outcome


def publish_config_map(kube: Kube, doc: ConfigMapDoc) -> Outcome:
    """Create ``doc`` when missing, replace it when its content differs, else write nothing.

    A create that finds the ConfigMap already made (another writer won) and a replace that
    loses a race (409 Conflict) re-read and decide again, at most
    ``settings.conflict_retries`` times. Labels and annotations others put on the ConfigMap
    are kept.

    Raises:
        ClusterError: the API server failed, or the races did not stop.
    """
    namespace = kube.namespace
    for _attempt in range(kube.settings.conflict_retries + 1):
        current = read_config_map(kube, doc.name)
        if current is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": doc.name,
                    "namespace": namespace,
                    "annotations": dict(doc.annotations),
                },
                "data": dict(doc.data),
            }
            try:
                kube.call("create", "configmaps", namespace, body=body)
            except AlreadyExistsError:
                continue
            return Outcome.CREATED
        what = f"ConfigMap {namespace}/{doc.name}"
        if not doc.needs_write(mapping(current.get("data"), f"the data of {what}")):
            return Outcome.UNCHANGED
        metadata = current["metadata"] = mapping(current.get("metadata"), f"the metadata of {what}")
        annotations = mapping(metadata.get("annotations"), f"the annotations of {what}")
        metadata["annotations"] = {**annotations, **doc.annotations}
        current["data"] = dict(doc.data)
        try:
            # The body carries the resourceVersion read above: a write in between is a 409.
            kube.call("update", "configmaps", namespace, doc.name, body=current)
        except ObjectConflictError:
            continue
        return Outcome.UPDATED
    raise ClusterError(
        f"gave up writing ConfigMap {namespace}/{doc.name}: it changed under us "
        f"{kube.settings.conflict_retries + 1} times in a row"
    )
