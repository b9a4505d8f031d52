"""Runs tests/world in a network and mount namespace of its own, with a DNS server of its own.

Postfix looks MX hosts up through the system resolver, which cannot be pointed at
another port; in the namespace, /etc/resolv.conf says 127.0.0.1 and the world's
DNS server listens on port 53, and nothing else on the machine is reachable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.world.conftest import WORLD_ENV, WORLD_IPV6

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
set -e
ip link set lo up
# The world's IPv6 addresses: a pool address and an MX host (tests/world/test_mx_world.py).
for address in $WORLD_IPV6; do ip -6 addr add "$address/128" dev lo nodad; done
mount --bind "$RESOLV_CONF" /etc/resolv.conf
exec "$PYTHON" -m pytest -q -p no:cacheprovider tests/world
"""


@pytest.mark.timeout(900)  # every world module in one run: MX hosts, shaping, MTA-STS, DANE
def test_the_world_of_mx_hosts() -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as resolv:
        # trust-ad: glibc passes on the AD flag of the world's DNS (DANE, test_dane_world.py).
        resolv.write("nameserver 127.0.0.1\noptions attempts:1 timeout:2 trust-ad\n")
        resolv.flush()
        # The namespace has no route to PostgreSQL or Redis: the world runs on SQLite.
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_TEST_")}
        env.update({WORLD_ENV: "1", "RESOLV_CONF": resolv.name, "PYTHON": sys.executable,
                    "WORLD_IPV6": " ".join(WORLD_IPV6)})
        result = subprocess.run(["unshare", "--net", "--mount", "bash", "-c", SCRIPT], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
