"""log_format json: each record one JSON object a line, with the service's name and any traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROGRAM = """
import logging
from core.config import settings_from_mapping
from core.logs import setup_logging
setup_logging(settings_from_mapping({"hostname": "relay.test", "log_format": "json"}), "intake")
log = logging.getLogger("intake.server")
log.info("a line with \\"quotes\\" and\\na break: é")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it failed")
logging.getLogger("aiosmtpd").info("kept quiet")
"""


def test_json_lines_carry_time_level_service_message_and_traceback() -> None:
    result = subprocess.run([sys.executable, "-c", PROGRAM], cwd=REPO, capture_output=True, text=True,
                            check=True)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["level"], line["logger"], line["service"]) for line in lines] == [
        ("INFO", "intake.server", "intake"), ("ERROR", "intake.server", "intake")]
    assert lines[0]["message"] == 'a line with "quotes" and\na break: é'
    assert "ZeroDivisionError" in lines[1]["exception"] and "exception" not in lines[0]
    assert lines[0]["time"].endswith("+00:00")
