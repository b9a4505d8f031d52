"""The link service: python -m links [config.yaml]."""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

from core.config import load_settings
from core.logs import setup_logging
from links.server import make_app


def main() -> None:
    settings = load_settings(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    setup_logging(settings, "links")
    web.run_app(make_app(settings), host=settings.links.listen_address, port=settings.links.port,
                access_log=None, print=None)


if __name__ == "__main__":
    main()
