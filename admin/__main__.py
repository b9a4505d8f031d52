"""The panel under waitress, a production WSGI server: python -m admin [config.yaml]."""

from __future__ import annotations

import sys
from pathlib import Path

from waitress import serve

from admin import create_app
from core.config import load_settings
from core.logs import setup_logging


def main() -> None:
    settings = load_settings(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    setup_logging(settings, "panel")
    app = create_app({"RELAY_SETTINGS": settings})
    # Forwarded headers, when panel.behind_proxy says to trust them, are read by create_app (ProxyFix).
    serve(app, host=settings.panel.listen_address, port=settings.panel.port, threads=8, ident="mailrelay")


if __name__ == "__main__":
    main()
