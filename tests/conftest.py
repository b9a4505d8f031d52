from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sink import Sink


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    """The recording SMTP sink a box's Postfix delivers to (integration and browser tests)."""
    sink = Sink()
    sink.start()
    yield sink
    sink.stop()
