"""The states a tenant, a pool address and a DKIM key go through; the API's schemas list them from here."""

from __future__ import annotations

from enum import StrEnum


class TenantStatus(StrEnum):
    ACTIVE = "active"
    # Past the reputation guard's warning rate: still sending.
    WARNED = "warned"
    # By the guard or an admin: mail refused with 4.7.x until resumed.
    PAUSED = "paused"


SENDING_STATUSES = (TenantStatus.ACTIVE, TenantStatus.WARNED)


class PoolIpState(StrEnum):
    ACTIVE = "active"
    # Sending under the day's warm-up cap.
    WARMING = "warming"
    PAUSED = "paused"
    # Sends no new mail; its transport stays for mail already queued for it.
    REMOVED = "removed"


SENDING_STATES = (PoolIpState.ACTIVE, PoolIpState.WARMING)


class DkimKeyState(StrEnum):
    # Signs nothing until its record is seen in DNS.
    PENDING = "pending"
    ACTIVE = "active"
    # Replaced by a newer active key of the same algorithm.
    RETIRED = "retired"
