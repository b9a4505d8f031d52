"""relayctl run: the box's services in the foreground.

It configures and starts the Postfix instance, runs the bounce intake, the
milter, the front-end and the panel (under waitress) as child processes (each
restarted with back-off if it dies), runs
`relayctl pool check` every dns.pool_check_minutes (a listed address is
paused), and on SIGINT or SIGTERM stops the front-end, the milter, the intake, then
Postfix. Mail in Postfix's queue stays there.
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
from core.logs import setup_logging
from relayctl.postfix_config import render_postfix

log = logging.getLogger("relayctl.run")

CHILD_STOP_SECONDS = 40.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_AFTER_SECONDS = 60.0


class PeriodicCheck:
    """`relayctl pool check` in a process of its own, every interval; never two at once."""

    def __init__(self, config_path: Path | None, minutes: int) -> None:
        config = ["--config", str(config_path)] if config_path else []
        self._command = [sys.executable, "-m", "relayctl.cli", *config, "pool", "check"]
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


class Child:
    """One service as a child process, restarted with growing back-off when it dies."""

    def __init__(self, module: str, config_path: Path | None) -> None:
        self.module = module
        self._command = [sys.executable, "-m", module, *([str(config_path)] if config_path else [])]
        self._process = subprocess.Popen(self._command)
        self._started = time.monotonic()
        self._backoff = 1.0
        self._restart_at: float | None = None

    def tend(self) -> None:
        now = time.monotonic()
        if self._restart_at is not None:
            if now >= self._restart_at:
                self._process = subprocess.Popen(self._command)
                self._started, self._restart_at = now, None
            return
        code = self._process.poll()
        if code is None:
            return
        if now - self._started > STABLE_AFTER_SECONDS:
            self._backoff = 1.0
        log.error("%s exited with status %s; restarting in %.0fs", self.module, code, self._backoff)
        self._restart_at = now + self._backoff
        self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)

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
    setup_logging(settings.log_level)
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
                Child("admin", config_path)]
    pool_check = PeriodicCheck(config_path, settings.dns.pool_check_minutes)
    try:
        while not stopping:
            for child in children:
                child.tend()
            pool_check.tend()
            time.sleep(0.2)
    finally:
        pool_check.stop()
        for child in reversed(children):
            child.stop()
        instance.stop()
        log.info("stopped")
    return 0
