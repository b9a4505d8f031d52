"""python -m send_api [config]: the HTTP send API, until SIGTERM."""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

from core.config import load_settings
from core.logs import setup_logging
from send_api.app import make_app


def main(argv: list[str]) -> int:
    settings = load_settings(Path(argv[0]) if argv else None)
    setup_logging(settings, "send-api")
    web.run_app(make_app(settings), host=settings.send_api.listen_address, port=settings.send_api.port,
                print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
