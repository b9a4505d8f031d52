"""The box's health for the dashboard: load, memory and disk from psutil; whether each service answers."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

from core.config import Settings
from core.postfix.instance import PostfixInstance


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _unix_socket_answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
        return True
    except OSError:
        return False


def _tcp_answers(host: str, port: int) -> bool:
    host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def services(settings: Settings) -> list[Check]:
    instance = PostfixInstance(settings)
    milter = settings.milter_socket
    if milter.startswith("unix:"):
        milter_ok = _unix_socket_answers(Path(milter.removeprefix("unix:")))
    else:
        host, _, port = milter.removeprefix("inet:").rpartition(":")
        milter_ok = _tcp_answers(host, int(port))
    smtp = settings.smtp
    return [
        Check("Postfix", instance.is_running(), str(instance.config_dir)),
        Check("Milter", milter_ok, milter),
        Check("Bounce intake", _unix_socket_answers(settings.intake_socket), str(settings.intake_socket)),
        Check("Front-end (587)", _tcp_answers(smtp.listen_address, smtp.submission_port),
              f"{smtp.listen_address}:{smtp.submission_port}"),
        Check("Front-end (465)", _tcp_answers(smtp.listen_address, smtp.smtps_port),
              f"{smtp.listen_address}:{smtp.smtps_port}"),
    ]


def box(settings: Settings) -> list[Check]:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(settings.state_dir if settings.state_dir.exists() else Path("/")))
    load1, _load5, _load15 = os.getloadavg()
    cores = psutil.cpu_count() or 1
    return [
        Check("Load", load1 < cores * 2, f"{load1:.2f} on {cores} cores"),
        Check("Memory", memory.percent < 90, f"{memory.percent:.0f}% used of {memory.total / 2**30:.1f} GiB"),
        Check("Disk", disk.percent < 90, f"{disk.percent:.0f}% used of {disk.total / 2**30:.0f} GiB "
              f"({settings.state_dir})"),
    ]
