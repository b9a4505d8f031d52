"""What the provisioning tests share: the playbook run as an operator runs it, from inside the
test's network namespace, against booted Debian boxes (tests.support.nspawn)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

from tests.support.nspawn import ROOTFS, DebianBox, Lan
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = REPO / "ansible"
# Every dependency's wheel, built by scripts/install-deps; the relay's own is built by the playbook.
DEPENDENCY_WHEELS = Path("/var/tmp/mailrelay-test-wheels")
VAULT_PASSWORD = "a vault password for the tests"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [why for ok, why in (
        (os.geteuid() == 0, "root (network namespaces, systemd-nspawn)"),
        (shutil.which("systemd-nspawn") is not None, "systemd-container"),
        ((ROOTFS / ".mailrelay-stamp").exists(), f"{ROOTFS} (scripts/make-test-rootfs)"),
        (DEPENDENCY_WHEELS.is_dir(), f"{DEPENDENCY_WHEELS} (scripts/install-deps)"),
        ((Path(sys.executable).parent / "ansible-playbook").exists(), "ansible (pip install -e '.[test]')"),
    ) if not ok]
    for item in items:
        if "tests/provisioning/" in str(item.fspath) and missing:
            item.add_marker(pytest.mark.skip(reason="needs " + ", ".join(missing)))


def wheelhouse(workdir: Path) -> Path:
    """The dependencies' wheels without the relay's: the playbook builds that from this tree."""
    folder = workdir / "wheels"
    shutil.copytree(DEPENDENCY_WHEELS, folder, ignore=shutil.ignore_patterns("mailrelay-*"))
    return folder


def write_vault(workdir: Path, secrets: dict[str, str]) -> tuple[Path, Path]:
    """An ansible-vault encrypted vars file and its password file."""
    password_file = workdir / "vault-password"
    password_file.write_text(VAULT_PASSWORD)
    vault = workdir / "vault.yml"
    vault.write_text(yaml.safe_dump(secrets))
    subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "encrypt", "--vault-password-file",
                    str(password_file), str(vault)], check=True, capture_output=True)
    assert vault.read_text().startswith("$ANSIBLE_VAULT")
    return vault, password_file


def new_encryption_key() -> str:
    return Fernet.generate_key().decode()


def write_inventory(workdir: Path, key: Path, inventory: dict[str, Any]) -> Path:
    common = {"ansible_user": "root", "ansible_ssh_private_key_file": str(key),
              "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
              "ansible_python_interpreter": "/usr/bin/python3",
              # The boxes' packages are in the image already; they reach no mirror.
              "base_apt_update": False}
    inventory["all"].setdefault("vars", {}).update(common)
    path = workdir / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def playbook(network: Lan, inventory: Path, vault: Path, password_file: Path,
             log: Path) -> tuple[int, dict[str, int]]:
    """Run site.yml; its exit code and, per host, how many tasks changed something."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "PIP_NO_INDEX": "1"}
    command = network.command(str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                              "--vault-password-file", str(password_file), "-e", f"@{vault}",
                              str(ANSIBLE / "site.yml"))
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1500, check=False)
    log.write_text(result.stdout + result.stderr)
    changed = {host: int(count) for host, count in
               re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", result.stdout, re.M)}
    return result.returncode, changed


def make_tenant(box: DebianBox, *limits: str, name: str = "acme") -> tuple[str, str]:
    """Tenant name with <name>.test (verified by the operator) and a credential, made on the box."""
    box.ssh(f"relayctl tenant add {name} >/dev/null && relayctl domain add {name} {name}.test >/dev/null "
            f"&& relayctl domain verify {name}.test --operator-override >/dev/null"
            + (f" && relayctl tenant limits {name} {' '.join(limits)} >/dev/null" if limits else ""))
    output = box.ssh(f"relayctl credential add {name}").stdout
    found = dict(re.findall(r"^(username|password): (\S+)$", output, re.M))
    return found["username"], found["password"]


def directory_loaded(*boxes: DebianBox) -> None:
    """Wait until each box's front-end and milter serve the directory as the database has it."""
    for box in boxes:
        eventually(lambda: box.ssh("relayctl directory", check=False).returncode == 0,  # noqa: B023
                   f"{box.name}'s services at the database's directory version", timeout=60, every=0.5)


def swaks(network: Lan, server: str, credential: tuple[str, str], subject: str, tenant: str = "acme",
          timeout: float = 120, port: int = 587) -> subprocess.CompletedProcess[str]:
    """A message from app@<tenant>.test through a front-end (port 587, STARTTLS), by swaks."""
    return network.run("swaks", "--server", server, "--port", str(port), "--tls", "--auth", "PLAIN",
                       "--auth-user", credential[0], "--auth-password", credential[1],
                       "--from", f"app@{tenant}.test", "--to", "someone@example.org",
                       "--header", f"Subject: {subject}", "--body", "hello from a provisioned box",
                       "--timeout", str(int(timeout)), check=False, timeout=timeout + 10)


def tail(path: Path, size: int = 15_000) -> str:
    return path.read_text(errors="replace")[-size:]


def failure_report(log: Path, boxes: list[DebianBox]) -> str:
    """The end of a playbook's log, and what each box's journal warned of."""
    journals = [f"--- {box.name}\n" + box.ssh("journalctl -p warning -n 30 --no-pager", check=False).stdout
                for box in boxes]
    return "\n".join([tail(log), *journals])
