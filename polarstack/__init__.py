"""polarstack: the PolarDB Stack node agent, as a library.

The public API is what this module exports (``__all__``, listed once, in ``__init__.pyi``);
every submodule is internal and may change. One function per job, each returning a frozen
result whose ``to_dict()`` is the JSON the command line prints:

==================  ======================================  ==================
job                 scan / plan (reads only)                 run (and publish)
==================  ======================================  ==================
ports               :func:`scan_ports`                       :func:`run_ports`
versions            :func:`scan_versions`                    :func:`run_versions`
logs                :func:`plan_clean`, then :func:`clean`   :func:`run_logs`
net                 :func:`probe_network`                    :class:`NetJob`
==================  ======================================  ==================

Publishing goes through a :class:`Publisher`: :class:`KubePublisher` (after
:func:`connect`) or :class:`LocalPublisher`. Nothing here imports the Kubernetes client,
click or rich; :func:`connect` imports the client when called.

Example:
    >>> import polarstack
    >>> scan = polarstack.scan_ports(polarstack.parse_ranges("5400-5800"))
    >>> sorted(scan.to_dict())[:3]
    ['bind_verified', 'method', 'ranges']
"""

import os
from typing import Any

_STUB = os.path.join(os.path.dirname(__file__), "__init__.pyi")


def _read_exports() -> dict[str, str]:
    """The public names and their modules, from the stub's ``from M import N as N`` lines.

    The stub is the one list of the public face: type checkers read it, and this reads
    it on first use, so ``import polarstack`` itself costs almost nothing and a script
    pays only for the jobs it uses.
    """
    exports = {}
    with open(_STUB, encoding="utf-8") as stub:
        for line in stub:
            if line.startswith("from "):
                module, _import, _name, _as, alias = line.split()[1:6]
                exports[alias] = module
    return exports


_EXPORTS = _read_exports()
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'polarstack' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return __all__
