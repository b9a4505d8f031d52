"""MTA-STS (RFC 8461) for outbound mail: Debian's postfix-mta-sts-resolver fetches and caches each
recipient domain's policy and answers Postfix's smtp_tls_policy_maps over a socketmap on
loopback. A domain whose policy says enforce gets verified TLS to the MX hosts it names, or its
mail waits in the queue; a lookup that fails (the resolver away) defers too, never sends in
the clear to a domain that asked otherwise. The resolver is a maintained implementation made
for exactly this, so the relay only configures and starts it."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from core.config import Settings
from core.errors import PostfixError
from core.fsutil import write_atomically

RESOLVER = "mta-sts-daemon"


def policy_map(settings: Settings) -> str:
    """main.cf's smtp_tls_policy_maps; "" when MTA-STS is off."""
    port = settings.postfix.mta_sts_port
    return f"socketmap:inet:127.0.0.1:{port}:postfix" if port else ""


def resolver_command(settings: Settings) -> list[str]:
    """The resolver's command line, its configuration written first into the state directory."""
    executable = shutil.which(RESOLVER)
    if executable is None:
        raise PostfixError(f"{RESOLVER} is not installed (apt-get install postfix-mta-sts-resolver)")
    directory = settings.state_dir / "mta-sts"
    directory.mkdir(parents=True, exist_ok=True)
    config: Path = directory / "mta-sts-daemon.yml"
    write_atomically(config, yaml.safe_dump({
        "host": "127.0.0.1", "port": settings.postfix.mta_sts_port, "reuse_port": True,
        # reuse_port false leaves the socket unmade in 1.1.2 (responder.py): keep its default.
        "cache": {"type": "sqlite", "options": {"filename": str(directory / "cache.db")}},
        "default_zone": {"strict_testing": False, "timeout": 4},
    }).encode())
    return [executable, "-c", str(config)]
