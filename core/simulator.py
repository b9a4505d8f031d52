"""The mailbox simulator's addresses (intake/simulator.py answers for them)."""

from __future__ import annotations

SUPPRESSED_LOCAL_PART = "suppressionlist"
LOCAL_PARTS = frozenset({"success", "bounce", "ooto", "complaint", SUPPRESSED_LOCAL_PART})


def is_simulated_suppression(address: str, simulator_domain: str) -> bool:
    """suppressionlist@ is always on the suppression list: the front-end refuses it at RCPT."""
    return address.lower() == f"{SUPPRESSED_LOCAL_PART}@{simulator_domain.lower()}"
