"""The mailbox simulator's addresses (intake/simulator.py answers for them)."""

from __future__ import annotations

SUPPRESSED_LOCAL_PART = "suppressionlist"
LOCAL_PARTS = frozenset({"success", "bounce", "ooto", "complaint", SUPPRESSED_LOCAL_PART})


class SimulatorDomain:
    """Which addresses are the simulator's: the front-end, the milter and the simulator ask here."""

    def __init__(self, domain: str) -> None:
        self.name = domain.lower()
        self._suffix = "@" + self.name

    def holds(self, address: str) -> bool:
        return address.lower().endswith(self._suffix)

    def is_suppressed(self, address: str) -> bool:
        """suppressionlist@ is always on the suppression list: the front-end refuses it at RCPT."""
        return address.lower() == SUPPRESSED_LOCAL_PART + self._suffix
