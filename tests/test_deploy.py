"""The deployment files: manifests render and validate, units verify and are hardened."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from polarstack import systemd as units
from tests.conftest import CliRunner, require

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "k8s"
SYSTEMD = REPO / "systemd"
SERVICES = sorted(SYSTEMD.glob("*.service"))
UNITS = sorted([*SERVICES, *SYSTEMD.glob("*.timer")])


def kubectl() -> str:
    found = shutil.which("kubectl")
    require(found is not None, "kubectl not installed (apt-get install kubernetes-client)")
    assert found is not None
    return found


def validate(path: Path) -> None:
    result = subprocess.run(
        ["kubernetes-validate", "--strict", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_kustomize_renders_everything(tmp_path: Path) -> None:
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(K8S)], capture_output=True, text=True, check=True
    ).stdout
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(rendered))
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "ConfigMap",
                     "DaemonSet", "Role", "RoleBinding", "ServiceAccount"]  # fmt: skip
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered)
    validate(out)


@pytest.mark.parametrize(
    "manifest", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
)
def test_each_manifest_validates_strictly(manifest: str) -> None:
    validate(K8S / manifest)


def test_daemonset_is_least_privilege() -> None:
    daemonset = yaml.safe_load((K8S / "daemonset.yaml").read_text())
    pod = daemonset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    security = container["securityContext"]
    assert pod["hostNetwork"] is True and pod["priorityClassName"] == "system-node-critical"
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False and "privileged" not in security
    assert security["capabilities"] == {
        "drop": ["ALL"],
        "add": ["DAC_OVERRIDE", "FOWNER", "SYS_PTRACE"],
    }
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/run/containerd/containerd.sock"]["readOnly"] is True
    assert "/flash/polardb_dbcluster" in mounts
    assert not any(".ssh" in str(v) for v in pod["volumes"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"requests", "limits"} <= set(container["resources"])
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


def test_rbac_grants_no_secrets_and_no_deletes() -> None:
    rules = [rule for doc in yaml.safe_load_all((K8S / "rbac.yaml").read_text())
             for rule in doc.get("rules", [])]  # fmt: skip
    resources = {r for rule in rules for r in rule["resources"]}
    verbs = {v for rule in rules for v in rule["verbs"]}
    assert "secrets" not in resources and "*" not in resources
    assert "delete" not in verbs and "*" not in verbs


@pytest.fixture
def stub_binary_namespace(require_root: None) -> list[str]:
    """A command prefix that runs in a throwaway mount namespace with a stub polarstack."""
    require(shutil.which("unshare") is not None, "unshare not installed (util-linux)")
    require(shutil.which("systemd-analyze") is not None, "systemd-analyze not installed")
    script = (
        "mount -t tmpfs tmpfs /usr/local/bin && "
        "printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/polarstack && "
        'chmod 755 /usr/local/bin/polarstack && exec "$@"'
    )
    return ["unshare", "-m", "sh", "-c", script, "sh"]


def test_units_verify_without_a_word(stub_binary_namespace: list[str]) -> None:
    # systemd-analyze verify exits 0 on unknown or malformed keys and only prints them.
    result = subprocess.run(
        [*stub_binary_namespace, "systemd-analyze", "verify", "--man=no", *map(str, UNITS)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


@pytest.mark.parametrize("unit", [p.name for p in SERVICES])
def test_exposure_is_at_most_2(unit: str, capsys: pytest.CaptureFixture[str]) -> None:
    require(shutil.which("systemd-analyze") is not None, "systemd-analyze not installed")
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(SYSTEMD / unit)],
        capture_output=True, text=True,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    with capsys.disabled():
        print(f"\n  {unit}: exposure {match.group(1)}", end="")
    assert float(match.group(1)) <= 2.0


def test_install_and_uninstall(tmp_path: Path) -> None:
    calls: list[list[str]] = []
    unit_dir, env_file = tmp_path / "units", tmp_path / "etc" / "polarstack.env"
    steps = units.install_units(
        binary="/opt/ps/bin/polarstack", unit_dir=unit_dir, env_file=env_file,
        run=lambda args: calls.append(list(args)),
    )  # fmt: skip
    written = sorted(p.name for p in unit_dir.iterdir())
    assert written == sorted(p.name for p in UNITS)
    service = (unit_dir / "polarstack-ports.service").read_text()
    assert "ExecStart=/opt/ps/bin/polarstack ports scan --publish" in service
    assert "/usr/local/bin" not in service
    assert env_file.stat().st_mode & 0o777 == 0o600
    timers = [f"{name}.timer" for name in units.SYSTEMD_TIMERS]
    assert calls == [["daemon-reload"], ["enable", "--now", *timers]]
    assert str(steps[-1]) == "run " + "systemctl " + " ".join(calls[-1])
    env_file.write_text("POLARSTACK_NODE_NAME=kept\n")
    units.install_units(binary="/x", unit_dir=unit_dir, env_file=env_file, run=lambda args: None)
    assert env_file.read_text() == "POLARSTACK_NODE_NAME=kept\n"  # the host's settings stay
    calls.clear()
    units.uninstall_units(unit_dir=unit_dir, run=lambda args: calls.append(list(args)))
    assert list(unit_dir.iterdir()) == [] and env_file.exists()
    assert calls[0][:2] == ["disable", "--now"] and calls[-1] == ["daemon-reload"]


def test_cli_dry_run_changes_nothing(cli: CliRunner, tmp_path: Path) -> None:
    result = cli(["systemd", "install", "--dry-run", "--unit-dir", str(tmp_path / "u"),
                  "--env-file", str(tmp_path / "env"),
                  "--binary", "/usr/bin/polarstack"])  # fmt: skip
    assert result.status == 0, result.stderr
    assert f"would write {tmp_path / 'u' / 'polarstack-ports.timer'}" in result.stdout
    assert "would run systemctl enable --now polarstack-ports.timer" in result.stdout
    assert not (tmp_path / "u").exists() and not (tmp_path / "env").exists()
