"""kill -9 of every service under load, as `relayctl run` supervises them: each comes back by
itself, and every message answered 250 is delivered (nothing acknowledged is lost)."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psutil
import pytest

from tests.support.box import DOMAIN, REPO, Box, box_root, make_box, message, wait_for_port
from tests.support.sink import Sink

CLIENTS = 3
LOAD_SECONDS_MAX = 120.0


@dataclass
class Load:
    """Clients sending one message after another, each on its own connection, until told to stop."""

    box: Box
    accepted: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, client_number: int) -> None:
        deadline = time.monotonic() + LOAD_SECONDS_MAX
        n = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            n += 1
            subject = f"load {client_number}-{n}"
            try:
                with self.box.client() as client:
                    client.mail(f"app@{DOMAIN}")
                    client.rcpt("someone@example.org")
                    code, _ = client.data(message(subject))
            except (smtplib.SMTPException, OSError) as exc:
                with self.lock:
                    self.refused[type(exc).__name__] += 1
                time.sleep(0.2)
                continue
            with self.lock:
                if code == 250:
                    self.accepted.append(subject)
                else:
                    self.refused[str(code)] += 1


def child_pid(run: subprocess.Popen[bytes], module: str) -> int | None:
    for child in psutil.Process(run.pid).children():
        try:
            if child.cmdline()[1:3] == ["-m", module]:
                return child.pid
        except psutil.Error:
            continue
    return None


def master_pid(box: Box) -> int | None:
    try:
        return int((box.instance.queue_dir / "pid" / "master.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "the service did not come back"
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture
def supervised(sink: Sink) -> Iterator[tuple[Box, subprocess.Popen[bytes]]]:
    with box_root() as root:
        box = make_box(root, sink)
        command = [sys.executable, "-m", "relayctl.cli", "--config", str(box.config_path), "run"]
        run = subprocess.Popen(command, cwd=REPO)
        try:
            wait_for_port("127.0.0.1", box.submission_port)
            yield box, run
        finally:
            run.send_signal(signal.SIGTERM)
            run.wait(90)


@pytest.mark.timeout(300)
def test_every_service_killed_comes_back_and_every_250_is_delivered(
        supervised: tuple[Box, subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]) -> None:
    box, run = supervised
    load = Load(box)
    threads = [threading.Thread(target=load.run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    recovered: dict[str, float] = {}

    def back(module: str, old: int) -> bool:
        if module == "postfix":
            return box.instance.is_running() and master_pid(box) != old
        return child_pid(run, module) not in (None, old)

    try:
        time.sleep(3)
        for module in ("milter", "intake", "relay", "admin", "postfix"):
            old = master_pid(box) if module == "postfix" else child_pid(run, module)
            assert old is not None, module
            os.kill(old, signal.SIGKILL)
            recovered[module] = wait_until(lambda m=module, o=old: back(m, o))  # type: ignore[misc]
            with load.lock:
                before = len(load.accepted)
            wait_until(lambda b=before: len(load.accepted) > b + CLIENTS)  # type: ignore[misc]
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(60)
    accepted = list(load.accepted)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        delivered = Counter(m[1] for m in (re.search(rb"Subject: (load [0-9-]+)\r\n", r.content)
                                           for r in box.sink.messages) if m)
        if all(delivered[s.encode()] for s in accepted):
            break
        box.instance.flush()
        time.sleep(1)
    missing = [s for s in accepted if not delivered[s.encode()]]
    duplicates = sum(count - 1 for count in delivered.values() if count > 1)
    with capsys.disabled():
        print(f"\ncrash test: {len(accepted)} answered 250, {len(accepted) - len(missing)} delivered, "
              f"{duplicates} delivered twice, refused {dict(load.refused)}, back after (s) "
              + ", ".join(f"{m} {s:.1f}" for m, s in recovered.items()))
    assert not missing, (missing, box.instance.queue().messages())
    assert len(accepted) > 5 * CLIENTS
