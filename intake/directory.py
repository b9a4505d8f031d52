"""What the intake knows, in memory: the return-path domains it takes reports for."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import directory_version
from core.return_paths import return_path_domains
from core.snapshot_cache import SnapshotCache


@dataclass(frozen=True)
class IntakeSnapshot:
    version: int
    return_path_domains: frozenset[str] = frozenset()


def load_snapshot(engine: Engine) -> IntakeSnapshot:
    with Session(engine) as session, session.begin():
        return IntakeSnapshot(directory_version(engine), return_path_domains(session))


class IntakeDirectory(SnapshotCache[IntakeSnapshot]):
    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__(engine, load_snapshot, settings.directory_loaded_file("intake"))
        self._own = (settings.bounce_domain.lower(), settings.feedback_domain.lower())

    def is_return_path_domain(self, domain: str) -> bool:
        return domain.lower() in self.snapshot.return_path_domains

    def takes_reports_for(self, domain: str) -> bool:
        """The bounce and feedback domains, and every return-path domain in use."""
        return domain.lower() in self._own or self.is_return_path_domain(domain)

    def receiving_domains(self) -> frozenset[str]:
        """The domains whose mail comes to this box: those it takes reports for."""
        return frozenset(self._own) | self.snapshot.return_path_domains
