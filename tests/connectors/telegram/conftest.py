from tests.telegram.conftest import fake_api

__all__ = ["fake_api"]
