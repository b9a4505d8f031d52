"""The test world: run only inside the network namespace tests/integration/test_world.py makes.

There /etc/resolv.conf names 127.0.0.1, where a LoopbackDns answers on port 53, so
Postfix finds MX hosts the way it does on a real box.
"""

from __future__ import annotations

import os

WORLD_ENV = "MAILRELAY_TEST_WORLD"
# Added to the namespace's loopback: an IPv6 pool address, then an IPv6 MX host.
WORLD_IPV6 = ("2001:db8::2", "2001:db8::31")

collect_ignore_glob = [] if os.environ.get(WORLD_ENV) == "1" else ["test_*.py"]
