"""The fault tests reuse the Telegram tests' fake Bot API fixture."""

from tests.telegram.conftest import fake_api

__all__ = ["fake_api"]
