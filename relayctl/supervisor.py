"""relayctl run: the box's services in the foreground.

It configures and starts the Postfix instance (started again with back-off if
its master dies), runs the bounce intake, the milter, the front-end, the panel
and the link service (both under waitress), the HTTP send API and, with postfix.mta_sts_port,
the MTA-STS resolver as child processes (each restarted with back-off if it dies), runs
`relayctl pool check` (a listed address is paused) and `relayctl dns` (the box's records, for
the dashboard) every dns.pool_check_minutes, and on SIGINT or SIGTERM stops the front-end, the
milter, the intake, then Postfix. Mail in Postfix's queue stays there.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from core.config import Settings
from core.errors import PostfixError
from core.logs import setup_logging
from core.postfix import mta_sts
from core.postfix.instance import PostfixInstance
from core.postfix.reload import render_postfix

log = logging.getLogger("relayctl.run")

CHILD_STOP_SECONDS = 40.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_AFTER_SECONDS = 60.0


class PeriodicCheck:
    """A relayctl command in a process of its own, every interval; never two at once."""

    def __init__(self, config_path: Path | None, minutes: int, command: list[str]) -> None:
        config = ["--config", str(config_path)] if config_path else []
        self._command = [sys.executable, "-m", "relayctl.cli", *config, *command]
        self._interval = minutes * 60.0
        self._next = time.monotonic() + 30.0  # once the services have settled
        self._process: subprocess.Popen[bytes] | None = None

    def tend(self) -> None:
        if not self._interval or (self._process is not None and self._process.poll() is None):
            return
        if time.monotonic() >= self._next:
            self._process = subprocess.Popen(self._command)
            self._next = time.monotonic() + self._interval

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait()


class Backoff:
    """Seconds to wait before the next restart: doubling, and back to one once a run lasted."""

    def __init__(self) -> None:
        self._seconds = 1.0
        self._started = time.monotonic()

    def started(self) -> None:
        self._started = time.monotonic()

    def next(self) -> float:
        if time.monotonic() - self._started > STABLE_AFTER_SECONDS:
            self._seconds = 1.0
        seconds = self._seconds
        self._seconds = min(self._seconds * 2, MAX_BACKOFF_SECONDS)
        return seconds


class PostfixWatch:
    """The instance's master, started again when it is found dead (checked each second)."""

    def __init__(self, instance: PostfixInstance) -> None:
        self._instance = instance
        self._backoff = Backoff()
        self._next_check = 0.0

    def tend(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + 1.0
        if self._instance.is_running():
            return
        log.error("Postfix's master is not running; starting the instance again")
        try:
            self._instance.start_or_reload()
        except PostfixError as exc:
            wait = self._backoff.next()
            log.error("%s; trying again in %.0fs", exc, wait)
            self._next_check = now + wait
            return
        self._backoff.started()
        log.info("Postfix instance started again")


class Child:
    """One service as a child process, restarted with growing back-off when it dies."""

    def __init__(self, module: str, config_path: Path | None, command: list[str] | None = None) -> None:
        self.module = module
        arguments = [str(config_path)] if config_path else []
        self._command = command or [sys.executable, "-m", module, *arguments]
        self._process = subprocess.Popen(self._command)
        self._backoff = Backoff()
        self._restart_at: float | None = None

    def tend(self) -> None:
        now = time.monotonic()
        if self._restart_at is not None:
            if now >= self._restart_at:
                self._process = subprocess.Popen(self._command)
                self._backoff.started()
                self._restart_at = None
            return
        code = self._process.poll()
        if code is None:
            return
        wait = self._backoff.next()
        log.error("%s exited with status %s; restarting in %.0fs", self.module, code, wait)
        self._restart_at = now + wait

    def stop(self) -> None:
        if self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(CHILD_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def run_services(settings: Settings, config_path: Path | None) -> int:
    setup_logging(settings, "relayctl")
    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("received %s", signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    instance = render_postfix(settings)
    instance.start_or_reload()
    log.info("Postfix instance running from %s", instance.config_dir)
    # Started in the order mail flows backwards; stopped in the order it flows.
    children = [Child("intake", config_path), Child("milter", config_path), Child("relay", config_path),
                Child("admin", config_path), Child("links", config_path), Child("send_api", config_path)]
    if settings.postfix.mta_sts_port:
        children.insert(0, Child(mta_sts.RESOLVER, None, mta_sts.resolver_command(settings)))
    checks = [PeriodicCheck(config_path, settings.dns.pool_check_minutes, command)
              for command in (["pool", "check"], ["dns"])]
    postfix = PostfixWatch(instance)
    try:
        while not stopping:
            postfix.tend()
            for child in children:
                child.tend()
            for check in checks:
                check.tend()
            time.sleep(0.2)
    finally:
        for check in checks:
            check.stop()
        for child in reversed(children):
            child.stop()
        instance.stop()
        log.info("stopped")
    return 0
