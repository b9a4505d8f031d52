"""Debian boxes for the provisioning tests: copies of a debootstrapped bookworm (made by
scripts/make-test-rootfs) booted with systemd-nspawn, on a bridge inside a network namespace
the test creates; Ansible reaches them over SSH from inside that namespace, and nothing in it
reaches any other network."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.waiting import eventually

ROOTFS = Path("/var/tmp/mailrelay-test-rootfs/bookworm")
SUBNET = "10.231.0"
GATEWAY = f"{SUBNET}.1"  # the namespace's own address on the bridge: Ansible and the fake MX


def run(*command: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=timeout)


@dataclass
class Lan:
    """A network namespace holding a bridge; boxes plug into it, the test's tools run in it."""

    name: str

    def command(self, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *command]

    def run(self, *command: str, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run(*self.command(*command), check=check, timeout=timeout)

    def popen(self, *command: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(self.command(*command), stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def lan(name: str) -> Iterator[Lan]:
    run("ip", "netns", "add", name)
    try:
        network = Lan(name)
        network.run("ip", "link", "set", "lo", "up")
        network.run("ip", "link", "add", "br0", "type", "bridge")
        network.run("ip", "address", "add", f"{GATEWAY}/24", "dev", "br0")
        network.run("ip", "link", "set", "br0", "up")
        yield network
    finally:
        run("ip", "netns", "delete", name, check=False)


@dataclass
class DebianBox:
    name: str
    address: str
    interface: str  # its network interface, as the box names it
    root: Path
    lan: Lan
    key: Path
    namespace: str
    process: subprocess.Popen[bytes] | None = None

    def ssh(self, command: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.lan.run("ssh", "-i", str(self.key), "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                            "-o", "ConnectTimeout=5", f"root@{self.address}", command,
                            check=check, timeout=timeout)


def _prepare(root: Path, name: str, address: str, public_key: str) -> None:
    (root / "etc/hostname").write_text(f"{name}\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n{address} {name}.test {name}\n")
    sshd = root / "etc/systemd/system/multi-user.target.wants/ssh.service"
    if not sshd.is_symlink():
        sshd.parent.mkdir(parents=True, exist_ok=True)
        sshd.symlink_to("/lib/systemd/system/ssh.service")
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(public_key)
    (ssh_dir / "authorized_keys").chmod(0o600)


def boot(network: Lan, workdir: Path, name: str, address: str, key: Path) -> DebianBox:
    """A copy of the test root file system, booted and answering SSH."""
    root = workdir / name
    run("cp", "-a", "--reflink=auto", str(ROOTFS), str(root), timeout=600)
    # The box gets a network namespace of its own, joined to the bridge by a veth pair, its
    # address set from outside. (nspawn runs outside `ip netns exec`, which remounts /sys without
    # cgroups, and is handed the namespace: its own veth setup waits for a udev there is not.)
    namespace = f"{network.name}-{name}"
    run("ip", "netns", "add", namespace)
    outside = f"mrb-{name}"[:15]
    run("ip", "link", "add", outside, "netns", network.name, "type", "veth", "peer", "name", "eth0",
        "netns", namespace)
    network.run("ip", "link", "set", outside, "master", "br0", "up")
    run("ip", "-n", namespace, "link", "set", "lo", "up")
    _prepare(root, name, address, key.with_suffix(".pub").read_text())
    box = DebianBox(name, address, "eth0", root, network, key, namespace)
    try:
        power_on(box, workdir)
    except BaseException:
        halt(box)
        raise
    return box


def power_on(box: DebianBox, workdir: Path) -> None:
    """Plug the box in and boot its root file system (again, after power_off); wait for SSH."""
    for command in (["address", "flush", "dev", "eth0"],
                    ["address", "add", f"{box.address}/24", "dev", "eth0"], ["link", "set", "eth0", "up"]):
        run("ip", "-n", box.namespace, *command)
    with (workdir / f"{box.name}.console.log").open("ab") as console:
        box.process = subprocess.Popen(
            ["systemd-nspawn", "--register=no", "--keep-unit", "-b", "-q", "-D", str(box.root),
             "-M", box.name, f"--network-namespace-path=/run/netns/{box.namespace}",
             "--capability=CAP_NET_ADMIN"],
            stdout=console, stderr=subprocess.STDOUT)
    _wait_for_ssh(box, workdir / f"{box.name}.console.log")


def power_off(box: DebianBox) -> None:
    """The box's power cut: every process in it killed at once, nothing shut down cleanly. Killing
    nspawn alone would leave the box's init running (it is nspawn's child, not bound to it): each
    process in the box's network namespace gets SIGKILL, its init among them, and with it goes
    every process of the box's PID namespace."""
    assert box.process is not None
    for pid in run("ip", "netns", "pids", box.namespace).stdout.split():
        run("kill", "-KILL", pid, check=False)
    box.process.kill()
    box.process.wait()
    box.process = None
    eventually(lambda: not run("ip", "netns", "pids", box.namespace).stdout.split(),
               f"every process of {box.name} gone", timeout=30)
    # The box's network namespace is the test's and outlives it: without this it would go on
    # answering for its addresses (a virtual one too) as a dead box does not.
    run("ip", "-n", box.namespace, "link", "set", "eth0", "down")
    run("ip", "-n", box.namespace, "address", "flush", "dev", "eth0")


def _wait_for_ssh(box: DebianBox, console: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert box.process is not None
        if box.process.poll() is not None:
            raise AssertionError(f"{box.name} stopped: {console.read_text(errors='replace')[-3000:]}")
        if box.ssh("true", check=False, timeout=30).returncode == 0:
            return
        time.sleep(1)
    raise AssertionError(f"{box.name} never answered SSH: {console.read_text(errors='replace')[-3000:]}")


def halt(box: DebianBox) -> None:
    if box.process is not None and box.process.poll() is None:
        box.process.send_signal(signal.SIGTERM)  # nspawn asks the box's systemd to power off
        try:
            box.process.wait(90)
        except subprocess.TimeoutExpired:
            box.process.kill()
            box.process.wait()
    run("ip", "netns", "delete", box.namespace, check=False)


@contextmanager
def debian_boxes(
        names_and_addresses: Sequence[tuple[str, str]]) -> Iterator[tuple[Lan, list[DebianBox], Path]]:
    """Booted boxes on one bridge, the namespace they share, and a work folder (with the SSH key
    at work/id_ed25519); all torn down afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="mailrelay-nspawn-", dir="/var/tmp"))
    key = workdir / "id_ed25519"
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    try:
        with ExitStack() as stack, lan(f"mrlan{workdir.name[-6:]}") as network:
            boxes: list[DebianBox] = []
            for name, address in names_and_addresses:
                box = boot(network, workdir, name, address, key)
                boxes.append(box)
                stack.callback(halt, box)
            yield network, boxes, workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
