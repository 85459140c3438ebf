"""A fake Kubernetes API server that the tests own (see :mod:`tests.fakekube.server`)."""

from tests.fakekube.server import TOKEN, FakeKube, Faults, Request

__all__ = ["TOKEN", "FakeKube", "Faults", "Request"]
