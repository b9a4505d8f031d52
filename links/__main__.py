"""The link service under waitress: python -m links [config.yaml]."""

from __future__ import annotations

import sys
from pathlib import Path

from waitress import serve

from core.config import load_settings
from core.logs import setup_logging
from links import create_app


def main() -> None:
    settings = load_settings(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    setup_logging(settings.log_level)
    serve(create_app(settings), host=settings.links.listen_address, port=settings.links.port, threads=8,
          ident="mailrelay")


if __name__ == "__main__":
    main()
