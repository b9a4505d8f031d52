from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.box import Box, running_box
from tests.support.sink import Sink


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module")
def box(sink: Sink) -> Iterator[Box]:
    with running_box(sink) as box:
        yield box
