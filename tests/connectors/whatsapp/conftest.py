from collections.abc import AsyncIterator

import pytest

from tests.whatsapp.fake_graph import FakeGraph, serve_fake_graph


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with serve_fake_graph() as fake:
        yield fake
