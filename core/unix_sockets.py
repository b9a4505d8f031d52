"""Unix sockets that Postfix's daemons (user postfix) connect to, and nobody else."""

from __future__ import annotations

import contextlib
import grp
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def prepare_socket_path(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def give_to_postfix(path: Path) -> None:
    """The socket and its folder for root and the postfix group only."""
    try:
        gid = grp.getgrnam("postfix").gr_gid
        for target in (path.parent, path):
            os.chown(target, -1, gid)
        path.parent.chmod(0o750)
        path.chmod(0o660)
    except (KeyError, PermissionError) as exc:
        log.warning("could not give the postfix group %s (%s); leaving it open to all", path, exc)
        path.chmod(0o666)
