"""How the milter's choice of outbound transport reaches Postfix: one header, named here.

The milter adds ROUTE_HEADER with a transport name; milter_header_checks (rendered
from postfix-conf/) turn it into `FILTER <transport>:`, and smtp_header_checks
drop the header before the message leaves the box. Each outbound address has a
transport, and one more per delivery profile (a big provider's shaping), named
profile_transport(address transport, profile).
"""

from __future__ import annotations

ROUTE_HEADER = "X-Mailrelay-Route"
DEFAULT_TRANSPORT = "out_default"


def profile_transport(transport: str, profile: str) -> str:
    return f"{transport}__{profile}"
