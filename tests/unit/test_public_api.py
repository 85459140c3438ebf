"""The public API: what polarstack exports, loads on use, and the shape of its results."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys

import pytest

import polarstack


def test_every_exported_name_resolves_to_its_module() -> None:
    exports = polarstack._EXPORTS
    assert set(exports) == set(polarstack.__all__)
    for name in polarstack.__all__:
        value = getattr(polarstack, name)
        assert value is getattr(importlib.import_module(exports[name]), name), name


def test_import_loads_nothing_until_used() -> None:
    code = (
        "import sys, polarstack\n"
        "print(sorted(m for m in sys.modules if m.startswith('polarstack') or "
        "m.split('.')[0] in ('kubernetes', 'click', 'rich', 'grpc', 'prometheus_client')))\n"
        "polarstack.scan_ports\n"
        "print('kubernetes' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = out.stdout.splitlines()
    assert first == "['polarstack']"
    assert second == "False"


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'scan_everything'"):
        polarstack.scan_everything  # noqa: B018
    assert "scan_ports" in dir(polarstack)


RESULTS = ["PortScan", "PortsRun", "VersionScan", "VersionsRun", "CleanReport", "LogsRun",
           "NetProbe", "PortHolder", "VersionStatus"]  # fmt: skip


@pytest.mark.parametrize("name", RESULTS)
def test_results_are_frozen_with_to_dict(name: str) -> None:
    kind = getattr(polarstack, name)
    assert dataclasses.is_dataclass(kind)
    assert kind.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert callable(kind.to_dict)


@pytest.mark.parametrize(
    "function", ["scan_ports", "scan_versions", "plan_clean", "probe_network", "run_ports",
                 "run_versions", "run_logs", "clean"],
)  # fmt: skip
def test_job_functions_are_documented_with_keyword_options(function: str) -> None:
    import inspect

    signature = inspect.signature(getattr(polarstack, function))
    positional = [p for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert len(positional) <= 1, f"{function}: options must be keyword-only"
    assert getattr(polarstack, function).__doc__


@pytest.mark.parametrize(
    "function", ["scan_ports", "scan_versions", "plan_clean", "clean", "probe_network",
                 "parse_ranges", "parse_image_ref", "resolve_node_name"],
)  # fmt: skip
def test_read_only_functions_show_an_example(function: str) -> None:
    assert ">>>" in (getattr(polarstack, function).__doc__ or ""), function
