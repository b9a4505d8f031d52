"""python -m relay [config.yaml]: the front-end alone (relayctl run starts it with Postfix)."""

from __future__ import annotations

import sys
from pathlib import Path

from relay.server import main

main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
