from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dns_server import LoopbackDns
from tests.support.sink import Sink


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    """The recording SMTP sink a box's Postfix delivers to (integration and browser tests)."""
    sink = Sink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def dns() -> Iterator[LoopbackDns]:
    """An authoritative DNS server on loopback, one per test module; records are added by the tests."""
    server = LoopbackDns()
    server.start()
    yield server
    server.stop()
