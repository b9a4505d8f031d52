"""Logging for every service: one format, and aiosmtpd's protocol tracing kept quiet.

aiosmtpd logs client lines at DEBUG, which would include AUTH exchanges, so its
logger never goes below WARNING. Two of its warnings do not apply to the relay
and would otherwise fill the log: the implicit-TLS port "not requiring TLS"
(RelayHandler checks the transport itself before any AUTH), and its own use of
the deprecated Session.login_data on every successful AUTH.

With log_format json each record is one JSON object a line (time, level, logger,
service, message, and the exception's traceback), for a central log store. The
formatter is ours: a dozen lines, where a library would be a dependency for them.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from core.config import Settings

_INAPPLICABLE_AIOSMTPD_WARNINGS = (
    "auth_required == True but auth_require_tls == False",
    "Session.login_data is deprecated",
)


def _applies(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(_INAPPLICABLE_AIOSMTPD_WARNINGS)


class JsonLines(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "service": self._service,
                "message": record.getMessage()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup_logging(settings: Settings, service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines(service) if settings.log_format == "json" else
                         logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
    mail_log = logging.getLogger("mail.log")
    mail_log.setLevel(logging.WARNING)
    mail_log.addFilter(_applies)
    logging.getLogger("aiosmtpd").setLevel(logging.WARNING)
