"""Retry delays: exponential with jitter, computed by tenacity's wait strategy."""

from tenacity import RetryCallState, Retrying, wait_exponential_jitter

_RETRYING = Retrying()


def retry_delay(attempt: int, initial: float, maximum: float) -> float:
    """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1)."""
    wait = wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)
    state = RetryCallState(retry_object=_RETRYING, fn=None, args=(), kwargs={})
    state.attempt_number = max(1, attempt)
    return float(wait(state))
