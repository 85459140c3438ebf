"""The only code that talks to the Kubernetes API server.

``client`` holds the connection (and is the only module that imports ``kubernetes``);
``readers`` and ``watches`` read the platform's objects; ``configmaps``, ``nodes`` and
``events`` write polarstack's. Everything here takes a :class:`~polarstack.kube.client.Kube`
and returns plain values or the library's own types.
"""
