from collections.abc import AsyncIterator

import pytest

from tests.connectors.vk.fake_vk import FakeVk, serve_fake_vk


@pytest.fixture
async def vk() -> AsyncIterator[FakeVk]:
    async with serve_fake_vk() as fake:
        yield fake
