"""Where the files that ship beside the code are: the Postfix templates and the migrations.

In a source checkout they sit at the top of the tree; an installed wheel puts them under
<prefix>/share/mailrelay (pyproject.toml's data-files), as Debian would.
"""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE_TREE = Path(__file__).resolve().parent.parent


def shared_dir(name: str) -> Path:
    for base in (SOURCE_TREE, Path(sys.prefix) / "share" / "mailrelay"):
        if (base / name).is_dir():
            return base / name
    return SOURCE_TREE / name  # missing: the error that follows names the source tree's path
