"""Logging for every service: one format, and aiosmtpd's protocol tracing kept quiet.

aiosmtpd logs client lines at DEBUG, which would include AUTH exchanges, so its
logger never goes below WARNING. Two of its warnings do not apply to the relay
and would otherwise fill the log: the implicit-TLS port "not requiring TLS"
(RelayHandler checks the transport itself before any AUTH), and its own use of
the deprecated Session.login_data on every successful AUTH.
"""

from __future__ import annotations

import logging

_INAPPLICABLE_AIOSMTPD_WARNINGS = (
    "auth_required == True but auth_require_tls == False",
    "Session.login_data is deprecated",
)


def _applies(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(_INAPPLICABLE_AIOSMTPD_WARNINGS)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    mail_log = logging.getLogger("mail.log")
    mail_log.setLevel(logging.WARNING)
    mail_log.addFilter(_applies)
    logging.getLogger("aiosmtpd").setLevel(logging.WARNING)
