"""Fixtures for the Telegram tests: the fake Bot API on loopback, and app settings that
point at it (public URL set, so new bots default to webhook mode; polling made fast)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.telegram.fake_bot_api import FakeBotApi


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


def telegram_settings(fake: FakeBotApi, **extra: Any) -> dict[str, Any]:
    return {
        "telegram_api_server": fake.url,
        "public_url": "https://chat.example.com",
        "telegram_poll_timeout_seconds": 1,
        "telegram_poll_lock_retry_seconds": 0.1,
        "telegram_poll_scan_seconds": 0.1,
        "telegram_poll_error_backoff_seconds": 0.05,
        "max_message_chars": 10000,
        **extra,
    }


@pytest.fixture
def settings_overrides(fake_api: FakeBotApi) -> dict[str, Any]:
    return telegram_settings(fake_api)
