"""python -m intake [config.yaml]"""

from __future__ import annotations

import sys
from pathlib import Path

from intake.server import main

main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
