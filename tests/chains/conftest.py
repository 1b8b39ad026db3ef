"""The chain tests reuse the fake provider servers of tests/telegram and tests/whatsapp."""

from typing import Any

import pytest

from tests.telegram.conftest import fake_api, telegram_settings
from tests.telegram.fake_bot_api import FakeBotApi
from tests.whatsapp.conftest import graph

__all__ = ["fake_api", "graph"]


@pytest.fixture
def settings_overrides(fake_api: FakeBotApi) -> dict[str, Any]:
    # The dispatcher and the watchdog are driven by the tests themselves.
    return telegram_settings(fake_api, run_workers=False, dispatcher_batch_size=500)
