"""A PostgreSQL cluster of a test's own on a loopback port, which the test may stop and start
(the shared one at RELAY_TEST_DATABASE_URL must keep serving the rest of the suite)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.box import wait_for_port
from tests.support.sink import free_port


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


class PostgresServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True,
                       timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._as_postgres(str(_bin("pg_ctl")), "-D", str(self.folder / "data"), "-l",
                          str(self.folder / "log"), "-w", "-o", options, "start")
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        self._as_postgres(str(_bin("pg_ctl")), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    if os.geteuid() != 0 or _bin("initdb") is None or shutil.which("runuser") is None:
        pytest.skip("needs root and PostgreSQL's server binaries (postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="mailrelay-pg-", dir="/var/tmp"))
    postgres = pwd.getpwnam("postgres")
    os.chown(folder, postgres.pw_uid, postgres.pw_gid)
    server = PostgresServer(folder)
    try:
        server._as_postgres(str(_bin("initdb")), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres")
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
