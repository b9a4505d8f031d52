"""Logging for every service: one format, and aiosmtpd's protocol tracing kept quiet.

aiosmtpd logs client lines at DEBUG, which would include AUTH exchanges, so its
logger never goes below WARNING.
"""

from __future__ import annotations

import logging


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("aiosmtpd").setLevel(logging.WARNING)
