"""relayctl run: the box's services in the foreground.

It configures and starts the Postfix instance, runs the front-end as a child
process (restarted with back-off if it dies), and on SIGINT or SIGTERM stops
the front-end gracefully, then Postfix. Mail in Postfix's queue stays there.
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
from core.postfix_instance import PostfixInstance

log = logging.getLogger("relayctl.run")

CHILD_STOP_SECONDS = 40.0
MAX_BACKOFF_SECONDS = 30.0


def _front_end_command(config_path: Path | None) -> list[str]:
    return [sys.executable, "-m", "relay", *([str(config_path)] if config_path else [])]


def run_services(settings: Settings, config_path: Path | None) -> int:
    setup_logging(settings.log_level)
    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("received %s", signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    instance = PostfixInstance(settings)
    instance.render()
    instance.start_or_reload()
    log.info("Postfix instance running from %s", instance.config_dir)

    backoff = 1.0
    child = subprocess.Popen(_front_end_command(config_path))
    started = time.monotonic()
    try:
        while not stopping:
            code = child.poll()
            if code is None:
                time.sleep(0.2)
                continue
            log.error("front-end exited with status %s; restarting in %.0fs", code, backoff)
            time.sleep(backoff)
            backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, MAX_BACKOFF_SECONDS)
            if not stopping:
                child = subprocess.Popen(_front_end_command(config_path))
                started = time.monotonic()
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(CHILD_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        instance.stop()
        log.info("stopped")
    return 0
