"""Fixtures for the VK tests: the fake VK of tests/connectors/vk on loopback, and app
settings that point at it (public URL set, so new communities default to callback mode;
Long Poll made fast)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.connectors.vk.fake_vk import FakeVk, serve_fake_vk


@pytest.fixture
async def vk() -> AsyncIterator[FakeVk]:
    async with serve_fake_vk() as fake:
        fake.lp_hold = 0.3  # an empty Long Poll answer is held, as VK does
        yield fake


def vk_settings(fake: FakeVk, **extra: Any) -> dict[str, Any]:
    return {
        "vk_api_base": fake.api_base,
        "vk_media_hosts": "127.0.0.1",
        "vk_timeout_seconds": 2.0,
        "public_url": "https://chat.example.com",
        "vk_poll_wait_seconds": 1,
        "vk_poll_lock_retry_seconds": 0.1,
        "vk_poll_scan_seconds": 0.1,
        "vk_poll_error_backoff_seconds": 0.05,
        **extra,
    }


@pytest.fixture
def settings_overrides(vk: FakeVk) -> dict[str, Any]:
    return vk_settings(vk)
